"""The scheduler: composes the store, the client and the engine's units.

Units (each owns its state and its thread body, a one-iteration step that tests call):
- :class:`~.dispatcher.Dispatcher`: promotes due delayed tasks, claims into the FIFOs,
  the direct hand-off, polls the store for other processes' writes;
- :class:`~.completer.Completer`: writes outcomes in batches (group commit), wakes waiters;
- :class:`~.housekeeper.Housekeeper`: counts, the balancer, the heartbeat, recovery of
  dead nodes;
- :class:`~.workers.WorkerPools`: the workers of each category, each running its whole
  attempt.
The :class:`~.client.Client` validates and writes; it tells the engine through an
:class:`~.link.EngineLink`. No engine thread ever calls into a UI; observers read
:meth:`Scheduler.snapshot`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable

from .claims import Claims
from .client import Client
from .client_api import ClientAPI
from .clock import Clock, SteadyClock, SystemClock
from .completer import Completer
from .config import MAX_BUDGET, SchedulerConfig, check_capacity, check_int
from .dispatcher import Dispatcher
from .errors import SchedulerStateError
from .execute import Executor
from .housekeeper import Housekeeper, RebalanceRequest, log_recovery
from .link import EngineLink
from .live_settings import LiveSettings
from .memory_store import MemoryStore
from .pool import AttemptKit, WorkerPool
from .snapshot import Metrics, Snapshot, build_snapshot
from .store import TaskStore
from .task import QUEUED, RUNNING
from .timer import Timer
from .waiters import Waiters
from .workers import WorkerPools

log = logging.getLogger("jobsched")


class Scheduler(ClientAPI):
    """An in-process job scheduler. ``with Scheduler(config, store) as sched: ...``.

    ``threaded=False`` starts no thread at all: tests call :meth:`step` to run every
    unit once, in order, on the calling thread (handlers run inline).
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
        steady = SteadyClock(clock or SystemClock())
        store = store if store is not None else MemoryStore()
        self.node_id = node_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.threaded = threaded
        self.state = "new"
        self.claims = Claims()
        self.waiters = Waiters()
        link = EngineLink(self)
        self.client = Client(config, store, steady, engine=link, waiters=self.waiters)
        config = self.client.config
        self.metrics = Metrics(list(config.categories))
        self.settings = LiveSettings(store, config.categories)
        self.timer = Timer(steady)
        executor = Executor(steady, self.node_id, config.retry_base, config.retry_max, rng)
        kit = AttemptKit(
            steady, store, executor, self.client.handlers, self.claims, self.metrics,
            self.timer.schedule_mono,
        )  # fmt: skip
        self.workers = WorkerPools(
            config.categories, kit, link, budget=config.workers, node_id=self.node_id,
            idle_wait=config.poll_interval, threaded=threaded,
        )  # fmt: skip
        #: category -> its pool (FIFO and workers)
        self.pools: dict[str, WorkerPool] = self.workers.pools
        self._rebalance = RebalanceRequest()
        self.dispatcher = Dispatcher(
            store, steady, config, self.node_id, self.workers, self.claims, self.settings,
            self.waiters, self.timer, self._rebalance.set,
        )  # fmt: skip
        self.completer = Completer(
            store, steady, self.claims, self.waiters, self.metrics, self.dispatcher
        )
        self.housekeeper = Housekeeper(
            store, steady, config, self.node_id, self.workers, self.settings, self.metrics,
            self.waiters, self._rebalance, self.dispatcher.want,
        )  # fmt: skip
        self.threads: dict[str, threading.Thread] = {}
        self._deadline = 0.0

    # ================================================================ lifecycle
    def start(self) -> Scheduler:
        """Open the store, recover, load the settings, size the pools, start the threads.

        The order matters: nothing may claim or balance before recovery has put the
        previous run's tasks back and the settings are loaded.
        """
        if self.state != "new":
            raise SchedulerStateError(
                "scheduler", self.state, "can only be started once", "Build a new Scheduler"
            )
        store = self.store
        store.open(self.node_id)
        try:
            now = self.clock.now()
            log_recovery("interrupted tasks", store.recover(self.node_id, now))
            store.subscribe(self.dispatcher.hint)
            self.settings.reload()
            self.state = "running"
            self.workers.running = True
            self.dispatcher.start()
            self.housekeeper.start(now)  # the first balance spawns the workers
            store.promote_due(now)
            self.dispatcher.seed_timer()
            self.dispatcher.want(self.pools)
            self.housekeeper.heartbeat()
        except BaseException:
            self.state = "stopped"
            store.close()
            raise
        if self.threaded:
            bodies: dict[str, Callable[[], None]] = {
                "dispatcher": self.dispatcher.loop,
                "completer": self._complete_loop,
                "housekeeper": self.housekeeper.loop,
            }
            for name, body in bodies.items():
                thread = threading.Thread(target=body, name=f"jobsched-{name}", daemon=True)
                self.threads[name] = thread
                thread.start()
        return self

    def _complete_loop(self) -> None:
        self.completer.loop(self.config.poll_interval, self.config.commit_linger)

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, grace: float | None = None) -> list[int]:
        """Stop gracefully against one deadline; return the ids released unfinished.

        Called again while stopping (a second signal), it moves the deadline to
        ``now + grace`` (default: now) so the first call finishes fast, and returns at once.
        """
        if self.state == "stopping":
            self._deadline = min(self._deadline, self.clock.monotonic() + (grace or 0.0))
            return []
        if self.state != "running":
            return []
        grace = self.config.grace_period if grace is None else grace
        self._deadline = self.clock.monotonic() + grace
        self.state = "stopping"
        # 1. Nothing claims, rebalances or spawns from here on; the two threads end.
        self.workers.running = False
        self.dispatcher.stop()
        self.housekeeper.stop()
        for name in ("dispatcher", "housekeeper"):
            self._join(name, 0.5)
        # 2. Give back what waits in the FIFOs (claims in doubt are adopted first).
        released = self.dispatcher.close()
        self._release(released, "claimed tasks that had not started")
        # 3. Let running tasks finish until the deadline, 4. then give the rest back:
        # their threads are abandoned, and their outcomes are fenced out.
        self.workers.wait_for_threads(self._left)
        late = self.workers.abandon_running()
        self._release(late, "tasks still running at the deadline")
        # 5. The completer writes every outcome and ends; what is left (its thread died
        # or timed out) is written here, 6. then the last heartbeat, and the store closes.
        self.completer.finish()
        self._join("completer", 1.0)
        self.completer.flush(self._outcomes_lost)
        self.housekeeper.heartbeat(stopped=True)
        self.state = "stopped"
        self.store.close()
        return released + late

    def _join(self, name: str, at_least: float) -> None:
        thread = self.threads.get(name)
        if thread is not None:
            thread.join(timeout=max(at_least, self._left()))

    def _left(self) -> float:
        return max(0.0, self._deadline - self.clock.monotonic())

    def _release(self, ids: list[int], what: str) -> None:
        """Give tasks back at stop. If the store fails now, they stay `running` under this
        node's name, and the next start recovers them (never lost)."""
        if not ids:
            return
        try:
            self.store.release(ids, self.node_id)
        except Exception:
            log.exception(
                "stop: could not release %d tasks; the next start recovers them", len(ids)
            )
            return
        log.info("stop: released %d %s: %s", len(ids), what, ids[:100])

    @staticmethod
    def _outcomes_lost(pending: int) -> None:
        log.exception(
            "stop: could not write %d outcomes; the next start recovers their tasks", pending
        )

    # ================================================================ stepping (tests)
    def step(self) -> int:
        """Run every unit once on this thread (``threaded=False`` only).

        Order: dispatcher, one task per worker, completer, housekeeper, pool sizes.
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
        before = self._started()
        self.dispatcher.run_once()
        self.workers.step()
        while self.completer.run_once(0):
            pass
        self.housekeeper.run_once()
        self.workers.reconcile()
        self.housekeeper.refresh_counts()  # stepped observers see every step's effect
        return self._started() - before

    def _started(self) -> int:
        return sum(v["started"] for v in self.metrics.totals().values())

    def run_until_idle(self, max_steps: int = 1000) -> int:
        """Step until no task is in a FIFO, running or due (``threaded=False`` only)."""
        for steps in range(1, max_steps + 1):
            self.step()
            counts = self.store.counts()
            busy = any(per.get(QUEUED, 0) or per.get(RUNNING, 0) for per in counts.values())
            if not busy and not self.completer.pending():
                return steps
        raise SchedulerStateError("run_until_idle", max_steps, "steps did not drain the work", "")

    def snapshot(self) -> Snapshot:
        """An immutable picture of the node. Cheap: no store query (counts are cached)."""
        return build_snapshot(
            at=self.clock.now(),
            node_id=self.node_id,
            state=self.state,
            budget=self.budget,
            pools=self.pools,
            settings=self.settings,
            counts=self.housekeeper.counts,
            workers=tuple(self.workers.snapshots()),
            metrics=self.metrics,
            decisions=self.housekeeper.decisions(),
            abandoned_threads=self.workers.abandoned_threads,
        )

    # ================================================================ node-only operations
    def rebalance(self) -> None:
        """Run this node's balancer now, past the cooldown."""
        self.request_rebalance("rebalance")

    def request_rebalance(self, trigger: str = "rebalance") -> None:
        """Run the balancer at once, past the cooldown (operator changes, starvation)."""
        self._rebalance.set(trigger)

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
        self.client.budget = workers
        self.housekeeper.set_budget(workers)
        self.request_rebalance("budget")
