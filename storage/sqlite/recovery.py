"""The tasks a node leaves running: :meth:`SqliteRecovery.recover` takes back a dead node's
at start (the start journal, ``sqlite.startlog``, tells which runs began) and
:meth:`SqliteRecovery.release` gives back the node's own at a graceful stop.
:class:`SqliteRecovery` is a part of :class:`storage.sqlite.store.SqliteStore`, which
provides its transactions (``_write``), node lock and start journal."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jobsched.core.errors import SchedulerStateError
from jobsched.core.task import (
    FAILED,
    ORPHANED_ATTEMPT_ERROR,
    QUEUED,
    REASON_ORPHANED,
    RUNNING,
    AttemptError,
    RecoveryReport,
)

from .. import rows as shapes
from . import queries
from .startlog import StartJournal
from .tally import Tally

log = logging.getLogger("jobsched.storage")


class SqliteRecovery:
    """The store's recovery and release (see the module's docstring)."""

    _mark = "?"
    # Set by the store:
    location: str
    _node_lock: Any
    _journal: StartJournal | None

    def recover(self, node_id: str, now: float) -> RecoveryReport:
        """Every ``running`` row not owned by ``node_id`` is an orphan: one node runs on
        a SQLite file, so its owner has died (and every other node row is marked stopped). Called once at start, before claiming,
        and only by the node holding the lock: anyone else could take a live node's
        tasks."""
        if self._node_lock is None or not self._node_lock.held:
            raise SchedulerStateError(
                "store",
                self.location,
                "is not open as a node, so it cannot recover tasks",
                "Open it with a node id (store.open(node_id)) first",
            )
        started = self._journal.read() if self._journal is not None else None
        with self._write() as conn:
            # A task claimed into the dead node's FIFO that never started gets its
            # attempt back; only runs that really began count toward `orphaned`. With no
            # journal, no run counts as begun: a waiting task must never end orphaned.
            unstarted = [
                (task_id, attempts)
                for task_id, attempts in conn.execute(queries.ORPHANS, (node_id,)).fetchall()
                if started is None or (task_id, attempts) not in started
            ]
            if started is None and unstarted:
                log.warning(
                    "no start journal (%s.starts): counting none of %d interrupted runs as begun",
                    self.location,
                    len(unstarted),
                )
            conn.executemany(queries.UNDO_UNSTARTED, unstarted)
            tally = Tally()
            orphaned = []
            for task_id, category in conn.execute(queries.FAIL_ORPHANS, (now, node_id)).fetchall():
                orphaned.append(task_id)
                tally.move(category, RUNNING, FAILED)
            requeued = []
            interrupted: list[tuple[int, AttemptError]] = []  # runs that began: attempts
            given_back = {task_id for task_id, _ in unstarted}
            rows = conn.execute(queries.REQUEUE_ORPHANS, (node_id,)).fetchall()
            for task_id, category, attempt in rows:
                requeued.append(task_id)
                tally.move(category, RUNNING, QUEUED)
                if task_id not in given_back and attempt > 0:
                    ended = AttemptError(attempt, ORPHANED_ATTEMPT_ERROR, REASON_ORPHANED, now)
                    interrupted.append((task_id, ended))
            shapes.keep_attempts(conn, interrupted, self._mark)
            tally.write(conn)
            # Their nodes are gone too: `status` must not count a killed node's workers.
            conn.execute(queries.STOP_OTHER_NODES, (node_id,))
        if self._journal is not None:
            try:
                self._journal.reset()
            except OSError as exc:  # e.g. a full disk: starts are journaled once there is room
                log.warning("could not start a new journal of task starts (%s)", exc)
        # The caller (the scheduler) logs what was recovered, for every store alike.
        return RecoveryReport(requeued=sorted(requeued), orphaned=sorted(orphaned))

    def release(self, ids: Iterable[int], owner: str) -> int:
        """Give running tasks back (graceful stop): ``queued``, attempt undone."""
        ids = list(ids)
        tally = Tally()
        with self._write() as conn:
            for task_id in ids:
                for (category,) in conn.execute(queries.RELEASE, (task_id, owner)).fetchall():
                    tally.move(category, RUNNING, QUEUED)
            tally.write(conn)
        released = sum(n for n in tally.changes.values() if n > 0)
        if self._journal is not None:
            self._journal.forget(ids)
        return released
