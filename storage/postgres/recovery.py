"""The tasks nodes leave running. :meth:`PostgresRecovery.recover`, called by every node
after each heartbeat, re-queues the running rows of dead nodes (or fails them as
``orphaned``) and gives back the claims not begun of nodes whose claim lease ran out, one
recoverer at a time (see the design notes of ``postgres.store``);
:meth:`PostgresRecovery.release` gives back a node's own at a graceful stop.
:class:`PostgresRecovery` is a part of :class:`storage.postgres.store.PostgresStore`,
which provides its connections and transactions (``_conn``, ``_write``, ``_errors``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from jobsched.core.task import ORPHANED_ATTEMPT_ERROR, RecoveryReport

from . import queries
from .upkeep import task_ids as _ids

log = logging.getLogger("jobsched.storage")


class PostgresRecovery:
    """The store's recovery and release (see the module's docstring)."""

    # Set by the store:
    stale_after: float
    _recovery_key: int

    def recover(self, node_id: str, now: float) -> RecoveryReport:
        """Re-queue the running rows of dead nodes (no heartbeat for ``stale_after``
        seconds on the server's clock, stopped, or never seen); fail as ``orphaned`` the
        ones whose attempts are used up. Then give back the rows not begun of nodes whose
        claim lease ran out (alive or not). One node at a time does it."""
        stale = self.stale_after
        with self._errors:
            conn = self._conn()
            dead_or_lapsed = (node_id, stale, node_id, stale, node_id, stale, stale)
            if not conn.execute(queries.ANY_DEAD, dead_or_lapsed).fetchone()[0]:  # type: ignore[index]
                return RecoveryReport()
            with conn.transaction():
                if not conn.execute(queries.TRY_RECOVERY_LOCK, (self._recovery_key,)).fetchone()[0]:  # type: ignore[index]
                    return RecoveryReport()  # another node is recovering right now
                rows = conn.execute(queries.LOCK_ORPHANS, (node_id, stale)).fetchall()
                ids = [row[0] for row in rows]
                owners = sorted({row[1] for row in rows if row[1] is not None})
                orphaned: list[int] = []
                requeued: list[int] = []
                if ids:
                    conn.execute(queries.UNDO_UNSTARTED, (ids,))
                    orphaned = [r[0] for r in conn.execute(queries.FAIL_ORPHANS, (now, ids))]
                    conn.execute(queries.KEEP_INTERRUPTED, (ORPHANED_ATTEMPT_ERROR, now, ids))
                    conn.execute(queries.TRIM_INTERRUPTED, (ids,))
                    requeued = [r[0] for r in conn.execute(queries.REQUEUE_ORPHANS, (ids,))]
                dead = conn.execute(queries.MARK_DEAD, (node_id, node_id, owners, stale)).fetchall()
                conn.execute(queries.PRUNE_NODES)
                lapsed = self._hand_back_lapsed(conn, node_id)
                requeued += [task_id for task_id, _ in lapsed]
                if requeued:
                    conn.execute(queries.NOTIFY)
        for dead_id, silent in dead:
            log.warning(
                "node %s: no heartbeat for %.1f s (stale after %g s); declared dead by %s",
                dead_id,
                silent,
                stale,
                node_id,
            )
        for owner in sorted({owner for _, owner in lapsed}):
            log.warning(
                "node %s: no heartbeat within its claim lease; %d tasks it had claimed and "
                "not begun were given back by %s",
                owner,
                sum(1 for _, of in lapsed if of == owner),
                node_id,
            )
        # The caller (the scheduler) logs what was recovered, for every store alike.
        return RecoveryReport(requeued=sorted(requeued), orphaned=sorted(orphaned))

    def _hand_back_lapsed(
        self, conn: psycopg.Connection[Any], node_id: str
    ) -> list[tuple[int, str]]:
        """In the recovery's transaction: queue again, attempt given back, the claimed
        rows not begun whose owner's claim lease ran out; (id, owner) of each."""
        stale = self.stale_after
        rows = conn.execute(queries.LOCK_LAPSED, (node_id, stale, stale)).fetchall()
        if not rows:
            return []
        owner_of = dict(rows)
        done = conn.execute(queries.HAND_BACK, (list(owner_of),)).fetchall()
        return [(row[0], owner_of[row[0]]) for row in done]

    def release(self, ids: Iterable[int], owner: str) -> int:
        """Give running tasks back (graceful stop): ``queued``, attempt undone."""
        todo = _ids(ids)
        if not todo:
            return 0
        with self._write() as conn:
            released = conn.execute(queries.RELEASE, (todo, owner)).rowcount
            if released:
                conn.execute(queries.NOTIFY)
        return released
