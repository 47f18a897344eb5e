"""SQLite set-up, in one place: every connection a store makes comes from :func:`connect`.

- WAL journal: readers never block the writer, and other processes' commits are visible
  to the next read (the node polls every ~100 ms).
- ``synchronous = NORMAL`` (``durability="full"``: FULL, for power-loss safety).
- A busy timeout, so a short lock held by another process is waited out, not failed.
- Per-thread connections (Peewee's SqliteDatabase keeps one per thread), opened
  explicitly (``autoconnect=False``), all closed together by :meth:`Database.close_all`.
- One in-process write lock per database file (:func:`write_lock`): the store holds it
  around every ``BEGIN IMMEDIATE`` transaction, so its threads queue on a Python lock
  instead of meeting "database is locked".
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import peewee as pw
from jobsched.core.errors import StoreUnavailableError

DURABILITY = {"normal": "NORMAL", "full": "FULL"}
#: The claim is one ``UPDATE ... RETURNING``, which SQLite has since 3.35.
MIN_SQLITE = (3, 35, 0)


def check_sqlite_version() -> None:
    """Refuse early, with a clear message, on a SQLite library too old for the store."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreUnavailableError(
            "SQLite library",
            sqlite3.sqlite_version,
            f"is older than {'.'.join(map(str, MIN_SQLITE))}, which jobsched needs",
            "Use a Python built with a newer SQLite",
        )


class _Connection(sqlite3.Connection):
    """A sqlite3 connection that can be weakly referenced (the base class cannot)."""


class Database(pw.SqliteDatabase):
    """Peewee's SQLite database, remembering every thread's connection so that
    :meth:`close_all` can close them (Peewee itself only closes the calling thread's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._all: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._all_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._connect()
        with self._all_lock:
            self._all.add(conn)
        return conn

    def close_all(self) -> None:
        with self._all_lock:
            conns = list(self._all)
            self._all.clear()
        for conn in conns:
            conn.close()  # check_same_thread=False: any thread may close


def sqlite_uri(path: str, mode: str) -> str:
    """A ``file:`` URI for ``path`` (``mode``: ro, rw or rwc), safe for any file name."""
    return f"file:{quote(path)}?mode={mode}"


def connect(
    path: str,
    *,
    read_only: bool = False,
    durability: str = "normal",
    busy_timeout: float = 5.0,
    pragmas: Mapping[str, object] | None = None,
) -> Database:
    """A database handle for an existing file; connections open per thread on first use.

    The file must exist (``mode=rw``): creating a database is :func:`schema.create_file`'s
    job, so that a half-made file is never left under the real name. ``pragmas`` are
    applied after the defaults on every connection (e.g. ``max_page_count``).
    """
    settings: list[tuple[str, object]] = [
        ("busy_timeout", int(busy_timeout * 1000)),
        ("synchronous", DURABILITY[durability]),
        ("foreign_keys", 1),
    ]
    if not read_only:
        # Persistent in the file; a no-op once set. A read-only handle cannot change it.
        settings.insert(0, ("journal_mode", "wal"))
    settings.extend((pragmas or {}).items())
    return Database(
        sqlite_uri(os.path.abspath(path), "ro" if read_only else "rw"),
        pragmas=settings,
        timeout=busy_timeout,
        uri=True,
        check_same_thread=False,
        factory=_Connection,
        autoconnect=False,
    )


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def write_lock(path: str) -> threading.Lock:
    """The process-wide write lock of the database at ``path`` (shared by all its stores)."""
    key = os.path.realpath(path)
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())
