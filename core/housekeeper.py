"""The housekeeper: counts, the balancer, the heartbeat, the history, recovery of other nodes.

One step (:meth:`Housekeeper.run_once`) refreshes the per-state counts and samples them
into the history's minute under way (``core/history.py``; a finished minute is written
once, by this step), runs the balancer when its interval is up or a rebalance was
requested, and writes the heartbeat; on a store shared by several nodes it then puts back
the tasks of nodes whose heartbeat went stale, and the claimed-but-not-begun tasks of
nodes whose claim lease ran out. On a store other processes read, the heartbeat also goes
out early, at most every :data:`WORKERS_PUBLISH` seconds, when a worker started or
finished a task since the last one: a console attached to the store shows the workers as
fresh as its own refresh. Only the housekeeper applies the balancer's decisions to the
pools.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

from .balancer import Balancer, Decision, Demand
from .catalog import Catalog
from .clock import Clock
from .config import SchedulerConfig
from .counters import NodeCounters
from .errors import StorageError
from .history import Recorder
from .hooks import Hooks
from .limits import rate_cap
from .live_settings import LiveSettings
from .outage import OutageTracker
from .signals import TaskSignals
from .snapshot import Metrics, WorkerSnapshot, operator_view, queue_latency
from .store import TaskStore
from .task import NodeInfo, RecoveryReport
from .waiters import Waiters
from .workers import WorkerPools

log = logging.getLogger("jobsched")

#: Seconds between looks at whether the workers changed since the last heartbeat (the
#: console's own refresh interval): a node whose workers change writes at most 4
#: heartbeats a second, an idle one none beyond its interval.
WORKERS_PUBLISH = 0.25

#: A node's claim lease, in heartbeat intervals: on a shared store, once its heartbeat is
#: that much overdue, other nodes give back the tasks it claimed and has not begun (its
#: fenced starts then refuse them, should it come back). Three: a late heartbeat or two
#: cost nothing; a node silent that long loses only its waiting claims, not its runs.
CLAIM_LEASE_BEATS = 3


class RebalanceRequest:
    """A request to run the balancer at once, past its cooldown, and why."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._trigger = "rebalance"

    def set(self, trigger: str = "rebalance") -> None:
        self._trigger = trigger
        self._event.set()

    def take(self) -> str | None:
        """The trigger of a pending request (clearing it), or None."""
        if not self._event.is_set():
            return None
        self._event.clear()
        return self._trigger

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)


class Housekeeper:
    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        config: SchedulerConfig,
        node_id: str,
        pools: WorkerPools,
        settings: LiveSettings,
        metrics: Metrics,
        waiters: Waiters,
        rebalance: RebalanceRequest,
        want: Callable[[set[str]], None],
        *,
        signals: TaskSignals | None = None,
        outage: OutageTracker | None = None,
        catalog: Callable[[], Catalog] = Catalog,
        held: Callable[[], frozenset[str]] = frozenset,
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._node_id = node_id
        self._pools = pools
        self._settings = settings
        self._metrics = metrics
        self._waiters = waiters
        self._rebalance = rebalance
        self._want = want
        self._signals = signals or TaskSignals(Hooks(threaded=False))
        #: heartbeat: the node's handlers (for producers), categories its limits hold back
        self._catalog, self._held = catalog, held
        #: logs a store outage once per change of state
        self.outage = outage or OutageTracker("housekeeper", "the store", monotonic=clock.monotonic)
        self.balancer = Balancer(config.workers, config.cooldown)
        #: this node's history by the minute, written when each minute is over
        self.history = Recorder(store, node_id)
        #: False until started and again from stop on: decisions are not applied then
        self.running = False
        self.started_at = 0.0
        #: category -> state -> tasks, as of the last refresh (snapshots read this)
        self.counts: dict[str, dict[str, int]] = {}
        #: category -> run_at of the queued task it claims next, as of the last refresh
        self.heads: dict[str, float] = {}
        #: balancer decisions made since the start (the metrics exporter's counter)
        self.decisions_made = 0
        self._decisions: deque[dict[str, Any]] = deque(maxlen=50)
        self._next_counts = self._next_balance = self._next_heartbeat = 0.0
        self._next_workers = 0.0
        self._published: tuple[tuple[Any, ...], ...] = ()  # the workers of the last heartbeat
        self._stopping = threading.Event()

    def decisions(self) -> tuple[dict[str, Any], ...]:
        """The latest balancer decisions, newest first."""
        return tuple(self._decisions)

    def start(self, now: float) -> None:
        """Load the decisions of earlier runs, count, and size the pools for the start."""
        self.started_at = now
        self._decisions.extend(reversed(self._store.recent_decisions(self._decisions.maxlen or 50)))
        self.running = True
        self.balance("start", force=True)

    def refresh_counts(self) -> dict[str, dict[str, int]]:
        self.counts = self._store.counts()
        self.heads = self._store.queue_heads(list(self._pools.pools))
        return self.counts

    def set_budget(self, workers: int) -> None:
        self._pools.budget = workers
        self.balancer.budget = workers

    # --- the step ------------------------------------------------------------------------
    def run_once(self) -> None:
        mono = self._clock.monotonic()
        if mono >= self._next_counts:
            self._next_counts = mono + min(1.0, self._config.balance_interval)
            self.refresh_counts()
            self._metrics.sample(mono)
            self.record_history()
            self._write_history()
        trigger = self._rebalance.take()
        if trigger is not None:
            if self.running:
                self.balance(trigger, force=True)
        elif mono >= self._next_balance:
            self.balance("interval", force=False)
        if mono >= self._next_heartbeat:
            self.heartbeat()
            if self._store.multi_node and self.running:
                self._recover_others()
        elif self._publishes_workers() and mono >= self._next_workers:
            self._next_workers = mono + WORKERS_PUBLISH
            if self._worker_states() != self._published:
                self.heartbeat(early=True)  # a console attached to the store shows them now

    def _recover_others(self) -> None:
        """Shared store: put back the tasks of nodes whose heartbeat went stale, and the
        claimed tasks not begun of nodes whose claim lease ran out."""
        report = self._store.recover(self._node_id, self._clock.now())
        if self.recovered("tasks of other nodes", report):
            self._waiters.notify(report.orphaned)
            self._want(set(self._pools.pools))

    def recovered(self, what: str, report: RecoveryReport) -> bool:
        """Tell what a recovery did (``TaskSignals.recovered``) and count the tasks it
        failed as orphaned, per category, in this node's counters (so in its history).
        True if it did anything."""
        if not self._signals.recovered(what, report, self._store.get):
            return False
        orphans: Counter[tuple[str, str]] = Counter()
        for task_id in report.orphaned:
            record = self._store.get(task_id)
            if record is not None:
                orphans[record.category, "orphaned"] += 1
        self._metrics.add_many(orphans)
        return True

    # --- the history ---------------------------------------------------------------------
    def record_history(self) -> None:
        """Sample this node's counters and each category's queue (depth as an operator
        sees it, and latency) into the history's minute under way."""
        now = self._clock.now()
        waiting: dict[str, tuple[int, float | None]] = {}
        for name, pool in self._pools.pools.items():
            queued, _ = operator_view(self.counts.get(name, {}), pool.fifo.qsize())
            waiting[name] = (queued, queue_latency(now, self.heads.get(name), pool))
        self.history.sample(now, self._metrics.totals(), waiting)

    def _write_history(self) -> None:
        """Write the finished minutes, if any; on a store error they wait for the next step."""
        if not self.history.pending:
            return
        try:
            self.history.flush()
        except StorageError as exc:
            self.outage.failed(exc)
        except Exception:
            log.exception("could not store the history")

    def demands(self) -> list[Demand]:
        """What the balancer weighs, per category (see ``balancer.Demand``)."""
        counts = self.counts
        items = []
        for name, pool in self._pools.pools.items():
            cat = self._settings.category(name)
            settings = self._settings.get(name)
            queued, running = operator_view(counts.get(name, {}), pool.fifo.qsize())
            items.append(
                Demand(
                    name=name,
                    weight=cat.priority,
                    queued=queued,  # the FIFO's claimed tasks count as queued
                    running=running,
                    min_workers=cat.min_workers,
                    max_workers=cat.max_workers,
                    paused=settings.paused,
                    pinned=settings.pinned,
                    current=pool.target,
                    rate_cap=rate_cap(self._settings.limits.get(name), pool.avg_run, cat),
                )
            )
        return items

    def balance(self, trigger: str, force: bool) -> Decision | None:
        """Ask the balancer; apply and record its decision."""
        mono = self._clock.monotonic()
        self._next_balance = mono + self._config.balance_interval
        self.refresh_counts()
        decision = self.balancer.decide(self.demands(), self._clock.now(), mono, trigger, force)
        if decision is None:
            return None
        self._pools.set_targets(decision.targets)
        self._want(set(self._pools.pools))
        self.decisions_made += 1
        record = decision.to_dict()
        self._decisions.appendleft(record)
        try:
            self._store.add_decision(decision.at, record)
        except StorageError as exc:  # kept in memory; the next decision is stored
            self.outage.failed(exc)
        except Exception:
            log.exception("could not store a balancer decision")
        for line in decision.changes:
            log.info("balancer (%s): %s", trigger, line)
        return decision

    def counters(self) -> NodeCounters:
        return NodeCounters(
            by_category=self._metrics.totals(),
            fifo=self._pools.fifo_sizes(),
            targets=self._pools.targets(),
            abandoned_threads=self._pools.abandoned_threads,
            rates={name: round(rate, 3) for name, rate in self._metrics.rates().items()},
            run_times=self._pools.run_times(),
            python=sys.version.split()[0],
            catalog=self._catalog(),
            held=tuple(sorted(self._held())),
        )

    def heartbeat(self, stopped: bool = False, early: bool = False) -> None:
        """Write this node's heartbeat; the store's error propagates (the loop, the start
        and the stop each report it their way). An ``early`` one (changed workers) leaves
        the next regular one, which also recovers dead nodes' tasks, where it was."""
        if not early:
            self._next_heartbeat = self._clock.monotonic() + self._config.heartbeat_interval
        snapshots = self._pools.snapshots()
        self._published = self._worker_states(snapshots)
        node = NodeInfo(
            node_id=self._node_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=self.started_at,
            heartbeat_at=self._clock.now(),
            budget=self._pools.budget,
            workers=[w.to_dict() for w in snapshots],
            counters=self.counters(),
            stopped=stopped,
            claim_lease=CLAIM_LEASE_BEATS * self._config.heartbeat_interval,
        )
        self._store.heartbeat(node)

    def farewell(self) -> None:
        """A stop's last words, once the last outcomes are written: the history of the
        minute under way (logged if it cannot be written), then the heartbeat that marks
        this node stopped (its store error propagates)."""
        try:
            self.record_history()
            self.history.close()
            self.history.flush()
        except Exception as exc:
            log.warning("stop: could not write the history of the last minutes: %s", exc)
        self.heartbeat(stopped=True)

    def _publishes_workers(self) -> bool:
        """Whether to look for changed workers: on a store other processes read, and not
        while it is unreachable (a step that skipped the store must not count as the store
        being back)."""
        return self._store.shared and not self.outage.down

    def _worker_states(self, snapshots: Sequence[WorkerSnapshot] | None = None) -> tuple[Any, ...]:
        """What an attached console shows of each worker, less the clock, and which
        categories are held back (HELD shows as soon as a worker change would)."""
        shown = self._pools.snapshots() if snapshots is None else snapshots
        workers = tuple((w.name, w.category, w.state, w.task_id, w.retiring) for w in shown)
        return (*workers, ("held", *sorted(self._held())))

    # --- the thread ----------------------------------------------------------------------
    def loop(self) -> None:
        """The thread body: one step, then sleep until the next is due or a rebalance is
        requested, until :meth:`stop`."""
        tracker = self.outage
        while not self._stopping.is_set():
            failures = tracker.failures  # a step may record a failure and carry on
            try:
                self.run_once()
                if tracker.failures == failures:  # "back" only once a whole step worked
                    tracker.ok()
            except StorageError as exc:
                tracker.failed(exc)
            except Exception:
                log.exception("housekeeping step failed; retrying")
            due = min(self._next_balance, self._next_counts, self._next_heartbeat)
            if self._publishes_workers():
                due = min(due, self._next_workers)
            self._rebalance.wait(max(0.01, due - self._clock.monotonic()))

    def stop(self) -> None:
        self.running = False
        self._stopping.set()
        self._rebalance.set("stop")
