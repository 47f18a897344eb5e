"""Given a fresh interpreter, when `core` is imported, then only the standard library loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(statement: str) -> dict[str, str | None]:
    code = (
        "import sys, json\n"
        f"{statement}\n"
        "print(json.dumps({n: getattr(m, '__file__', None) for n, m in list(sys.modules.items())}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout)


def test_core_imports_only_the_standard_library() -> None:
    baseline = _modules_after("pass")  # what the interpreter and site load anyway
    modules = _modules_after("import core")
    stdlib = set(sys.stdlib_module_names)
    foreign = sorted(
        name
        for name in set(modules) - set(baseline)
        if name.split(".")[0] not in stdlib and name.split(".")[0] != "core"
    )
    assert foreign == [], f"core pulled in non-stdlib modules: {foreign}"
    for banned in ("textual", "rich", "typer", "peewee", "storage", "console"):
        assert banned not in modules


def test_generic_top_level_names_resolve_to_this_project() -> None:
    modules = _modules_after("import core, storage, console")
    for name in ("core", "storage", "console"):
        path = Path(modules[name] or "")
        assert path.parent.parent == ROOT, f"{name} resolved to {path}, not to this project"


def test_storage_imports_point_one_way() -> None:
    """storage may use core, never console (nor the console's libraries)."""
    modules = _modules_after("import storage")
    for banned in ("console", "textual", "typer", "demo"):
        assert banned not in modules, f"storage pulled in {banned}"
