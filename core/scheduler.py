"""The scheduler: composes the store, the client and the engine's units.

Units (each owns its state and its thread body, a one-iteration step that tests call):
- :class:`~.dispatcher.Dispatcher`: promotes due delayed tasks, claims into the FIFOs,
  the direct hand-off, polls the store for other processes' writes;
- :class:`~.completer.Completer`: writes outcomes in batches (group commit), wakes waiters;
- :class:`~.housekeeper.Housekeeper`: counts, the balancer, the heartbeat, recovery of
  dead nodes;
- :class:`~.workers.WorkerPools`: the workers of each category, each running its whole
  attempt;
- :class:`~.retention.Retention`: deletes finished tasks past their retention, a batch
  at a time.
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
from .config import MAX_BUDGET, SchedulerConfig, check_capacity, check_int, check_seconds
from .dispatcher import Dispatcher
from .errors import SchedulerStateError, StorageError
from .execute import Executor
from .hooks import Hook, Hooks
from .housekeeper import Housekeeper, RebalanceRequest
from .link import EngineLink
from .live_settings import LiveSettings
from .memory_store import MemoryStore
from .outage import OutageTracker
from .pool import AttemptKit, WorkerPool
from .retention import Retention, parse_history, parse_rules
from .schedules import Schedules
from .signals import TaskSignals
from .snapshot import Metrics, Snapshot, build_snapshot
from .stopping import STOP_MARGIN, StopWrites
from .store import TaskStore
from .task import QUEUED, RUNNING
from .timer import Timer
from .waiters import Waiters
from .workers import WorkerPools

log = logging.getLogger("jobsched")

__all__ = ["STOP_MARGIN", "Scheduler"]


def outage_trackers(location: str, monotonic: Callable[[], float]) -> dict[str, OutageTracker]:
    """One store outage tracker per thread kind (see core/outage)."""
    return {
        name: OutageTracker(name, location, monotonic=monotonic)
        for name in ("dispatcher", "completer", "housekeeper", "workers", "schedules", "retention")
    }


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
        self.settings = LiveSettings(store, config.categories, self.client.handlers)
        self.timer = Timer(steady)
        # Task events: logged once each, and queued for the hooks if any (see on()).
        self.hooks = Hooks(threaded)
        self.signals = TaskSignals(self.hooks)
        #: thread kind -> its tracker: logs a store outage once per change of state
        self.outages = outage_trackers(self.location, steady.monotonic)
        self.workers = self._worker_pools(link, rng)
        #: category -> its pool (FIFO and workers)
        self.pools: dict[str, WorkerPool] = self.workers.pools
        self._rebalance = RebalanceRequest()  # ticker: recurring schedules (core/schedules)
        self.dispatcher = Dispatcher(
            store, steady, config, self.node_id, self.workers, self.claims, self.settings,
            self.waiters, self.timer, self._rebalance.set,
            signals=self.signals, outage=self.outages["dispatcher"],
        )  # fmt: skip
        self.completer = Completer(store, steady, self.claims, self.waiters, self.metrics,
                                   self.dispatcher, outage=self.outages["completer"])  # fmt: skip
        self.housekeeper = Housekeeper(
            store, steady, config, self.node_id, self.workers, self.settings, self.metrics,
            self.waiters, self._rebalance, self.dispatcher.want,
            signals=self.signals, outage=self.outages["housekeeper"], catalog=self.client.catalog,
            held=self.held_categories,
        )  # fmt: skip
        self.ticker = Schedules(store, steady, self.client.schedules, self.outages["schedules"])
        self.retention = self._retention(store, config, steady)
        self.threads: dict[str, threading.Thread] = {}
        self._stop = StopWrites(store, steady, self.node_id, self.location)

    @property
    def unreleased(self) -> list[int]:
        """Ids a stop could not give back (the store failed): still `running` there,
        until recovered (by another node once this one's heartbeat is stale, or by the
        next start)."""
        return self._stop.unreleased

    def _retention(self, store: TaskStore, config: SchedulerConfig, clock: Clock) -> Retention:
        """Deletes finished tasks past their retention; never those a wait() here waits on."""
        rules = parse_rules(config.retention)
        return Retention(
            store, rules, clock, spare=self.waiters.waited,
            history=parse_history(config.history_retention), outage=self.outages["retention"],
        )  # fmt: skip

    def _worker_pools(self, link: EngineLink, rng: random.Random | None) -> WorkerPools:
        config, clock = self.config, self.clock
        executor = Executor(
            clock, self.node_id, config.retry_base, config.retry_max, rng, self.signals,
            config.max_result_bytes,
        )  # fmt: skip
        kit = AttemptKit(
            clock, self.store, executor, self.client.handlers, self.claims, self.metrics,
            self.timer.schedule_mono, self.signals, self.outages["workers"],
        )  # fmt: skip
        return WorkerPools(
            config.categories, kit, link, budget=config.workers, node_id=self.node_id,
            idle_wait=config.poll_interval, threaded=self.threaded,
        )  # fmt: skip

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
            self.housekeeper.recovered("interrupted tasks", store.recover(self.node_id, now))
            store.subscribe(self.dispatcher.hint)
            self.settings.reload()
            self.state = "running"
            self.hooks.open()
            self.workers.running = True
            self.dispatcher.start()
            self.housekeeper.start(now)  # the first balance spawns the workers
            self.ticker.start(now)
            store.promote_due(now)
            self.dispatcher.seed_timer()
            self.dispatcher.want(self.pools)
            try:
                self.housekeeper.heartbeat()
            except StorageError as exc:  # the housekeeper writes it again soon
                self.housekeeper.outage.failed(exc)
        except BaseException:
            self.state = "stopped"
            store.close()
            self.hooks.close(0.0)
            raise
        if self.threaded:
            bodies: dict[str, Callable[[], None]] = {
                "dispatcher": self.dispatcher.loop,
                "completer": self._complete_loop,
                "housekeeper": self.housekeeper.loop,
                "schedules": self.ticker.loop,
                "retention": self.retention.loop,
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
        """Stop gracefully against one deadline; return the ids released unfinished
        (those whose release could not be written are in ``unreleased`` instead).

        Called again while stopping (a second signal), it moves the deadline to
        ``now + grace`` (default: now) so the first call finishes fast, and returns at once.
        A store that does not answer cannot hold it past the deadline plus
        ``STOP_MARGIN``: each last write gets what is left of that (see core/stopping).
        """
        check_seconds("grace", grace, allow_none=True, allow_zero=True)
        if self.state == "stopping":
            self._stop.hurry(grace or 0.0)
            return []
        if self.state != "running":
            return []
        end = self._stop
        end.begin(self.config.grace_period if grace is None else grace)
        self.state = "stopping"
        # 1. Nothing claims, rebalances, spawns or prunes from here on; those threads end.
        self.workers.running = False
        self.dispatcher.stop()
        self.housekeeper.stop()
        self.ticker.stop()
        self.retention.stop()
        for name in ("dispatcher", "housekeeper", "schedules", "retention"):
            self._join(name, 0.5)
        # 2. Give back what waits in the FIFOs (claims in doubt are adopted first).
        released = self.dispatcher.close(end.bounded)
        end.release(released, "claimed tasks that had not started")
        # 3. Let running tasks finish until the deadline, 4. then give the rest back:
        # their threads are abandoned, and their outcomes are fenced out.
        self.workers.wait_for_threads(end.left)
        late = self.workers.abandon_running()
        end.release(late, "tasks still running at the deadline")
        # 5. The completer writes every outcome and ends; what is left (its thread died
        # or timed out) is written here, 6. then the last heartbeat, and the store closes.
        self.completer.finish()
        self._join("completer", 1.0)
        end.write_outcomes(self.completer)
        end.heartbeat(self.housekeeper.farewell)  # the history's last minute, then stopped
        self.state = "stopped"
        end.close_store()
        # Last: the events of the final outcomes.
        self.hooks.close(end.join_time(0.5))
        return end.released(released + late)

    def _join(self, name: str, at_least: float) -> None:
        thread = self.threads.get(name)
        if thread is not None:
            thread.join(timeout=self._stop.join_time(at_least))

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

    # ================================================================ stepping (tests)
    def step(self) -> int:
        """Run every unit once on this thread (``threaded=False`` only).

        Order: dispatcher, one task per worker, completer, housekeeper, pool sizes,
        one retention batch.
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
        self.ticker.run_once()
        self.dispatcher.run_once()
        self.workers.step()
        while self.completer.run_once(0):
            pass
        while self.hooks.step():
            pass
        self.housekeeper.run_once()
        self.workers.reconcile()
        self.retention.run_once(self.clock.now())
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

    def held_categories(self) -> frozenset[str]:
        """Categories whose rate limits hold back waiting tasks now (a paused one is
        shown paused instead)."""
        return frozenset(c for c in self.dispatcher.gate.held() if not self.settings.paused(c))

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
            held=self.held_categories(),
            heads=self.housekeeper.heads,
            balancer_decisions=self.housekeeper.decisions_made,
            store_errors={name: t.failures for name, t in self.outages.items()},
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
