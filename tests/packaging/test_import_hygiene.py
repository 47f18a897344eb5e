"""Given a fresh interpreter, when a part of jobsched is imported, then only what that part
may use loads: the engine the standard library, the stores the engine and Peewee, never the
console; and the imports of every module point one way (console -> storage -> core)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"core": 0, "storage": 1, "console": 2}


def _modules_after(statement: str, cwd: Path = ROOT) -> dict[str, str | None]:
    code = (
        "import sys, json\n"
        f"{statement}\n"
        "print(json.dumps({n: getattr(m, '__file__', None) for n, m in list(sys.modules.items())}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    )
    return json.loads(out.stdout)


def test_core_imports_only_the_standard_library() -> None:
    baseline = _modules_after("pass")  # what the interpreter and site load anyway
    modules = _modules_after("import jobsched.core")
    stdlib = set(sys.stdlib_module_names)
    foreign = sorted(
        name
        for name in set(modules) - set(baseline)
        if name.split(".")[0] not in stdlib and name.split(".")[0] != "jobsched"
    )
    assert foreign == [], f"jobsched.core pulled in non-stdlib modules: {foreign}"
    for banned in ("jobsched.storage", "jobsched.console", "peewee", "textual", "rich"):
        assert banned not in modules


def test_storage_never_loads_the_console() -> None:
    modules = _modules_after("import jobsched.storage")
    for banned in ("jobsched.console", "jobsched.demo", "textual", "typer", "rich"):
        assert banned not in modules, f"jobsched.storage pulled in {banned}"


def test_the_public_api_is_importable_from_the_top() -> None:
    modules = _modules_after(
        "from jobsched import Scheduler, SchedulerConfig, CategoryConfig, open_store,"
        " handler, current_task, Client"
    )
    assert "jobsched.console" not in modules


def _imported_layers(path: Path) -> set[str]:
    """The jobsched layers a module imports, absolute or relative."""
    package = path.relative_to(ROOT).parts[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(package)
                continue
            names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "jobsched" and len(parts) > 1:
                found.add(parts[1])
            elif parts[0] in LAYERS:
                found.add(parts[0])  # an import of a bare top-level name: wrong
    return found


def test_imports_point_one_way() -> None:
    wrong = []
    for package, rank in LAYERS.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for layer in _imported_layers(path):
                if layer in LAYERS and LAYERS[layer] > rank:
                    wrong.append(f"{path.relative_to(ROOT)} imports {layer}")
    assert wrong == []


def test_no_module_imports_the_bare_top_level_names() -> None:
    """Every import goes through `jobsched.`; a bare `import core` would pick up a user's."""
    wrong = []
    for package in (*LAYERS, "demo", "tests", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and not node.level:
                    top = (node.module or "").split(".")[0]
                elif isinstance(node, ast.Import):
                    top = node.names[0].name.split(".")[0]
                else:
                    continue
                if top in (*LAYERS, "demo"):
                    wrong.append(f"{path.relative_to(ROOT)}: {top}")
    assert wrong == []


def test_a_project_with_its_own_core_storage_and_console_imports_both(tmp_path: Path) -> None:
    """Given a user's project with packages named core, storage and console, when it imports
    them and jobsched side by side, then each name resolves to its own code."""
    for name in ("core", "storage", "console"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"WHO = 'user {name}'\n")
    modules = _modules_after(
        "import core, storage, console\n"
        "assert (core.WHO, storage.WHO, console.WHO) == ('user core', 'user storage', 'user console')\n"
        "from jobsched import Scheduler, open_store\n"
        "import jobsched.console.cli\n"
        "import core as again\n"
        "assert again.WHO == 'user core'",
        cwd=tmp_path,
    )
    for name in ("core", "storage", "console"):
        assert Path(modules[name] or "").parent.parent == tmp_path
    assert Path(modules["jobsched.core"] or "").parent != tmp_path / "core"
