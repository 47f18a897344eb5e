"""Every worker pool of a node, within one thread budget.

:class:`WorkerPools` sizes the pools to the balancer's targets (:meth:`reconcile`), gives
up on workers past their task's deadline (:meth:`expire`), builds the workers' snapshots,
and at stop drains the FIFOs, waits for running tasks and lists those it must abandon.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from .pool import BUSY, AttemptEvents, AttemptKit, WorkerPool
from .snapshot import WorkerSnapshot
from .task import FAILED, REASON_TIMED_OUT, Outcome


class WorkerPools:
    def __init__(
        self,
        categories: Iterable[str],
        kit: AttemptKit,
        events: AttemptEvents,
        *,
        budget: int,
        node_id: str,
        idle_wait: float,
        threaded: bool,
    ) -> None:
        self.pools: dict[str, WorkerPool] = {
            name: WorkerPool(name, kit, events, idle_wait, threaded) for name in categories
        }
        #: live threads allowed (abandoned ones aside); changed by ``Scheduler.set_workers``
        self.budget = budget
        #: False until started and again from stop on: no worker is spawned then
        self.running = False
        #: threads given up on (timed-out tasks) since the start
        self.abandoned_threads = 0
        self._kit = kit
        self._events = events
        self._node_id = node_id
        self._lock = threading.RLock()

    def __getitem__(self, category: str) -> WorkerPool:
        return self.pools[category]

    def set_targets(self, targets: Mapping[str, int]) -> None:
        with self._lock:
            for name, size in targets.items():
                self.pools[name].set_target(size)
        self.reconcile()

    def reconcile(self) -> None:
        """Spawn workers where pools are below target, within the budget of live threads.

        A pool that grows waits for the shrinking pools' workers to leave, so the node
        never runs more than ``budget`` threads (abandoned ones aside).
        """
        with self._lock:
            if not self.running:
                return
            free = self.budget - sum(len(p.workers) for p in self.pools.values())
            for pool in self.pools.values():
                pool.reap_retired()
                need = pool.target - len(pool.active())
                while need > 0 and free > 0:
                    pool.spawn()
                    need -= 1
                    free -= 1

    def expire(self, mono: float) -> int:
        """Abandon the workers whose task is past its deadline; return how many."""
        expired = 0
        for pool in self.pools.values():
            for worker in list(pool.workers):
                task = worker.expire(mono)
                if task is None:
                    continue
                expired += 1
                self.abandoned_threads += 1
                limit = task.timeout or 0.0
                self._kit.metrics.add(task.category, "timed_out")
                outcome = Outcome(
                    task.id,
                    self._node_id,
                    task.attempts,
                    FAILED,
                    self._kit.clock.now(),
                    error=f"timed out after {limit:g} s; the thread running it was abandoned",
                    reason=REASON_TIMED_OUT,
                )
                self._kit.signals.outcome(task, outcome)  # the one record of this timeout
                self._events.attempt_timed_out(pool, outcome)
        return expired

    def step(self) -> None:
        """Stepped mode: every pool's active workers run at most one task each."""
        for pool in self.pools.values():
            pool.step()

    def snapshots(self) -> list[WorkerSnapshot]:
        mono = self._kit.clock.monotonic()
        now = self._kit.clock.now()
        return [w.snapshot(now, mono) for p in self.pools.values() for w in list(p.workers)]

    def fifo_sizes(self) -> dict[str, int]:
        return {name: pool.fifo.qsize() for name, pool in self.pools.items()}

    def targets(self) -> dict[str, int]:
        return {name: pool.target for name, pool in self.pools.items()}

    def run_times(self) -> dict[str, tuple[float, float]]:
        """category -> (p50, p95) run time of its latest tasks, for those that ran any."""
        out = {}
        for name, pool in self.pools.items():
            p50, p95 = pool.run_percentiles()
            if p50 is not None and p95 is not None:
                out[name] = (p50, p95)
        return out

    # --- stopping ------------------------------------------------------------------
    def drain(self) -> list[int]:
        """Stop taking tasks and empty every FIFO; return the ids that were waiting."""
        released: list[int] = []
        for pool in self.pools.values():
            released.extend(t.id for t in pool.stop_taking())
        return released

    def wait_for_threads(self, left: Callable[[], float]) -> None:
        """Wait for busy workers while ``left()`` > 0, in short slices so that a second
        ``stop()`` that moves the deadline takes effect at once."""
        for pool in self.pools.values():
            for worker in list(pool.workers):
                thread = worker.thread
                if thread is threading.current_thread():
                    continue  # stop() called from a handler: it cannot wait for itself
                while thread is not None and thread.is_alive() and left() > 0:
                    thread.join(timeout=min(0.05, left()))

    def abandon_running(self) -> list[int]:
        """Give up on the tasks still running (at the stop deadline); return their ids."""
        late: list[int] = []
        for pool in self.pools.values():
            for worker in list(pool.workers):
                with pool.lock:
                    if worker.state == BUSY and worker.task is not None:
                        late.append(worker.task.id)
                        pool.abandon(worker)
        return late
