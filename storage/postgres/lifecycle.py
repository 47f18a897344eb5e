"""Opening and closing the PostgreSQL store: the schema's check (created or upgraded as
needed), a node's registration, its advisory lock keys, the listener thread and the start
recorder (``postgres.threads``), each on a connection of its own.
:class:`PostgresLifecycle` is a part of :class:`storage.postgres.store.PostgresStore`,
which sets its attributes in ``__init__``."""

from __future__ import annotations

import os
import socket
from typing import Any

import psycopg
from jobsched.core.errors import SchedulerStateError, StoreReadOnlyError

from . import queries
from .connection import Database, PgSettings, connect_one
from .schema import (
    LOCK_COUNTS,
    LOCK_RECOVERY,
    LOCK_TICKS,
    current_schema,
    lock_key,
    prepare_schema,
)
from .threads import Listener, StartRecorder
from .watch import ListenWatch


class PostgresLifecycle:
    """The store's opening and closing (see the module's docstring)."""

    # Set by the store:
    settings: PgSettings
    location: str
    read_only: bool
    busy_timeout: float
    schema: str | None
    _errors: Any
    _db: Database | None
    _recovery_key: int
    _counts_key: int
    _ticks_seed: int
    _listener: Listener | None
    _starts: StartRecorder | None
    _watches: list[ListenWatch]

    def open(self, node_id: str | None = None) -> None:
        """Connect, check the schema (creating or upgrading it), and with ``node_id``
        register the node as alive from now on.

        Refuses, leaving the database untouched: an unreachable server, bad credentials,
        a missing database, another program's tables, a newer schema, and (for a node) a
        read-only store.
        """
        if self._db is not None:
            raise SchedulerStateError(
                "store", self.location, "is already open", "Close it before opening it again"
            )
        if node_id is not None and self.read_only:
            raise StoreReadOnlyError(
                "database",
                self.location,
                "is opened read-only, so a node cannot run on it",
                "Open it without mode=ro to run tasks",
            )
        db = Database(self.settings, self.busy_timeout)
        try:
            with self._errors:
                conn = db.usable_connection()
                schema = current_schema(conn, self.settings.schema, self.location)
                prepare_schema(conn, schema, self.location, read_only=self.read_only)
                if node_id is not None:
                    conn.execute(
                        queries.REGISTER_NODE, (node_id, socket.gethostname(), os.getpid())
                    )
        except BaseException:
            db.close_all()
            raise
        self.schema = schema
        self._recovery_key = lock_key(schema, LOCK_RECOVERY)
        self._counts_key = lock_key(schema, LOCK_COUNTS)
        self._ticks_seed = lock_key(schema, LOCK_TICKS)
        self._db = db
        self._listener = Listener(self._own_connection, self.location)
        self._starts = StartRecorder(self._own_connection)

    def _own_connection(self) -> psycopg.Connection[Any]:
        return connect_one(self.settings, self.busy_timeout)

    def close(self) -> None:
        """Stop the listener and close every connection. Idempotent."""
        db, self._db = self._db, None
        listener, self._listener = self._listener, None
        starts, self._starts = self._starts, None
        if listener is not None:
            listener.stop()
        if starts is not None:
            starts.close()
        watches, self._watches = self._watches, []
        for watch in watches:
            watch.close()
        if db is not None:
            with self._errors:
                db.close_all()
