"""docs/architecture.md stays true: it names every module of the engine, and every module
it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_engine_module_is_described() -> None:
    modules = {p.name for p in (ROOT / "core").glob("*.py")} - {"__init__.py"}
    named = set(re.findall(r"`(\w+\.py)`", DOC))
    assert sorted(modules - named) == []


def test_every_path_it_names_exists() -> None:
    for path in re.findall(r"`((?:core|storage|console|tests|bench)/[\w/.]+)`", DOC):
        assert (ROOT / path.rstrip("/")).exists(), path
