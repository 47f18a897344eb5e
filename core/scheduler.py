"""The scheduler: composes store, timer, pools, balancer and their threads.

Threads (each a ``*_once`` step in a thin loop, so tests can drive the steps directly):
- dispatcher: promotes due delayed tasks, claims due tasks into the FIFOs, polls the
  store for other processes' writes, and abandons timed-out tasks;
- completer: writes outcomes in batches (group commit), then wakes waiters;
- housekeeper: refreshes counts, runs the balancer, writes the heartbeat;
- the workers of each pool.
No engine thread ever calls into a UI; observers read :meth:`Scheduler.snapshot`.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import random
import socket
import sys
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .balancer import Balancer, Decision, Demand
from .client import Client, SubmitItem
from .clock import Clock, SteadyClock, SystemClock
from .config import (
    MAX_BUDGET,
    CategoryConfig,
    SchedulerConfig,
    check_capacity,
    check_int,
    check_seconds,
)
from .errors import (
    SchedulerStateError,
    StorageError,
    TaskNotFoundError,
    WaitTimeoutError,
)
from .execute import Executor
from .handle import TaskHandle
from .handlers import CancelFlag
from .hooks import Hook, Hooks
from .outage import CallTimedOutError, OutageTracker, call_within, reason_of
from .pool import BUSY, IDLE, Worker, WorkerPool, percentile
from .signals import TaskSignals
from .snapshot import CategorySnapshot, Metrics, Snapshot, WorkerSnapshot
from .store import CANCEL_DONE, CANCEL_REQUESTED, MemoryStore, TaskStore
from .task import (
    CANCELLED,
    FAILED,
    QUEUED,
    REASON_TIMED_OUT,
    RUNNING,
    SCHEDULED,
    SUCCEEDED,
    TERMINAL,
    CategorySettings,
    NewTask,
    NodeInfo,
    Outcome,
    TaskRecord,
)
from .timer import Timer

log = logging.getLogger("jobsched")

OUTCOME_BATCH = 500
#: A category's FIFO holds about this many seconds of its work per worker (see _prefetch).
PREFETCH_SPAN = 0.01
RUN_AVERAGE_WEIGHT = 0.1
STORE_RETRY_WAIT = 0.5
#: Seconds a stop may take beyond its grace period for its last writes (releases,
#: outcomes, the final heartbeat, closing the store), each bounded by what is left of it,
#: so that a store that does not answer cannot hold a stop longer.
STOP_MARGIN = 3.0


@dataclass
class _Claim:
    task: TaskRecord
    cancel: CancelFlag


class Scheduler(Client):
    """An in-process job scheduler. ``with Scheduler(config, store) as sched: ...``.

    ``threaded=False`` starts no thread at all: tests call :meth:`step` to run every
    component once, in order, on the calling thread (handlers run inline).
    """

    def __init__(
        self,
        config: SchedulerConfig,
        store: TaskStore | None = None,
        *,
        clock: Clock | None = None,
        node_id: str | None = None,
        rng: random.Random | None = None,
        threaded: bool = True,
    ) -> None:
        # Timers and run_at comparisons must not follow wall-clock jumps (see SteadyClock).
        super().__init__(
            config,
            store if store is not None else MemoryStore(),
            SteadyClock(clock or SystemClock()),
        )
        self.node_id = node_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.threaded = threaded
        self.state = "new"
        # Task events: logged once each, and queued for the hooks if any (see on()).
        self.hooks = Hooks(threaded)
        self.signals = TaskSignals(self.hooks)
        self.executor = Executor(
            self.clock, self.node_id, config.retry_base, config.retry_max, rng, self.signals
        )
        self._lock = threading.RLock()
        self.timer = Timer(self.clock)
        self.balancer = Balancer(config.workers, config.cooldown)
        self.metrics = Metrics(list(config.categories))
        self.pools: dict[str, WorkerPool] = {
            name: WorkerPool(
                name, self._run_task, self._worker_exited, config.poll_interval, threaded
            )
            for name in config.categories
        }
        self._settings: dict[str, CategorySettings] = {}
        self._settings_version = -1
        self._claimed: dict[int, _Claim] = {}
        self._waiters: dict[int, list[threading.Event]] = {}
        # Internal, so a SimpleQueue (in C: no Python-level Condition per put and get).
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._wanted: set[str] = set()
        self._claim_doubt: set[str] = set()
        self._last_commit = -math.inf  # monotonic time the completer last wrote a batch
        # The direct hand-off (see _insert_direct): categories whose due tasks in the store
        # are all claimed, as of this node's last claim; guarded by _direct_lock, which is
        # also held while claiming, pausing and stopping empty or fill a FIFO.
        self._direct_lock = threading.Lock()
        self._nothing_waiting: set[str] = set()
        self._next_due: float | None = None
        self._next_poll = 0.0
        self._next_counts = 0.0
        self._next_balance = 0.0
        self._next_heartbeat = 0.0
        self._counts: dict[str, dict[str, int]] = {}
        self._decisions: deque[dict[str, Any]] = deque(maxlen=50)
        self._rebalance = threading.Event()
        self._rebalance_trigger = "rebalance"
        self._stopping = threading.Event()
        self._completer_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self.abandoned_threads = 0
        self.started_at = 0.0
        self._deadline = 0.0
        #: Ids a stop could not give back (the store failed): still `running` here.
        self.unreleased: list[int] = []
        # Each thread kind logs a store outage once per change of state (see core/outage).
        self.outages = {
            name: OutageTracker(name, self.location, monotonic=self.clock.monotonic)
            for name in ("dispatcher", "completer", "housekeeper", "workers")
        }
        self._in_flight: set[int] = set()  # ids of the outcomes being written now
        self._store_silent = False  # a store call at stop got no answer in time

    # ================================================================ lifecycle
    def start(self) -> Scheduler:
        """Open the store, recover, size the pools, then start the timer and balancer.

        The order matters: nothing may claim or balance before recovery has put the
        previous run's tasks back and the settings are loaded.
        """
        if self.state != "new":
            raise SchedulerStateError(
                "scheduler", self.state, "can only be started once", "Build a new Scheduler"
            )
        self.store.open(self.node_id)
        try:
            now = self.clock.now()
            self.started_at = now
            report = self.store.recover(self.node_id, now)
            self.signals.recovered("interrupted tasks", report, self.store.get)
            self.store.subscribe(self._hint)
            self._reload_settings()
            self._decisions.extend(
                reversed(self.store.recent_decisions(self._decisions.maxlen or 50))
            )
            self.state = "running"
            self.hooks.open()
            self._counts = self.store.counts()
            self._balance("start", force=True)
            self.store.promote_due(now)
            self._seed_timer()
            self._wanted.update(self.pools)
            try:
                self._heartbeat()
            except StorageError as exc:  # the housekeeper writes it again soon
                self.outages["housekeeper"].failed(exc)
        except BaseException:
            self.state = "stopped"
            self.store.close()
            self.hooks.close(0.0)
            raise
        if self.threaded:
            for name, body in (
                ("dispatcher", self._dispatcher_loop),
                ("completer", self._completer_loop),
                ("housekeeper", self._housekeeper_loop),
            ):
                thread = threading.Thread(target=body, name=f"jobsched-{name}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, grace: float | None = None) -> list[int]:
        """Stop gracefully against one deadline; return the ids released unfinished
        (those whose release could not be written are in ``unreleased`` instead).

        Order: stop claiming; release what waits in the FIFOs; let running tasks finish
        until the deadline; release (and abandon) the ones still running; write every
        outcome; close the store. Called again while stopping (a second signal), it
        moves the deadline to ``now + grace`` (default: now) so the first call finishes
        fast, and returns at once. A store that does not answer cannot hold it past the
        deadline plus ``STOP_MARGIN``: each last write gets what is left of that, and the
        tasks it could not give back are listed in ``unreleased``.
        """
        check_seconds("grace", grace, allow_none=True, allow_zero=True)
        if self.state == "stopping":
            self._deadline = min(self._deadline, self.clock.monotonic() + (grace or 0.0))
            return []
        if self.state != "running":
            return []
        grace = self.config.grace_period if grace is None else grace
        self._deadline = self.clock.monotonic() + grace
        self.state = "stopping"
        self._stopping.set()
        self.timer.wake()
        self._rebalance.set()
        for thread in self._threads[:1] + self._threads[2:]:  # dispatcher, housekeeper
            thread.join(timeout=max(self._left(), min(0.5, self._final_left())))
        for category in list(self._claim_doubt):  # claims that reported an error: find them
            try:
                with self._direct_lock:  # no direct submit half-registered meanwhile
                    self._bounded(partial(self._adopt_lost_claims, category), "adopt claims")
            except Exception:
                log.exception(
                    "stop: could not look for claims of %s; the next start recovers them", category
                )
        released: list[int] = []
        with self._direct_lock:
            self._nothing_waiting.clear()
            for pool in self.pools.values():
                pool.accepting = False
                released.extend(t.id for t in pool.drain())
        if released and self._release(released):
            log.info(
                "stop: released %d claimed tasks that had not started: %s",
                len(released),
                released[:100],
            )
        self._wait_for_workers()
        late: list[int] = []
        for pool in self.pools.values():
            for worker in list(pool.workers):
                with pool.lock:
                    if worker.state == BUSY and worker.task is not None:
                        late.append(worker.task.id)
                        pool.abandon(worker)
        if late and self._release(late):
            log.warning(
                "stop: released %d tasks still running at the deadline: %s", len(late), late
            )
        self._completer_done.set()
        if len(self._threads) > 1:
            self._threads[1].join(timeout=max(self._left(), min(1.0, self._final_left())))
        self._write_last_outcomes()
        try:
            self._bounded(lambda: self._heartbeat(stopped=True), "final heartbeat")
        except Exception as exc:
            log.warning("stop: could not mark this node stopped: %s", reason_of(exc))
        self.state = "stopped"
        self._close_store()
        # Last: the events of the final outcomes.
        self.hooks.close(max(self._left(), min(0.5, self._final_left())))
        failed = set(self.unreleased)
        return [i for i in released + late if i not in failed]

    def _left(self) -> float:
        return max(0.0, self._deadline - self.clock.monotonic())

    def _final_left(self) -> float:
        """Seconds left for a stop's last writes: the deadline plus STOP_MARGIN."""
        return max(0.0, self._deadline + STOP_MARGIN - self.clock.monotonic())

    def _bounded(self, fn: Callable[[], Any], what: str) -> Any:
        """``fn()`` (a store call at stop) within what is left of the stop. Once one
        such call got no answer, the store is taken as silent and the rest are not
        waited for (each would otherwise wait out a fresh connection's timeout)."""
        if self._store_silent:
            raise CallTimedOutError(
                f"stop: {what}",
                None,
                "was skipped: the store did not answer an earlier call",
                "The next start, or another node, recovers what it concerned",
            )
        try:
            return call_within(fn, self._final_left(), f"stop: {what}", self.location)
        except CallTimedOutError:
            self._store_silent = True
            raise

    def _write_last_outcomes(self) -> None:
        """Write the outcomes still queued; list the tasks whose outcome could not be
        written in ``unreleased`` (they stay running here until recovered, then run again)."""
        try:
            self._bounded(self._drain_outcomes, "write outcomes")
            return
        except Exception as exc:
            error = exc
        ids = set(self._in_flight)
        while True:
            try:
                ids.add(self._outcomes.get_nowait().id)
            except queue.Empty:
                break
        if ids:
            self.unreleased.extend(sorted(ids - set(self.unreleased)))
            log.error(
                "stop: could not write the outcomes of %d tasks (%s); they stay running "
                "under this node until they are recovered, and then run again: %s",
                len(ids),
                reason_of(error),
                sorted(ids)[:100],
            )

    def _drain_outcomes(self) -> None:
        while self._complete_once(0):
            pass

    def _close_store(self) -> None:
        """Close the store; not waited for past the stop's margin once it was silent."""
        try:
            if self._store_silent:  # close on the side; its sockets go with the process
                call_within(self.store.close, 0.0, "stop: close the store", self.location)
            else:
                self.store.close()
        except CallTimedOutError:
            pass
        except Exception as exc:
            log.warning("stop: could not close the store cleanly: %s", reason_of(exc))

    def _wait_for_workers(self) -> None:
        """Wait for busy workers until the deadline, in short slices so that a second
        ``stop()`` that moves the deadline takes effect at once."""
        for pool in self.pools.values():
            for worker in list(pool.workers):
                if worker.thread is threading.current_thread():
                    continue  # stop() called from a handler: it cannot wait for itself
                while worker.thread is not None and worker.thread.is_alive() and self._left() > 0:
                    worker.thread.join(timeout=min(0.05, self._left()))

    def _release(self, ids: list[int]) -> bool:
        """Give tasks back at stop. If the store fails now, they stay `running` under this
        node's name (listed in ``unreleased``), and are recovered, never lost: by another
        node once this one's heartbeat is stale, or by the next start."""
        try:
            self._bounded(lambda: self.store.release(ids, self.node_id), "release")
        except Exception as exc:
            self.unreleased.extend(ids)
            log.error(
                "stop: could not release %d tasks (%s); they stay running under this node "
                "until they are recovered: %s",
                len(ids),
                reason_of(exc),
                ids[:100],
            )
            log.debug("stop: the release failed", exc_info=True)
            return False
        return True

    # ================================================================ hooks
    def on(self, kind: str, *, handler: str | None = None) -> Callable[[Hook], Hook]:
        """Register a hook: ``@sched.on("failed")`` calls it with a
        :class:`~core.hooks.TaskEvent` for every task that fails for good (of one
        handler only with ``handler="email.send"``). Kinds: submitted, started,
        succeeded, failed, retrying, cancelled. Hooks run on one hook thread, in order;
        one that raises is logged and the others run on."""

        def decorate(fn: Hook) -> Hook:
            self.hooks.add(kind, fn, handler)
            return fn

        return decorate

    # ================================================================ submitting
    def submit(self, handler: str, payload: Any = None, **options: Any) -> TaskHandle:
        """Validate, insert (committed) and return a handle. Options: category, delay,
        run_at, key, max_attempts, timeout."""
        return TaskHandle(self, self.submit_id(handler, payload, **options))

    def submit_many(self, items: Sequence[SubmitItem]) -> list[int]:
        """Validate all, then insert all in one transaction; returns the ids."""
        return self.submit_many_ids(items)

    def insert(self, rows: Sequence[NewTask]) -> list[int]:
        if self.state != "running" or not rows:
            ids = super().insert(rows)
            self.signals.submitted(rows, ids, self.clock.now())
            return ids
        direct = self._insert_direct(rows)
        if direct is not None:
            return direct
        # One "now" for the store and the timer: a row the store made `scheduled` must
        # get a timer entry even if the clock moved past its run_at during the write.
        now = self.clock.now()
        if self.hooks.active:
            # Hooks see `submitted` before `started`: no claim runs between the insert
            # and the event (claims hold _direct_lock). Only with hooks: it costs.
            with self._direct_lock:
                ids = self.store.insert(rows, now)
                self.signals.submitted(rows, ids, now)
        else:
            ids = self.store.insert(rows, now)
        if self.state != "running":  # stopped meanwhile: the next start finds the rows
            return ids
        later = [row.run_at for row in rows if row.run_at > now]
        if later:
            self._schedule_due(min(later))
        due = {row.category for row in rows if row.run_at <= now}
        if due:
            self._something_waiting(due)
            self._want(due)
            starving = [c for c in due if self.pools[c].target == 0 and not self._paused(c)]
            if starving:
                self.request_rebalance("starved")
        return ids

    def _insert_direct(self, rows: Sequence[NewTask]) -> list[int] | None:
        """The direct hand-off: insert due tasks already claimed and put them straight
        into their FIFO, saving the claim transaction and a wake-up of the dispatcher.

        Only when that keeps FIFO order and the window: one category, due now, no dedup
        key, not paused, workers to run them, room in the window, nothing older of the
        category waiting in the store (``_nothing_waiting``, as of this node's last
        claim; every path that queues a task in the store clears it) and no delayed task
        due but not yet promoted. Tasks another process queues meanwhile are claimed on
        the next poll, behind the ones handed over here. A store that several nodes
        claim from always takes the claim path. Returns None to say "use the claim
        path"; the store's errors propagate, as they would from ``insert``.
        """
        if self.store.multi_node:
            return None
        category = rows[0].category
        now = self.clock.now()
        for row in rows:
            if row.category != category or row.dedup_key is not None or row.run_at > now:
                return None
        pool = self.pools[category]
        with self._direct_lock:
            if (
                self.state != "running"
                or not pool.accepting
                or category not in self._nothing_waiting
                or (self._next_due is not None and self._next_due <= now)  # not promoted yet
                or self._paused(category)
                or pool.target == 0
                or self._window(pool) - pool.in_flight() < len(rows)
            ):
                return None
            try:
                tasks = self.store.insert_claimed(rows, now, self.node_id)
            except Exception:
                # Not acknowledged, but the rows may have committed (an error reported
                # after COMMIT): the dispatcher adopts such rows, as after a failed claim,
                # and until it has, later submits must not overtake them.
                self._claim_doubt.add(category)
                self._nothing_waiting.discard(category)
                self._want({category})
                raise
            for task in tasks:
                self._claimed[task.id] = _Claim(task, CancelFlag())
            ids = [task.id for task in tasks]
            self.signals.submitted(rows, ids, now)  # before a worker can start them
            pool.fifo.put_many(tasks)
        return ids

    def _something_waiting(self, categories: Iterable[str]) -> None:
        """Tasks of ``categories`` were queued in the store (committed): until the
        dispatcher has claimed them, submits of those categories take the claim path."""
        with self._direct_lock:
            self._nothing_waiting.difference_update(categories)

    # ================================================================ waiting
    def wait(self, task_id: int, timeout: float | None = None) -> TaskRecord:
        check_seconds("timeout", timeout, allow_none=True, allow_zero=True)
        event = threading.Event()
        with self._lock:
            self._waiters.setdefault(task_id, []).append(event)
        try:
            deadline = None if timeout is None else self.clock.monotonic() + timeout
            while True:
                record = self.store.get(task_id)
                if record is None:
                    raise TaskNotFoundError(task_id)
                if record.state in TERMINAL:
                    return record
                # In-process the completer sets the event; another process's node cannot,
                # so then the store is read again every poll interval. On a store shared
                # by several nodes, any of them may run the task: always read again.
                alone = self.state == "running" and not self.store.multi_node
                slice_ = None if alone else self.config.poll_interval
                left = None if deadline is None else deadline - self.clock.monotonic()
                if left is not None and left <= 0:
                    raise WaitTimeoutError(task_id, timeout or 0.0)
                wait_for = (
                    left if slice_ is None else (slice_ if left is None else min(slice_, left))
                )
                event.wait(wait_for)
                event.clear()
        finally:
            with self._lock:
                events = self._waiters.get(task_id, [])
                if event in events:
                    events.remove(event)
                if not events:
                    self._waiters.pop(task_id, None)

    def _notify(self, task_ids: Sequence[int]) -> None:
        with self._lock:
            events = [e for i in task_ids for e in self._waiters.get(i, ())]
        for event in events:
            event.set()

    # ================================================================ operator changes
    def set_priority(self, category: str, priority: object) -> float:
        weight = super().set_priority(category, priority)
        self._reload_settings()
        self.request_rebalance("operator")
        return weight

    def set_paused(self, category: str, paused: bool) -> None:
        super().set_paused(category, paused)
        self._reload_settings()
        if not paused:
            self._want({category})
        self.request_rebalance("operator")

    def pin(self, category: str, workers: int | None) -> None:
        super().pin(category, workers)
        self._reload_settings()
        self.request_rebalance("operator")

    def set_limits(
        self, category: str, min_workers: int | None = None, max_workers: int | None = None
    ) -> CategoryConfig:
        cat = super().set_limits(category, min_workers, max_workers)
        self._reload_settings()
        self.request_rebalance("operator")
        return cat

    def rebalance(self) -> None:
        self.request_rebalance("rebalance")

    def set_workers(self, workers: int) -> None:
        """Change this node's thread budget at run time (1..512).

        Rejected, keeping the old budget, if minimums and pins do not fit the new one.
        Shrinking retires workers after their current task, like any rebalance.
        """
        check_int("workers (the thread budget)", workers, 1, MAX_BUDGET)
        settings = self.store.load_settings()
        pins = {n: s.pinned for n, s in settings.items() if s.pinned is not None}
        cats = {n: self.category_config(n, settings) for n in self.config.categories}
        check_capacity(workers, cats, pins)
        with self._lock:
            self.budget = workers
            self.balancer.budget = workers
        self.request_rebalance("budget")

    def request_rebalance(self, trigger: str = "rebalance") -> None:
        """Run the balancer at once, past the cooldown (operator changes, starvation)."""
        self._rebalance_trigger = trigger
        self._rebalance.set()

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        answers = super().cancel(ids)
        done = [i for i, a in answers.items() if a == CANCEL_DONE]
        self._notify(done)
        if done:
            self.signals.cancelled([r for r in map(self.store.get, done) if r is not None])
        for task_id, answer in answers.items():
            if answer == CANCEL_REQUESTED:
                claim = self._claimed.get(task_id)
                if claim is not None:
                    claim.cancel.set()
        return answers

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        done = super().retry(ids)
        if done and self.state == "running":
            self._something_waiting(self.pools)
            self._want(set(self.pools))
        return done

    def _paused(self, category: str) -> bool:
        settings = self._settings.get(category)
        return bool(settings and settings.paused)

    def _reload_settings(self) -> None:
        version = self.store.settings_version()
        settings = self.store.load_settings()
        with self._lock:
            was_paused = {c for c in self.pools if self._paused(c)}
            self._settings = settings
            self._settings_version = version
        for category, pool in self.pools.items():
            if self._paused(category) and category not in was_paused:
                with self._direct_lock:
                    self._nothing_waiting.discard(category)
                    drained = pool.drain()
                if drained:
                    for task in drained:
                        self._claimed.pop(task.id, None)
                    try:
                        self.store.release([t.id for t in drained], self.node_id)
                    except Exception:
                        # They stay claimed by this node: put back in the FIFO (adopted)
                        # when the category resumes, or recovered by the next start.
                        self._claim_doubt.add(category)
                        log.exception(
                            "pause: could not give back %d claimed tasks of %s; they run"
                            " when it resumes",
                            len(drained),
                            category,
                        )
            elif not self._paused(category) and category in was_paused:
                self._want({category})

    # ================================================================ dispatcher
    def _want(self, categories: set[str] | Any) -> None:
        with self._lock:
            self._wanted.update(categories)
        self.timer.wake()

    def _seed_timer(self) -> None:
        nxt = self.store.next_run_at()
        if nxt is not None:
            self._schedule_due(nxt)

    def _schedule_due(self, run_at: float) -> None:
        """Wake the dispatcher at ``run_at`` unless an earlier wake-up is already set.

        Only the earliest stored ``run_at`` needs a timer entry: when it fires the
        dispatcher promotes what is due and asks the store for the next one, so the heap
        stays small however many delayed tasks wait.
        """
        with self._lock:
            if self._next_due is not None and self._next_due <= run_at:
                return
            self._next_due = run_at
        self.timer.schedule_at(run_at)

    def _dispatcher_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._dispatch_once()
                self.outages["dispatcher"].ok()
            except StorageError as exc:
                self.outages["dispatcher"].failed(exc)
                self._stopping.wait(STORE_RETRY_WAIT)
            except Exception:
                log.exception("dispatcher step failed; retrying")
                self._stopping.wait(STORE_RETRY_WAIT)
            self.timer.wait(self.config.poll_interval)

    def _dispatch_once(self) -> None:
        """Promote due tasks, apply other processes' changes, claim into FIFOs, time out."""
        now = self.clock.now()
        mono = self.clock.monotonic()
        poll = self.store.shared and mono >= self._next_poll
        if self.timer.pop_due() or poll:
            if self.store.promote_due(now):
                self._something_waiting(self.pools)
                self._want(set(self.pools))
                if any(p.target == 0 and not self._paused(c) for c, p in self.pools.items()):
                    self.request_rebalance("starved")  # due work may be in a pool of 0
            self._next_due = None
            self._seed_timer()
        if poll:
            self._next_poll = mono + self.config.poll_interval
            if self.store.settings_version() != self._settings_version:
                self._reload_settings()
                self.request_rebalance("operator")
                # Another process may have cancelled a task someone here waits for, and
                # only this process's completer sets waiters' events: let them read again.
                with self._lock:
                    waited = list(self._waiters)
                self._notify(waited)
            for task_id in self.store.cancel_requests(self.node_id):
                claim = self._claimed.get(task_id)
                if claim is not None:
                    claim.cancel.set()
            with self._lock:
                self._wanted.update(self.pools)
        self._check_timeouts(mono)
        with self._lock:
            wanted, self._wanted = self._wanted, set()
        for category in wanted:
            if not self._feed(category, now):
                with self._lock:
                    self._wanted.add(category)

    def _feed(self, category: str, now: float) -> bool:
        """Claim into the FIFO up to its window; False if the window filled (more may wait)."""
        pool = self.pools[category]
        if self._paused(category) or self.state != "running" or pool.target == 0:
            return True
        window = self._window(pool)
        room = window - pool.in_flight()
        if room <= 0:
            return True
        with self._direct_lock:  # a direct submit now would jump ahead of this claim
            if category in self._claim_doubt:  # under the lock: no direct row half-registered
                self._adopt_lost_claims(category)
            room = window - pool.in_flight()
            if room <= 0 or not pool.accepting or self._paused(category):
                return True
            try:
                tasks = self.store.claim(category, room, self.node_id, now)
            except Exception:
                # The claim may have committed even though it reported an error (a
                # connection lost after COMMIT): look for such rows before claiming again.
                self._claim_doubt.add(category)
                raise
            for task in tasks:
                self._claimed[task.id] = _Claim(task, CancelFlag())
            pool.fifo.put_many(tasks)
            if len(tasks) < room and not self.store.multi_node:
                self._nothing_waiting.add(category)
            else:  # the window filled: more may wait (e.g. queued by another process)
                self._nothing_waiting.discard(category)
        return len(tasks) < room

    def _window(self, pool: WorkerPool) -> int:
        """How many claimed tasks a category may hold: each worker's current task plus up
        to ``prefetch`` waiting per worker, fewer when its tasks are long (see
        ``_prefetch``). A larger window claims in bigger batches (fewer transactions);
        the start journal keeps a crash from charging the waiting ones an attempt, and a
        graceful stop gives them back."""
        return pool.target * (1 + self._prefetch(pool))

    def _prefetch(self, pool: WorkerPool) -> int:
        """Tasks to hold waiting per worker: about PREFETCH_SPAN seconds of this
        category's work (by the running average of its tasks' run time), at least one,
        at most ``prefetch``. Short tasks get a deep FIFO, so the workers do not run dry
        while the next claim waits for the database; long ones a shallow one, so a node
        does not sit on work that another node, or a worker freed by the balancer, could
        start now. Until a task of the category has run, one."""
        cap = self.config.prefetch
        run = pool.avg_run
        if run is None or cap <= 1:
            return min(cap, 1)
        if run <= PREFETCH_SPAN / cap:
            return cap
        return max(1, int(PREFETCH_SPAN / run))

    def _adopt_lost_claims(self, category: str) -> None:
        """Put into the FIFO the rows this node claimed without hearing back."""
        rows = self.store.list_tasks(state=RUNNING, category=category, limit=100_000)
        lost = sorted(
            (r for r in rows if r.owner == self.node_id and r.id not in self._claimed),
            key=lambda r: r.id,
        )
        for task in lost:
            self._claimed[task.id] = _Claim(task, CancelFlag())
        self.pools[category].fifo.put_many(lost)
        self._claim_doubt.discard(category)
        if lost:
            log.warning(
                "adopted %d tasks claimed by a write that reported an error: %s",
                len(lost),
                [t.id for t in lost],
            )

    def _check_timeouts(self, mono: float) -> None:
        for pool in self.pools.values():
            for worker in list(pool.workers):
                if worker.deadline is None or mono < worker.deadline:
                    continue
                with pool.lock:
                    # Again under the lock: the task may have ended, and the worker started
                    # its next one, since the deadline was read.
                    task = worker.task
                    deadline = worker.deadline
                    if deadline is None or mono < deadline:
                        continue
                    if worker.state != BUSY or task is None or worker.abandoned:
                        continue
                    pool.abandon(worker)
                    self.abandoned_threads += 1
                limit = task.timeout or 0.0
                self.metrics.add(task.category, "timed_out")
                outcome = Outcome(
                    task.id,
                    self.node_id,
                    task.attempts,
                    FAILED,
                    self.clock.now(),
                    error=f"timed out after {limit:g} s; the thread running it was abandoned",
                    reason=REASON_TIMED_OUT,
                )
                self.signals.outcome(task, outcome)  # the one record of this timeout
                self._outcomes.put(outcome)
                self._reconcile()
                # The abandoned task no longer fills the window: claim for the replacement.
                self._want({pool.category})

    # ================================================================ workers
    def _run_task(self, worker: Worker, task: TaskRecord) -> None:
        claim = self._claimed.get(task.id) or _Claim(task, CancelFlag())
        spec = self.handlers.get(task.handler)
        worker.started_mono = self.clock.monotonic()  # the wall time is derived in snapshots
        worker.task = task
        worker.state = BUSY
        if task.timeout:
            slack = self.executor.deadline_slack(spec)
            worker.deadline = worker.started_mono + task.timeout + slack
            self.timer.schedule_mono(worker.deadline)
        self.metrics.add(task.category, "started")
        try:
            self.store.record_start(task.id, task.attempts)
            self.outages["workers"].ok()
        except StorageError as exc:  # the run matters more than the poison bookkeeping
            self.outages["workers"].failed(exc)
        except Exception:
            log.exception("could not journal the start of task %d", task.id)
        outcome = self.executor.run(task, spec, claim.cancel)
        pool = worker.pool
        ran = self.clock.monotonic() - worker.started_mono
        avg = pool.avg_run  # a running average; two workers racing here lose one sample
        pool.avg_run = ran if avg is None else avg + RUN_AVERAGE_WEIGHT * (ran - avg)
        pool.run_times.append(ran)  # a deque's append is atomic: workers may race here
        with pool.lock:
            abandoned = worker.abandoned
            worker.state = IDLE
            worker.task = None
            worker.deadline = None
        if abandoned:
            return  # timed out or released at stop: the outcome was decided elsewhere
        if outcome.reason == REASON_TIMED_OUT:  # an async handler cancelled at its timeout
            self.metrics.add(task.category, "timed_out")
        self.signals.outcome(task, outcome)
        self._outcomes.put(outcome)
        # Refill at half, before it runs dry, unless the store has nothing waiting.
        if pool.category not in self._nothing_waiting and (
            pool.fifo.qsize() <= self._window(pool) // 2
        ):
            self._want({pool.category})

    def _worker_exited(self, pool: WorkerPool, worker: Worker) -> None:
        if self.state == "running":
            self._reconcile()

    def _reconcile(self) -> None:
        """Spawn workers where pools are below target, within the budget of live threads.

        A pool that grows waits for the shrinking pools' workers to leave, so the node
        never runs more than ``workers`` threads (abandoned ones aside).
        """
        with self._lock:
            if self.state != "running":
                return
            live = sum(len(p.workers) for p in self.pools.values())
            free = self.budget - live
            for pool in self.pools.values():
                pool.reap_retired()
                need = pool.target - len(pool.active())
                while need > 0 and free > 0:
                    pool.spawn()
                    need -= 1
                    free -= 1

    # ================================================================ completer
    def _completer_loop(self) -> None:
        while not (self._completer_done.is_set() and self._outcomes.empty()):
            try:
                if self._complete_once(self.config.poll_interval, self.config.commit_linger):
                    self.outages["completer"].ok()
            except StorageError as exc:
                self.outages["completer"].failed(exc)
                self._completer_done.wait(STORE_RETRY_WAIT)
            except Exception:
                log.exception("completer step failed; retrying")
                self._completer_done.wait(STORE_RETRY_WAIT)

    def _complete_once(self, wait: float, linger: float = 0.0) -> bool:
        """Write one batch of outcomes in one transaction; False if there was none.

        ``linger``: see ``SchedulerConfig.commit_linger`` (the completer thread passes it;
        stopping and stepping do not wait)."""
        try:
            first = self._outcomes.get(timeout=wait) if wait > 0 else self._outcomes.get_nowait()
        except queue.Empty:
            return False
        batch = [first]
        if linger > 0 and self.clock.monotonic() - self._last_commit < linger:
            # Group commit: outcomes are streaming in, so let more arrive before writing.
            # One timed wait, not a wake-up per outcome; stop() cuts it short.
            self._completer_done.wait(linger)
        while len(batch) < OUTCOME_BATCH:
            try:
                batch.append(self._outcomes.get_nowait())
            except queue.Empty:
                break
        self._in_flight.update(out.id for out in batch)
        try:
            applied = self.store.finish(batch)
            self._last_commit = self.clock.monotonic()
        except Exception:
            for outcome in batch:  # keep them: written on the next try
                self._outcomes.put(outcome)
            raise
        finally:
            self._in_flight.difference_update(out.id for out in batch)
        terminal: list[int] = []
        retry_now: set[str] = set()
        counts: Counter[tuple[str, str]] = Counter()
        for outcome, ok in zip(batch, applied, strict=True):
            claim = self._claimed.get(outcome.id)
            if claim is not None and claim.task.attempts == outcome.attempt:
                del self._claimed[outcome.id]  # only this attempt's: a retry may be claimed anew
            elif claim is not None:
                claim = None
            category = claim.task.category if claim else ""
            if not ok:
                # Fenced out, or written by an earlier try whose commit was reported as
                # failed: waiters re-read the store and see whatever is true.
                terminal.append(outcome.id)
                counts[category, "fenced"] += 1
            elif outcome.state in TERMINAL:
                terminal.append(outcome.id)
                counts[category, outcome.state] += 1
            elif outcome.state == SCHEDULED and outcome.run_at is not None:
                counts[category, "retried"] += 1
                if outcome.run_at > outcome.finished_at:
                    self._schedule_due(outcome.run_at)
                elif category:
                    retry_now.add(category)
        counts.pop(("", "fenced"), None)
        self.metrics.add_many(counts)
        self._notify(terminal)
        if retry_now:
            self._something_waiting(retry_now)
            self._want(retry_now)
        return True

    # ================================================================ housekeeper
    def _housekeeper_loop(self) -> None:
        tracker = self.outages["housekeeper"]
        while not self._stopping.is_set():
            failures = tracker.failures  # a step may record a failure and carry on
            try:
                self._housekeep_once()
                if tracker.failures == failures:
                    tracker.ok()
            except StorageError as exc:
                tracker.failed(exc)
            except Exception:
                log.exception("housekeeping step failed; retrying")
            wait = max(
                0.01,
                min(self._next_balance, self._next_counts, self._next_heartbeat)
                - self.clock.monotonic(),
            )
            self._rebalance.wait(wait)

    def _housekeep_once(self) -> None:
        mono = self.clock.monotonic()
        if mono >= self._next_counts:
            self._next_counts = mono + min(1.0, self.config.balance_interval)
            self._counts = self.store.counts()
            self.metrics.sample(mono)
        if self._rebalance.is_set():
            self._rebalance.clear()
            if self.state == "running":
                self._balance(self._rebalance_trigger, force=True)
        elif mono >= self._next_balance:
            self._balance("interval", force=False)
        if mono >= self._next_heartbeat:
            self._heartbeat()
            if self.store.multi_node and self.state == "running":
                self._recover_others()

    def _recover_others(self) -> None:
        """Shared store: put back the tasks of nodes whose heartbeat went stale."""
        report = self.store.recover(self.node_id, self.clock.now())
        if self.signals.recovered("tasks of dead nodes", report, self.store.get):
            self._notify(report.orphaned)
            self._want(set(self.pools))

    def _hint(self) -> None:
        """Another process may have written work (a store notification): look now."""
        self._next_poll = 0.0
        self.timer.wake()

    def _demands(self) -> list[Demand]:
        counts = self._counts
        items = []
        for name in self.pools:
            cat = self.category_config(name, self._settings)
            settings = self._settings.get(name) or CategorySettings()
            per = counts.get(name, {})
            fifo = self.pools[name].fifo.qsize()
            items.append(
                Demand(
                    name=name,
                    weight=cat.priority,
                    # Same total demand; the FIFO's claimed tasks count as queued.
                    queued=per.get(QUEUED, 0) + min(fifo, per.get(RUNNING, 0)),
                    running=max(0, per.get(RUNNING, 0) - fifo),
                    min_workers=cat.min_workers,
                    max_workers=cat.max_workers,
                    paused=settings.paused,
                    pinned=settings.pinned,
                    current=self.pools[name].target,
                )
            )
        return items

    def _balance(self, trigger: str, force: bool) -> Decision | None:
        """Ask the balancer; apply and record its decision. Only the scheduler resizes."""
        mono = self.clock.monotonic()
        self._next_balance = mono + self.config.balance_interval
        self._counts = self.store.counts()
        decision = self.balancer.decide(self._demands(), self.clock.now(), mono, trigger, force)
        if decision is None:
            return None
        with self._lock:
            for name, size in decision.targets.items():
                self.pools[name].set_target(size)
        self._reconcile()
        self._want(set(self.pools))
        record = decision.to_dict()
        self._decisions.appendleft(record)
        try:
            self.store.add_decision(decision.at, record)
        except StorageError as exc:  # kept in memory; the next decision is stored
            self.outages["housekeeper"].failed(exc)
        except Exception:
            log.exception("could not store a balancer decision")
        for line in decision.changes:
            log.info("balancer (%s): %s", trigger, line)
        return decision

    def _heartbeat(self, stopped: bool = False) -> None:
        self._next_heartbeat = self.clock.monotonic() + self.config.heartbeat_interval

        totals = self.metrics.totals()
        node = NodeInfo(
            node_id=self.node_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            heartbeat_at=self.clock.now(),
            budget=self.budget,
            workers=[w.to_dict() for w in self._worker_snapshots()],
            counters={
                "by_category": totals,
                # Claimed tasks waiting in this node's FIFOs: `running` in the store, but
                # queued for a worker (readers such as `status` move them back).
                "fifo": {name: pool.fifo.qsize() for name, pool in self.pools.items()},
                "targets": {name: pool.target for name, pool in self.pools.items()},
                "abandoned_threads": self.abandoned_threads,
                # Tasks finished per second over the last few seconds, per category.
                "rates": {name: round(rate, 3) for name, rate in self.metrics.rates().items()},
                # Run time percentiles of the latest tasks, per category: [p50, p95].
                "run_times": {
                    name: [percentile(list(p.run_times), q) for q in (0.5, 0.95)]
                    for name, p in self.pools.items()
                },  # fmt: skip
                "python": sys.version.split()[0],
            },
            stopped=stopped,
        )
        self.store.heartbeat(node)

    # ================================================================ stepping (tests)
    def step(self) -> int:
        """Run every component once on this thread (``threaded=False`` only).

        Order: dispatcher, one task per worker, completer, balancer (if due or asked).
        Returns the number of tasks run.
        """
        if self.threaded:
            raise SchedulerStateError(
                "step()", None, "needs a scheduler built with threaded=False", ""
            )
        if self.state != "running":
            raise SchedulerStateError(
                "step()", self.state, "needs a started scheduler", "Call start() first"
            )
        before = sum(v["started"] for v in self.metrics.totals().values())
        self._dispatch_once()
        for pool in self.pools.values():
            for worker in pool.active():
                worker.run_once(0)
            pool.reap_retired()
        while self._complete_once(0):
            pass
        while self.hooks.step():
            pass
        self._housekeep_once()
        self._reconcile()
        self._counts = self.store.counts()  # stepped observers see every step's effect
        return sum(v["started"] for v in self.metrics.totals().values()) - before

    def run_until_idle(self, max_steps: int = 1000) -> int:
        """Step until no task is in a FIFO, running or due (``threaded=False`` only)."""
        for steps in range(1, max_steps + 1):
            self.step()
            counts = self.store.counts()
            busy = any(per.get(QUEUED, 0) or per.get(RUNNING, 0) for per in counts.values())
            if not busy and self._outcomes.empty():
                return steps
        raise SchedulerStateError("run_until_idle", max_steps, "steps did not drain the work", "")

    # ================================================================ snapshot
    def _worker_snapshots(self) -> list[WorkerSnapshot]:
        mono = self.clock.monotonic()
        now = self.clock.now()
        out = []
        for pool in self.pools.values():
            for worker in list(pool.workers):
                task = worker.task
                busy = worker.state == BUSY and task is not None
                out.append(
                    WorkerSnapshot(
                        name=worker.name,
                        category=pool.category,
                        state=BUSY if busy else IDLE,
                        task_id=task.id if busy and task else None,
                        handler=task.handler if busy and task else None,
                        started_at=now - (mono - worker.started_mono) if busy else None,
                        elapsed=mono - worker.started_mono if busy else 0.0,
                        retiring=worker.retiring,
                    )
                )
        return out

    def snapshot(self) -> Snapshot:
        """An immutable picture of the node. Cheap: no store query (counts are cached)."""
        workers = tuple(self._worker_snapshots())
        rates = self.metrics.rates()
        counts = self._counts
        cats = []
        for name, pool in self.pools.items():
            cat = self.category_config(name, self._settings)
            settings = self._settings.get(name) or CategorySettings()
            per = counts.get(name, {})
            fifo = pool.fifo.qsize()
            cats.append(
                CategorySnapshot(
                    name=name,
                    kind=cat.kind,
                    priority=cat.priority,
                    paused=settings.paused,
                    pinned=settings.pinned,
                    min_workers=cat.min_workers,
                    max_workers=cat.max_workers,
                    workers=pool.target,
                    threads=len(pool.workers),
                    busy=sum(1 for w in workers if w.category == name and w.state == BUSY),
                    fifo=fifo,
                    # A claimed task waiting in the FIFO is `running` in the store but,
                    # to an operator, still queued for a worker.
                    queued=per.get(QUEUED, 0) + min(fifo, per.get(RUNNING, 0)),
                    scheduled=per.get(SCHEDULED, 0),
                    running=max(0, per.get(RUNNING, 0) - fifo),
                    succeeded=per.get(SUCCEEDED, 0),
                    failed=per.get(FAILED, 0),
                    cancelled=per.get(CANCELLED, 0),
                    rate=rates.get(name, 0.0),
                    run_p50=percentile(list(pool.run_times), 0.5),
                    run_p95=percentile(list(pool.run_times), 0.95),
                )
            )
        totals = self.metrics.totals()
        counters = {key: sum(v[key] for v in totals.values()) for key in Metrics.KEYS}
        return Snapshot(
            at=self.clock.now(),
            node_id=self.node_id,
            state=self.state,
            budget=self.budget,
            categories=tuple(cats),
            workers=workers,
            decisions=tuple(self._decisions),
            abandoned_threads=self.abandoned_threads,
            counters=counters,
            rate=sum(rates.values()),
        )
