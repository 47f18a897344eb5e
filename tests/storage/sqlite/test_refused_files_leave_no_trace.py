"""A database the store refuses (another program's, a newer schema, a corrupt file) is
refused before anything is created beside it: no ``-wal``, ``-shm`` or lock file."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from jobsched.core.errors import StorageError
from jobsched.storage import APPLICATION_ID, SqliteStore


def _wal_file(path: Path, application_id: int, user_version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("CREATE TABLE t (x)")
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()  # the last connection: SQLite checkpoints and deletes -wal and -shm


def foreign(path: Path) -> None:
    _wal_file(path, 0x1234, 0)


def newer(path: Path) -> None:
    _wal_file(path, APPLICATION_ID, 99)


def corrupt(path: Path) -> None:
    # A SQLite header that says WAL (bytes 18-19 = 2), then noise
    path.write_bytes(b"SQLite format 3\x00\x10\x00\x02\x02" + os.urandom(8192))


KINDS: list[Callable[[Path], None]] = [foreign, newer, corrupt]


@pytest.mark.parametrize("node_id", ["node-a", None], ids=["node", "reader"])
@pytest.mark.parametrize("make", KINDS, ids=[k.__name__ for k in KINDS])
def test_a_refused_database_leaves_its_directory_unchanged(
    tmp_path: Path, make: Callable[[Path], None], node_id: str | None
) -> None:
    # Given a file the store must refuse
    path = tmp_path / "jobs.db"
    make(path)
    before = sorted(os.listdir(tmp_path))
    data = path.read_bytes()
    # When a node (or a reader) opens it
    store = SqliteStore(path)
    with pytest.raises(StorageError) as caught:
        store.open(node_id)
    # Then it is refused with exit 3 and nothing was created or written
    assert caught.value.exit_code == 3
    assert sorted(os.listdir(tmp_path)) == before == ["jobs.db"]
    assert path.read_bytes() == data
