"""How the parts of a node reach each other.

:class:`EngineLink` is what the node's :class:`~.client.Client` tells (its
:class:`~.engine_hooks.EngineHooks`) and what the worker pools tell (their
:class:`~.pool.AttemptEvents`); it forwards each event to the unit that owns the state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from .pool import WorkerPool
from .store import CANCEL_DONE, CANCEL_REQUESTED
from .task import NewTask, Outcome, TaskRecord

if TYPE_CHECKING:
    from .scheduler import Scheduler

log = logging.getLogger("jobsched")


class EngineLink:
    def __init__(self, sched: Scheduler) -> None:
        self._sched = sched

    # --- what the client tells -------------------------------------------------------
    def insert_direct(self, rows: Sequence[NewTask]) -> list[int] | None:
        sched = self._sched
        if sched.state != "running":
            return None
        return sched.dispatcher.insert_direct(rows)

    def insert_queued(
        self, rows: Sequence[NewTask], now: float, write: Callable[[], list[int]]
    ) -> list[int]:
        sched = self._sched
        if sched.state != "running" or not sched.hooks.active:
            ids = write()
            sched.signals.submitted(rows, ids, now)
            return ids
        # Hooks see `submitted` before `started`: no claim runs between the insert and
        # the event (claims hold the claim lock). Only with hooks: it costs.
        with sched.dispatcher.claim_lock:
            ids = write()
            sched.signals.submitted(rows, ids, now)
        return ids

    def tasks_inserted(self, rows: Sequence[NewTask], now: float) -> None:
        sched = self._sched
        if sched.state == "running":  # else stopped meanwhile: the next start finds them
            sched.dispatcher.tasks_inserted(rows, now)

    def tasks_requeued(self) -> None:
        sched = self._sched
        if sched.state == "running":
            pools = set(sched.pools)
            sched.dispatcher.something_waiting(pools)
            sched.dispatcher.want(pools)

    def cancel_answered(self, answers: Mapping[int, str]) -> None:
        sched = self._sched
        done = [i for i, a in answers.items() if a == CANCEL_DONE]
        sched.waiters.notify(done)
        if done:  # cancelled before they ran: told here (else by the worker's outcome)
            sched.signals.cancelled([r for r in map(sched.store.get, done) if r is not None])
        sched.claims.request_cancel([i for i, a in answers.items() if a == CANCEL_REQUESTED])

    def settings_changed(self) -> None:
        self._sched.dispatcher.apply_settings()
        self._sched.request_rebalance("operator")

    def wait_poll(self) -> float | None:
        # In-process the completer wakes waiters; another process's node cannot, so then
        # the store is read every poll interval. On a store shared by several nodes, any
        # of them may run the task: always read again.
        sched = self._sched
        alone = sched.state == "running" and not sched.store.multi_node
        return None if alone else sched.config.poll_interval

    # --- what the pools tell ---------------------------------------------------------
    def attempt_finished(self, pool: WorkerPool, outcome: Outcome) -> None:
        self._sched.completer.put(outcome)
        self._sched.dispatcher.refill(pool)

    def attempt_timed_out(self, pool: WorkerPool, outcome: Outcome) -> None:
        sched = self._sched
        sched.completer.put(outcome)
        sched.workers.reconcile()
        # The abandoned task no longer fills the window: claim for the replacement.
        sched.dispatcher.want((pool.category,))

    def claim_lost(self, pool: WorkerPool, task: TaskRecord) -> None:
        log.warning(
            "task %d was given back to the queue while it waited in this node's FIFO (no "
            "heartbeat from this node within its claim lease): it runs elsewhere, not here",
            task.id,
        )
        sched = self._sched
        sched.claims.drop(task)
        sched.dispatcher.refill(pool)

    def worker_exited(self, pool: WorkerPool) -> None:
        if self._sched.state == "running":
            self._sched.workers.reconcile()
