"""Worker threads and the per-category pool that owns them.

A worker runs its whole attempt (:meth:`Worker.attempt`): it records the start in the
store (a claim given back meanwhile is refused there, and then not run), runs the
handler, keeps its pool's run-time average and its own deadline, and hands the outcome
on. Its thread body is :meth:`Worker.run_once` in a thin loop that notices the pool's
stop flag and its own retire flag. Shrinking a pool marks workers to retire (idle ones
first); a busy worker leaves only after its task, so nothing is interrupted. Tests call
``run_once`` directly with no thread at all.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .claims import Claims
from .clock import Clock
from .errors import StorageError
from .execute import Executor
from .handlers import HandlerSpec
from .histogram import RunHistogram
from .outage import OutageTracker
from .progress import ProgressReporter, TaskProgress
from .signals import TaskSignals
from .snapshot import Metrics, WorkerSnapshot
from .store import TaskStore
from .task import REASON_TIMED_OUT, Outcome, TaskRecord

log = logging.getLogger("jobsched.pool")

IDLE = "idle"
BUSY = "busy"
RUN_AVERAGE_WEIGHT = 0.1
RUN_TIMES_KEPT = 256
#: Seconds a worker waits before it tries again to record a start that failed.
START_RETRY_WAIT = 0.5


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """The ``fraction`` (0..1) percentile of ``values`` by nearest rank; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Fifo(queue.Queue[TaskRecord]):
    """The category's FIFO: a ``queue.Queue`` that also takes a batch in one go.
    ``put_many`` appends a whole claim under one lock and wakes one idle worker; a worker
    that takes a task and leaves more behind wakes the next (a chain), so the dispatcher,
    which holds the lock meanwhile, pays for one wake-up per claim, not one per worker."""

    def get(self, block: bool = True, timeout: float | None = None) -> TaskRecord:
        """``Queue.get``; unbounded, so it wakes no producer, only the next idle worker."""
        with self.not_empty:
            waits = self.not_empty.wait_for
            if not self.queue and not (block and waits(lambda: self.queue, timeout)):
                raise queue.Empty
            task: TaskRecord = self.queue.popleft()
            if self.queue:
                self.not_empty.notify()  # no-op when no worker waits
            return task

    def put_many(self, items: list[TaskRecord]) -> None:
        if not items:
            return
        with self.not_empty:
            self.queue.extend(items)
            self.unfinished_tasks += len(items)
            self.not_empty.notify()

    def head_run_at(self) -> float | None:
        """``run_at`` of the task the next ``get`` returns (the longest waiting), or None."""
        with self.mutex:
            return self.queue[0].run_at if self.queue else None


class AttemptEvents(Protocol):
    """What a pool tells the engine about its workers' attempts."""

    def attempt_finished(self, pool: WorkerPool, outcome: Outcome) -> None:
        """A worker's attempt ended (not abandoned): write the outcome, refill the FIFO."""

    def attempt_timed_out(self, pool: WorkerPool, outcome: Outcome) -> None:
        """A worker was abandoned past its task's deadline: write the failure, replace
        the worker and claim for it."""

    def worker_exited(self, pool: WorkerPool) -> None:
        """A worker left (retired, died or stopped): the pools may need a replacement."""

    def claim_lost(self, pool: WorkerPool, task: TaskRecord) -> None:
        """The store refused the start of a claimed task (given back while it waited):
        forget the claim, refill the FIFO."""


@dataclass(frozen=True)
class AttemptKit:
    """What a worker needs to run an attempt, shared by every pool of a node."""

    clock: Clock
    store: TaskStore
    executor: Executor
    handlers: Mapping[str, HandlerSpec]
    claims: Claims
    metrics: Metrics
    #: wakes the dispatcher at a monotonic deadline (so a timeout is noticed in time)
    schedule_mono: Callable[[float], None]
    #: logs and hooks each outcome once, where it is decided
    signals: TaskSignals
    #: the workers' store outages (the start journal), logged once per change of state
    outage: OutageTracker


class Worker:
    """One thread of a pool. Its fields are read by snapshots without a lock: each is
    replaced atomically, and a snapshot may be one task behind, never torn."""

    def __init__(self, pool: WorkerPool, number: int) -> None:
        self.pool = pool
        self.name = f"{pool.category}-{number}"
        self.state = IDLE
        self.task: TaskRecord | None = None
        self.started_mono = 0.0
        self.deadline: float | None = None  # monotonic; set while a task with a timeout runs
        self.retiring = False
        self.abandoned = False
        self.thread: threading.Thread | None = None
        #: the current (or last) attempt's progress reports
        self.progress: ProgressReporter | None = None

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
        self.attempt(task)
        return not (self.retiring or self.abandoned)

    def attempt(self, task: TaskRecord) -> None:
        """Run one claimed task from its recorded start to its outcome."""
        pool = self.pool
        kit = pool.kit
        cancel = kit.claims.cancel_flag(task)
        spec = kit.handlers.get(task.handler)
        self.started_mono = started = kit.clock.monotonic()  # wall time: see snapshot()
        self.task = task
        self.state = BUSY
        if not self.begin(task):
            return
        if task.timeout:
            # An async handler cancels itself at its timeout: abandon it only if it did not.
            slack = kit.executor.deadline_slack(spec)
            self.deadline = kit.clock.monotonic() + task.timeout + slack
            kit.schedule_mono(self.deadline)
        kit.metrics.started(task.category)
        self.progress = progress = ProgressReporter(
            kit.store, task.id, task.attempts, kit.clock.now, kit.clock.monotonic, kit.outage
        )
        outcome = kit.executor.run(task, spec, cancel, progress)
        pool.note_run_time(kit.clock.monotonic() - started)
        progress.flush()  # the last report is written before the outcome
        with pool.lock:
            abandoned = self.abandoned
            self.state = IDLE
            self.task = None
            self.deadline = None
        if abandoned:
            return  # timed out or released at stop: the outcome was decided elsewhere
        if outcome.reason == REASON_TIMED_OUT:  # an async handler cancelled at its timeout
            kit.metrics.add(task.category, "timed_out")
        kit.signals.outcome(task, outcome)
        pool.events.attempt_finished(pool, outcome)

    def begin(self, task: TaskRecord) -> bool:
        """Record the start of ``task``: True if its handler may run now. Else the worker
        is idle again: the store refused the start (the claim was given back: it runs
        elsewhere), or on a store other nodes share could not be asked (back to the FIFO's
        head for a later try)."""
        kit = self.pool.kit
        began: bool | None = None  # None: unknown
        try:
            # A record this node has claimed anew since (the store cannot always tell the
            # two claims apart: one clock reading) leaves the run to the newer one.
            began = kit.store.record_start(task) and not kit.claims.superseded(task)
            kit.outage.ok()
        except StorageError as exc:
            kit.outage.failed(exc)
        except Exception:
            log.exception("could not record the start of task %d", task.id)
        if began is None and not kit.store.multi_node:
            began = True  # no other node can take the claim: the run matters more
        with self.pool.lock:
            if began and not self.abandoned:
                return True
            abandoned = self.abandoned  # released at stop meanwhile: not run, not kept
            self.state = IDLE
            self.task = None
        if abandoned:
            return False
        if began is None:
            self.pool.retry_start(task)
        else:
            self.pool.events.claim_lost(self.pool, task)
        return False

    def expire(self, mono: float) -> TaskRecord | None:
        """Abandon this worker if its task is past its deadline; return that task."""
        if self.deadline is None or mono < self.deadline:
            return None
        with self.pool.lock:
            # Again under the lock: the task may have ended, and the worker started its
            # next one, since the deadline was read.
            task = self.task
            if self.deadline is None or mono < self.deadline:
                return None
            if self.state != BUSY or task is None or self.abandoned:
                return None
            self.pool.abandon(self)
        return task

    def loop(self) -> None:
        try:
            while self.run_once(self.pool.idle_wait):
                pass
        except BaseException:  # noqa: BLE001 - a worker must never die silently
            log.exception("worker %s died; it will be replaced", self.name)
        finally:
            self.pool.worker_exited(self)

    def snapshot(self, now: float, mono: float) -> WorkerSnapshot:
        task = self.task
        busy = self.state == BUSY and task is not None
        return WorkerSnapshot(
            name=self.name,
            category=self.pool.category,
            state=BUSY if busy else IDLE,
            task_id=task.id if busy and task else None,
            handler=task.handler if busy and task else None,
            started_at=now - (mono - self.started_mono) if busy else None,
            elapsed=mono - self.started_mono if busy else 0.0,
            retiring=self.retiring,
            progress=_latest(self.progress, task) if busy and task else None,
        )


def _latest(reporter: ProgressReporter | None, task: TaskRecord) -> TaskProgress | None:
    """The running attempt's latest report (a reporter of an earlier task says nothing)."""
    if reporter is None or reporter.task_id != task.id or reporter.attempt != task.attempts:
        return None
    return reporter.latest


class WorkerPool:
    """The FIFO and the workers of one category."""

    def __init__(
        self,
        category: str,
        kit: AttemptKit,
        events: AttemptEvents,
        idle_wait: float,
        threaded: bool,
    ) -> None:
        self.category = category
        self.fifo = Fifo()
        self.kit = kit
        self.events = events
        self.idle_wait = idle_wait
        self.threaded = threaded
        self.accepting = True
        #: set once the pool stops taking tasks: ends a worker's wait to retry a start
        self.stopped = threading.Event()
        self.target = 0
        #: the dispatcher refills the FIFO once it holds this many tasks or fewer (half
        #: of the category's window at its last claim)
        self.refill_at = 0
        self.avg_run: float | None = None  # seconds a task runs, a running average
        # The latest run times (seconds), for the percentiles the console shows.
        self.run_times: deque[float] = deque(maxlen=RUN_TIMES_KEPT)
        #: every run time since the node started, in cumulative buckets (the exporter's)
        self.run_histogram = RunHistogram()
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

    def note_run_time(self, ran: float) -> None:
        avg = self.avg_run  # a running average; two workers racing here lose one sample
        self.avg_run = ran if avg is None else avg + RUN_AVERAGE_WEIGHT * (ran - avg)
        self.run_times.append(ran)  # a deque's append is atomic: workers may race here
        self.run_histogram.observe(ran)

    def run_percentiles(self) -> tuple[float | None, float | None]:
        """Run time (s) p50 and p95 of the latest tasks; None before any ran."""
        latest = list(self.run_times)
        return percentile(latest, 0.5), percentile(latest, 0.95)

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
        self.events.worker_exited(self)

    def reap_retired(self) -> None:
        """Stepped mode: retiring idle workers leave at once (threads leave by themselves)."""
        for worker in list(self.workers):
            if worker.retiring and worker.state == IDLE and worker.thread is None:
                self.worker_exited(worker)

    def step(self) -> None:
        """Stepped mode: each active worker runs at most one task, then retirees leave."""
        for worker in self.active():
            worker.run_once(0)
        self.reap_retired()

    def retry_start(self, task: TaskRecord) -> None:
        """Put a task whose start could not be recorded back at the head of the FIFO,
        unless the pool stopped taking tasks (then it stays claimed by this node until
        recovered); a thread then waits a moment before the next try."""
        with self.fifo.mutex:
            kept = self.accepting
            if kept:
                self.fifo.queue.appendleft(task)
                self.fifo.unfinished_tasks += 1
                self.fifo.not_empty.notify()
        if not kept:
            log.warning("stop: task %d stays claimed here until recovered (start unknown)", task.id)
        elif self.threaded:
            self.stopped.wait(START_RETRY_WAIT)

    def stop_taking(self) -> list[TaskRecord]:
        """Stop taking tasks and empty the FIFO (at stop): a start put back for a retry
        either lands before and is returned here, or sees the pool stopped."""
        with self.fifo.mutex:
            self.accepting = False
        self.stopped.set()
        return self.drain()

    def drain(self) -> list[TaskRecord]:
        """Empty the FIFO and return what was in it (used when stopping and pausing)."""
        items: list[TaskRecord] = []
        while True:
            try:
                items.append(self.fifo.get_nowait())
            except queue.Empty:
                return items
