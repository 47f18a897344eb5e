"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jobsched.core import MemoryStore, TaskStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskStore]:
    """An unopened store of each kind: memory, a SQLite file, a PostgreSQL schema."""
    if request.param == "memory":
        yield MemoryStore()
        return
    from jobsched.storage import open_store

    if request.param == "sqlite":
        yield open_store(str(tmp_path / "jobs.db"))
    else:
        url, _ = request.getfixturevalue("pg_schema")
        yield open_store(url)
