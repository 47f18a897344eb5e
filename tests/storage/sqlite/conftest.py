"""Fixtures for the SQLite store: always a real file under ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jobsched.storage import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def make_store(db_path: Path) -> Iterator[Callable[..., SqliteStore]]:
    """Build stores on ``db_path`` (or another path); every one is closed afterwards."""
    made: list[SqliteStore] = []

    def make(path: Path | str | None = None, **options: object) -> SqliteStore:
        store = SqliteStore(path if path is not None else db_path, **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
