"""What the SQLite store does besides moving tasks: retention (deleting finished tasks in
batches), its task counters' check and repair, ``VACUUM``, the operator's settings, the
balancer's decisions, node heartbeats and diagnostics. :class:`SqliteUpkeep` is a part of
:class:`storage.sqlite.store.SqliteStore`, which provides its connections and
transactions (``_conn``, ``_read``, ``_write``, ``_locked``, ``_errors``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from jobsched.core.retention import PruneRule
from jobsched.core.store import CountDifference
from jobsched.core.task import TERMINAL, CategorySettings, NodeInfo

from .. import query_sql
from .. import rows as shapes
from . import nodelock, queries
from .tally import Tally

#: Balancer decisions kept in the database (older ones are deleted as new ones arrive).
DECISIONS_KEPT = 1000


class SqliteUpkeep:
    """The store's upkeep (see the module's docstring)."""

    _mark = "?"
    # Set by the store:
    path: str
    location: str
    read_only: bool
    _node_lock: Any

    # --- retention and counts ----------------------------------------------------------
    def prune(self, rule: PruneRule, limit: int, spare: Collection[int] = ()) -> int:
        """Delete one batch of finished tasks past ``rule`` (one short transaction). The
        pages they leave are reused by later writes, so the file stops growing;
        :meth:`vacuum` gives them back to the file system. A rule that matches nothing
        (most passes, for most states) costs a read, not a write transaction: the
        write lock is taken only to delete."""
        if rule.state not in TERMINAL or limit <= 0:
            return 0
        kept = (queries.SPARE_IDS, json.dumps(sorted(spare))) if spare else None
        if not self._read(*query_sql.prunable_any_sql(rule, self._mark, kept)):
            return 0
        sql, params = query_sql.prune_sql(rule, limit, self._mark, kept)
        with self._write() as conn:
            return self._delete_rows(conn, sql, params)

    def _delete_rows(self, conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
        """Run a DELETE of tasks, take its rows off the counters and delete their
        progress reports and earlier attempts."""
        rows = conn.execute(sql + queries.DELETED_ROWS, params).fetchall()
        Tally().added(((category, state) for _, category, state in rows), sign=-1).write(conn)
        shapes.delete_leftovers(conn, [row[0] for row in rows], queries)
        return len(rows)

    def compact_counts(self) -> None:
        """Nothing to fold: each write updates the totals in place (one writer)."""

    def check_counts(self, repair: bool = False) -> list[CountDifference]:
        """Counters against a full count; ``repair`` rebuilds them in one transaction."""
        differences = shapes.count_differences(self._read(queries.COUNTS_AND_SCAN))
        if differences and repair:
            with self._write() as conn:
                differences = shapes.count_differences(
                    conn.execute(queries.COUNTS_AND_SCAN).fetchall()
                )
                conn.execute(queries.CLEAR_COUNTS)
                conn.execute(queries.REFILL_COUNTS)
        return differences

    def vacuum(self) -> tuple[int, int]:
        """Rewrite the file without its free pages (SQLite ``VACUUM``); return its size in
        bytes before and after. Refused (:class:`NodeLockedError`) while a node runs on
        the file: VACUUM holds the write lock for as long as it copies the database."""
        with self._errors, nodelock.exclusive(self.path, self.location), self._locked():
            conn = self._conn()
            before = self._file_bytes(conn)
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return before, self._file_bytes(conn)

    @staticmethod
    def _file_bytes(conn: sqlite3.Connection) -> int:
        pages: int = conn.execute("PRAGMA page_count").fetchone()[0]
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        return pages * size

    # --- settings, decisions, nodes ----------------------------------------------------
    def save_settings(self, category: str, settings: CategorySettings) -> None:
        values = shapes.settings_values(category, settings)
        with self._write() as conn:
            conn.execute(queries.SAVE_SETTINGS, values)
            conn.execute(queries.BUMP_SETTINGS_VERSION)

    def request_rebalance(self) -> None:
        with self._write() as conn:
            conn.execute(queries.BUMP_SETTINGS_VERSION)

    def add_decision(self, at: float, decision: dict[str, Any]) -> None:
        body = json.dumps(decision, default=str)
        with self._write() as conn:
            newest = conn.execute(queries.ADD_DECISION, (at, body)).lastrowid
            if newest is not None and newest > DECISIONS_KEPT:
                conn.execute(queries.PRUNE_DECISIONS, (newest - DECISIONS_KEPT,))

    def heartbeat(self, node: NodeInfo) -> None:
        values = shapes.node_values(node)
        with self._write() as conn:
            conn.execute(queries.HEARTBEAT, values)

    # --- diagnostics -------------------------------------------------------------------
    def diagnostics(self) -> dict[str, Any]:
        """Facts about the open database for ``status`` and bug reports."""
        with self._errors:
            conn = self._conn()

            def pragma(name: str) -> Any:
                return conn.execute(f"PRAGMA {name}").fetchone()[0]

            return {
                "path": self.path,
                "sqlite_version": sqlite3.sqlite_version,
                "schema_version": pragma("user_version"),
                "journal_mode": pragma("journal_mode"),
                "synchronous": {0: "off", 1: "normal", 2: "full", 3: "extra"}.get(
                    pragma("synchronous"), "unknown"
                ),
                "busy_timeout_ms": pragma("busy_timeout"),
                "page_size": pragma("page_size"),
                "page_count": pragma("page_count"),
                "freelist_count": pragma("freelist_count"),
                "read_only": self.read_only,
                "node_lock": self._node_lock is not None,
            }
