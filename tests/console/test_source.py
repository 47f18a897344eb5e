"""The console's seam: the local node, the attached view and the tests' failing source
each implement the whole :class:`~console.source.Source`, with its signatures and types;
the app uses nothing else (no store, no ``getattr``)."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from jobsched.console.local import LocalNode
from jobsched.console.source import Source
from jobsched.console.view import AttachedView
from jobsched.core import Client

from .app_support import FailingSource, build_scheduler

REPO = Path(__file__).resolve().parents[2]
MEMBERS = sorted(n for n in vars(Source) if not n.startswith("_"))


def typed_sources(node: LocalNode, view: AttachedView, fake: FailingSource) -> list[Source]:
    """What mypy checks (see the last test): each one is a Source as far as types go."""
    return [node, view, fake]


@pytest.fixture
def sources() -> Iterator[list[Source]]:
    sched, clock = build_scheduler()
    node = LocalNode(sched)
    yield typed_sources(node, AttachedView(Client(sched.config, sched.store, clock=clock)),
                        FailingSource(node))  # fmt: skip
    sched.stop(grace=0)


def _hints(member: Any) -> dict[str, Any]:
    fn = member.fget if isinstance(member, property) else member
    return get_type_hints(fn)


def test_the_interface_covers_what_the_console_does() -> None:
    for name in ("snapshot", "list_tasks", "get", "nodes", "stop", "state", "clock", "config"):
        assert name in MEMBERS, name
    for name in ("set_priority", "set_paused", "pin", "rebalance", "inject", "cancel", "retry"):
        assert name in MEMBERS, name


@pytest.mark.parametrize("index", [0, 1, 2], ids=["local node", "attached view", "failing"])
def test_every_source_has_every_member_with_the_protocols_signature(
    sources: list[Source], index: int
) -> None:
    source = sources[index]
    # Given the runtime check, which looks only at the names
    assert isinstance(source, Source)
    for name in MEMBERS:
        wanted = inspect.getattr_static(Source, name)
        got = inspect.getattr_static(type(source), name)
        # Then each member is the same kind (property or method) ...
        assert isinstance(got, property) == isinstance(wanted, property), name
        # ... takes the same parameters with the same defaults ...
        if not isinstance(wanted, property):
            assert inspect.signature(got) == inspect.signature(wanted), name
        # ... and declares the same types.
        assert _hints(got) == _hints(wanted), name


def test_a_class_missing_one_member_is_not_a_source() -> None:
    sched, _ = build_scheduler()
    try:
        # Given a class with LocalNode's constructor and members, and one without stop
        def copy(*left_out: str) -> Any:
            members = {
                n: inspect.getattr_static(LocalNode, n) for n in MEMBERS if n not in left_out
            }
            return type("Copy", (), {"__init__": LocalNode.__init__, **members})(sched)

        # Then the whole copy passes for a Source and the one without stop does not
        assert isinstance(copy(), Source)
        assert not isinstance(copy("stop"), Source)
    finally:
        sched.stop(grace=0)


def _reaches_past_the_seam(path: Path) -> list[str]:
    """``getattr``/``hasattr`` calls and ``.store`` attributes in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr"):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node.func)}()")
        if isinstance(node, ast.Attribute) and node.attr == "store":
            found.append(f"{path.name}:{node.lineno} .store")
    return found


def test_the_app_screens_widgets_and_commands_use_the_seam_only() -> None:
    console = REPO / "console"
    modules = [console / n for n in ("app.py", "compose.py", "cli.py", "reports.py",
                                     "operations.py", "local.py", "source.py")]  # fmt: skip
    for folder in ("commands", "screens", "widgets"):
        modules += sorted((console / folder).glob("*.py"))
    assert [f for path in modules for f in _reaches_past_the_seam(path)] == []


@pytest.mark.slow(seconds=8)
def test_the_sources_type_check_against_the_protocol(tmp_path: Path) -> None:
    """mypy --strict on the seam, the two sources and this file (typed_sources above)."""
    pytest.importorskip("mypy")
    # mypy does not follow the package-dir mapping of the editable install: lay the
    # repository's folders out under the import name, as the installed package has them.
    tree = tmp_path / "tree"
    (tree / "jobsched").mkdir(parents=True)
    (tree / "jobsched" / "__init__.py").write_text(
        (REPO / "jobsched" / "__init__.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for folder in ("core", "storage", "console", "demo"):
        (tree / "jobsched" / folder).symlink_to(REPO / folder, target_is_directory=True)
    (tree / "tests").symlink_to(REPO / "tests", target_is_directory=True)
    files = [f"jobsched/console/{n}.py" for n in ("source", "local", "view")]
    files.append("tests/console/test_source.py")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), *files],
        cwd=tree, capture_output=True, text=True, timeout=50,
        env={**os.environ, "MYPYPATH": str(tree)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
