"""Opening and closing the SQLite store: the file's checks (missing directory, foreign,
empty, corrupt, newer or read-only file), its creation or upgrade, the node lock (one node
per file, see ``storage.nodelock``), the probe that it is writable, and the start journal.
:class:`SqliteLifecycle` is a part of :class:`storage.sqlite.store.SqliteStore`, which
sets its attributes in ``__init__`` and provides ``_locked``."""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any

from jobsched.core.errors import SchedulerStateError, StoreMissingError, StoreReadOnlyError

from . import nodelock, queries
from .backups import remove_partial_backups
from .connection import Database, check_sqlite_version, connect
from .nodelock import NodeLock
from .schema import (
    FileState,
    create_file,
    inspect_file,
    schema_version,
    upgrade_file,
)
from .startlog import StartJournal
from .watch import DataVersionWatch

log = logging.getLogger("jobsched.storage")


class SqliteLifecycle:
    """The store's opening and closing (see the module's docstring)."""

    # Set by the store:
    location: str
    path: str
    read_only: bool
    durability: str
    busy_timeout: float
    _pragmas: dict[str, object]
    _errors: Any
    _db: Database | None
    _node_lock: NodeLock | None
    _file_key: tuple[int, int] | None
    _journal: StartJournal | None
    _watches: list[DataVersionWatch]

    def open(self, node_id: str | None = None) -> None:
        """Connect and check the file; with ``node_id``, also take the node lock.

        Refuses, leaving the file untouched: a missing directory, a foreign, empty,
        corrupt or newer file, a second node, and (for a node) a read-only database.
        """
        if self._db is not None:
            raise SchedulerStateError(
                "store", self.location, "is already open", "Close it before opening it again"
            )
        check_sqlite_version()
        with self._errors:
            state = self._inspect(node_id)
            if not state.exists:
                state = self._create()
            key = nodelock.use(self.path)
            lock = None
            try:
                if node_id is not None:
                    lock = NodeLock(self.path, self.location).acquire(key)
                db = self._connect(state, probe=node_id is not None)
            except BaseException:
                if lock is not None:
                    lock.release()
                nodelock.unuse(key)
                raise
        self._db = db
        self._file_key = key
        self._node_lock = lock
        if lock is not None:
            self._journal = StartJournal(self.path + ".starts")
            for name in remove_partial_backups(self.path):
                log.warning("removed %s, a backup copy left half-written", name)

    def _inspect(self, node_id: str | None) -> FileState:
        """Everything that can be refused without writing anything, checked first."""
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise StoreMissingError(
                "database directory",
                directory,
                "does not exist",
                "Create it, or choose a --db path in an existing directory",
            )
        state = inspect_file(self.path, self.location, self.busy_timeout)
        if self.read_only:
            self._check_read_only(state, node_id)
        return state

    def _connect(self, state: FileState, probe: bool) -> Database:
        """Upgrade the file as needed; with ``probe``, check it is writable."""
        db = connect(
            self.path,
            read_only=self.read_only,
            durability=self.durability,
            busy_timeout=self.busy_timeout,
            pragmas=self._pragmas,
        )
        try:
            with self._locked():
                db.connect()
                if state.version < schema_version():
                    upgrade_file(db, self.path, self.location, state)
                if probe:
                    self._probe_writable(db.connection())
        except BaseException:
            db.close_all()
            raise
        return db

    def _create(self) -> FileState:
        """Build the missing file (before the node lock: the lock lives on the file)."""
        if create_file(self.path, self.location, self.busy_timeout):
            return FileState(exists=True, version=schema_version())
        # another process created it first
        return inspect_file(self.path, self.location, self.busy_timeout)

    def _check_read_only(self, state: FileState, node_id: str | None) -> None:
        if node_id is not None:
            raise StoreReadOnlyError(
                "database",
                self.location,
                "is opened read-only, so a node cannot run on it",
                "Open it without ?mode=ro to run tasks",
            )
        if not state.exists:
            raise StoreMissingError(
                "database", self.location, "does not exist", "Check the --db path"
            )
        if state.version < schema_version():
            raise StoreReadOnlyError(
                "database",
                self.location,
                f"has schema v{state.version} and needs an upgrade, but is opened read-only",
                "Open it once without ?mode=ro to upgrade it",
            )

    def _probe_writable(self, conn: sqlite3.Connection) -> None:
        """Fail now, not at the first submit, on a read-only or long-locked database."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(queries.PROBE_WRITE)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close every thread's connection and release the node lock. Idempotent."""
        db, self._db = self._db, None
        lock, self._node_lock = self._node_lock, None
        journal, self._journal = self._journal, None
        key, self._file_key = self._file_key, None
        if journal is not None:
            journal.close()
        watches, self._watches = self._watches, []
        for watch in watches:
            watch.close()
        try:
            if db is not None:
                with self._errors:
                    db.close_all()
        finally:
            if lock is not None:
                lock.release()
            if key is not None:
                nodelock.unuse(key)  # after the last connection: see storage.nodelock
