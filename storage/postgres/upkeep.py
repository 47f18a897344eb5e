"""What the PostgreSQL store does besides moving tasks: retention (deleting finished tasks
in batches), folding and checking its task counters, the operator's settings (announced
with ``NOTIFY``), the balancer's decisions, node heartbeats (warning a node that others
declared dead) and diagnostics. :class:`PostgresUpkeep` is a part of
:class:`storage.postgres.store.PostgresStore`, which provides its connections and
transactions (``_conn``, ``_read``, ``_write``, ``_errors``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from typing import Any

from jobsched.core.retention import PruneRule
from jobsched.core.store import CountDifference
from jobsched.core.task import TERMINAL, CategorySettings, NodeInfo

from .. import query_sql
from .. import rows as shapes
from . import queries

log = logging.getLogger("jobsched.storage")

#: Balancer decisions kept in the database (older ones are deleted as new ones arrive).
DECISIONS_KEPT = 1000
_BIGINT = 1 << 63


def task_ids(values: Iterable[int]) -> list[int]:
    """Task ids that can exist (a bigint); others are simply not found."""
    return [v for v in values if -_BIGINT <= v < _BIGINT]


class PostgresUpkeep:
    """The store's upkeep (see the module's docstring)."""

    _mark = "%s"
    # Set by the store:
    location: str
    schema: str
    read_only: bool
    stale_after: float
    _counts_key: int
    _warned_recovered: dict[str, Any]  # a node's id -> the recovery last warned about

    # --- retention and counts ----------------------------------------------------------
    def prune(self, rule: PruneRule, limit: int, spare: Collection[int] = ()) -> int:
        """Delete one batch of finished tasks past ``rule``, with their progress reports
        and earlier attempts (one short transaction)."""
        if rule.state not in TERMINAL or limit <= 0:
            return 0
        kept = (queries.SPARE_IDS, task_ids(spare)) if spare else None
        sql, params = query_sql.prune_sql(rule, limit, self._mark, kept)
        with self._write() as conn:
            return self._delete_rows(conn, sql, params)

    def compact_counts(self) -> None:
        """Fold ``task_count_deltas`` into ``task_counts``; skipped while another process
        folds (it does the same work)."""
        if not self._read(queries.ANY_DELTAS)[0][0]:
            return
        with self._write() as conn:
            if conn.execute(queries.TRY_RECOVERY_LOCK, (self._counts_key,)).fetchone()[0]:  # type: ignore[index]
                conn.execute(queries.FOLD_COUNTS)

    def check_counts(self, repair: bool = False) -> list[CountDifference]:
        """Counters against a full count; ``repair`` rebuilds them with writers held off."""
        differences = shapes.count_differences(self._read(queries.COUNTS_AND_SCAN))
        if differences and repair:
            with self._write() as conn:
                conn.execute(queries.LOCK_TASKS_FOR_REPAIR)
                differences = shapes.count_differences(
                    conn.execute(queries.COUNTS_AND_SCAN).fetchall()
                )
                conn.execute(queries.CLEAR_DELTAS)
                conn.execute(queries.CLEAR_COUNTS)
                conn.execute(queries.REFILL_COUNTS)
        return differences

    # --- settings, decisions, nodes ----------------------------------------------------
    def save_settings(self, category: str, settings: CategorySettings) -> None:
        """Store and announce: every node reloads at its next poll (or notification)."""
        values = shapes.settings_values(category, settings)
        with self._write() as conn:
            conn.execute(queries.SAVE_SETTINGS, values)
            conn.execute(queries.BUMP_SETTINGS_VERSION)
            conn.execute(queries.NOTIFY)

    def request_rebalance(self) -> None:
        with self._write() as conn:
            conn.execute(queries.BUMP_SETTINGS_VERSION)
            conn.execute(queries.NOTIFY)

    def add_decision(self, at: float, decision: dict[str, Any]) -> None:
        body = json.dumps(decision, default=str)
        with self._write() as conn:
            newest = conn.execute(queries.ADD_DECISION, (at, body)).fetchone()[0]  # type: ignore[index]
            if newest > DECISIONS_KEPT:
                conn.execute(queries.PRUNE_DECISIONS, (newest - DECISIONS_KEPT,))

    def heartbeat(self, node: NodeInfo) -> None:
        """Upsert the node's row (with its claim lease); the server stamps ``seen_at``
        with its own clock."""
        values = (*shapes.node_values(node), node.claim_lease)
        recovered, by = self._read(queries.HEARTBEAT, values)[0]
        if recovered is not None and self._warned_recovered.get(node.node_id) != recovered:
            self._warned_recovered[node.node_id] = recovered
            log.error(
                "node %s was declared dead by %s (no heartbeat for %g s) and its running "
                "tasks were given to other nodes; their outcomes from this node are "
                "discarded, and tasks it still runs may run twice. Check for long pauses "
                "(swap, a stopped process, a slow database) or raise stale_after",
                node.node_id,
                by,
                self.stale_after,
            )

    # --- diagnostics -------------------------------------------------------------------
    def diagnostics(self) -> dict[str, Any]:
        """Facts about the open database for ``status`` and bug reports."""
        with self._errors:
            conn = self._conn()
            version = conn.execute("SHOW server_version").fetchone()
            meta = conn.execute("SELECT schema_version FROM jobsched_meta WHERE id = 1").fetchone()
        return {
            "url": self.location,
            "server_version": version[0] if version else None,
            "schema": self.schema,
            "schema_version": meta[0] if meta else None,
            "stale_after": self.stale_after,
            "read_only": self.read_only,
        }
