"""Worker threads and the per-category pool that owns them.

A worker's thread body is :meth:`Worker.run_once` in a thin loop that notices the pool's
stop flag and its own retire flag. Shrinking a pool marks workers to retire (idle ones
first); a busy worker leaves only after its task, so nothing is interrupted. Tests call
``run_once`` directly with no thread at all.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .task import TaskRecord

if TYPE_CHECKING:
    from .handlers import TaskContext

log = logging.getLogger("jobsched.pool")

IDLE = "idle"
BUSY = "busy"
RUN_TIMES_KEPT = 256


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The ``fraction`` (0..1) percentile of ``values`` by nearest rank; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Fifo(queue.Queue[TaskRecord]):
    """The category's FIFO: a ``queue.Queue`` that also takes a batch in one go.

    ``put_many`` appends a whole claim under one lock and wakes at most one worker per
    task, instead of a lock round trip and a wake-up per task (per-task puts spent much
    of the dispatcher's time handing the GIL to woken workers; see docs/benchmarks.md).
    """

    def get(self, block: bool = True, timeout: float | None = None) -> TaskRecord:
        """``Queue.get``, with a fast path when a task is waiting: the FIFO is unbounded,
        so no producer ever waits for room and a get need not notify ``not_full``."""
        with self.mutex:
            if self.queue:
                task: TaskRecord = self.queue.popleft()
                return task
        return super().get(block, timeout)

    def put_many(self, items: list[TaskRecord]) -> None:
        if not items:
            return
        with self.not_empty:
            self.queue.extend(items)
            self.unfinished_tasks += len(items)
            self.not_empty.notify(len(items))


class Worker:
    """One thread of a pool. Its fields are read by ``snapshot()`` without a lock: each is
    replaced atomically, and a snapshot may be one task behind, never torn."""

    def __init__(self, pool: WorkerPool, number: int) -> None:
        self.pool = pool
        self.name = f"{pool.category}-{number}"
        self.state = IDLE
        self.task: TaskRecord | None = None
        self.context: TaskContext | None = None
        self.started_mono = 0.0
        self.deadline: float | None = None  # monotonic; set while a task with a timeout runs
        self.retiring = False
        self.abandoned = False
        self.thread: threading.Thread | None = None

    def run_once(self, wait: float) -> bool:
        """Take one task from the FIFO (waiting up to ``wait`` s) and run it.

        Returns False when this worker should leave (retired, abandoned or stopping).
        """
        if self.retiring or not self.pool.accepting:
            return False
        try:
            task = self.pool.fifo.get(timeout=wait) if wait > 0 else self.pool.fifo.get_nowait()
        except queue.Empty:
            return not self.retiring
        self.pool.run_task(self, task)
        return not (self.retiring or self.abandoned)

    def loop(self) -> None:
        try:
            while self.run_once(self.pool.idle_wait):
                pass
        except BaseException:  # noqa: BLE001 - a worker must never die silently
            log.exception("worker %s died; it will be replaced", self.name)
        finally:
            self.pool.worker_exited(self)


class WorkerPool:
    """The FIFO and the workers of one category."""

    def __init__(
        self,
        category: str,
        run_task: Callable[[Worker, TaskRecord], None],
        on_exit: Callable[[WorkerPool, Worker], None],
        idle_wait: float,
        threaded: bool,
    ) -> None:
        self.category = category
        self.fifo = Fifo()
        self.run_task = run_task
        self._on_exit = on_exit
        self.idle_wait = idle_wait
        self.threaded = threaded
        self.accepting = True
        self.target = 0
        self.avg_run: float | None = None  # seconds a task runs, a running average
        # The latest run times (seconds), for the percentiles the console shows.
        self.run_times: deque[float] = deque(maxlen=RUN_TIMES_KEPT)
        self.workers: list[Worker] = []  # live, not abandoned; includes retiring ones
        self._numbers = 0
        self.lock = threading.RLock()

    # --- sizes ---------------------------------------------------------------------
    def active(self) -> list[Worker]:
        with self.lock:
            return [w for w in self.workers if not w.retiring]

    def busy(self) -> int:
        return sum(1 for w in list(self.workers) if w.state == BUSY)

    def in_flight(self) -> int:
        """Tasks claimed for this category and not yet finished: in the FIFO or running."""
        return self.fifo.qsize() + self.busy()

    def set_target(self, size: int) -> None:
        """Change the size; surplus workers retire after their task (idle ones first)."""
        with self.lock:
            self.target = size
            active = [w for w in self.workers if not w.retiring]
            surplus = len(active) - size
            if surplus > 0:
                active.sort(key=lambda w: w.state == BUSY)  # idle first
                for worker in active[:surplus]:
                    worker.retiring = True

    def spawn(self) -> Worker:
        with self.lock:
            self._numbers += 1
            worker = Worker(self, self._numbers)
            self.workers.append(worker)
        if self.threaded:
            worker.thread = threading.Thread(
                target=worker.loop, name=f"jobsched-{worker.name}", daemon=True
            )
            worker.thread.start()
        return worker

    def abandon(self, worker: Worker) -> None:
        """Give up on a worker whose task timed out; its thread may run on, unseen."""
        with self.lock:
            worker.abandoned = True
            if worker in self.workers:
                self.workers.remove(worker)

    def worker_exited(self, worker: Worker) -> None:
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
        self._on_exit(self, worker)

    def reap_retired(self) -> None:
        """Stepped mode: retiring idle workers leave at once (threads leave by themselves)."""
        for worker in list(self.workers):
            if worker.retiring and worker.state == IDLE and worker.thread is None:
                self.worker_exited(worker)

    def drain(self) -> list[TaskRecord]:
        """Empty the FIFO and return what was in it (used when stopping and pausing)."""
        items: list[TaskRecord] = []
        while True:
            try:
                items.append(self.fifo.get_nowait())
            except queue.Empty:
                return items
