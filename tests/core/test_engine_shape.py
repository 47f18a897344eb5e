"""The engine's shape, checked: small modules and functions in core/, and tests that
drive the engine through its public steps and state, never its private attributes."""

from __future__ import annotations

import ast
from pathlib import Path

import jobsched.core

CORE = Path(jobsched.core.__file__).parent
TESTS = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

#: Private attributes tests may read, and why: none of them belongs to the engine.
ALLOWED_PRIVATE = {
    "_conn": "a Peewee store's per-thread connection (storage, not the engine)",
    "_http": "the demo's HTTP server (demo, not the engine)",
    "_exit": "os._exit, a process's end without cleanup (the standard library)",
    "_compositor": "Textual's screen compositor, to read the rendered rows (the UI library)",
    "_driver": "Textual's driver, to feed a burst of keys as one read (the UI library)",
    "_replace": "a named tuple's public copy-with-changes method (the standard library)",
    "_skipped_items_match_name": "syrupy's snapshot report, to list unused snapshots under"
    " xdist (the snapshot library)",
}


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [node for node in ast.walk(tree) if isinstance(node, kinds)]


def test_no_core_module_is_over_the_size_limit() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in CORE.glob("*.py")}
    assert sizes, f"no module found in {CORE}"
    assert {n: s for n, s in sizes.items() if s > MAX_MODULE_LINES} == {}


def test_no_core_function_is_over_the_size_limit() -> None:
    long = {}
    for path in CORE.glob("*.py"):
        for fn in functions(ast.parse(path.read_text())):
            lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                long[f"{path.name}:{fn.name}"] = lines
    assert long == {}


def private_accesses(source: str) -> list[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()``: a reach into
    another object's private state (dunder names are not private)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
            continue
        found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_private_attribute_access() -> None:
    source = "sched._claimed.clear()\nself._lock\nsuper()._x\nsched.__class__\nsched.pools\n"
    assert private_accesses(source) == [(1, "sched._claimed")]


def test_no_test_touches_a_private_attribute() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for line, text in private_accesses(path.read_text()):
            if text.rsplit(".", 1)[1] not in ALLOWED_PRIVATE:
                found.append(f"{path.relative_to(TESTS)}:{line}: {text}")
    assert found == []
