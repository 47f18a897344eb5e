"""A node that runs in another process, seen through the shared store: the console's
:class:`~console.source.Source` for ``jobsched console --attach``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping

from jobsched.core import CategorySnapshot, Client, Clock, Snapshot, WorkerSnapshot
from jobsched.core.config import SchedulerConfig
from jobsched.core.progress import TaskProgress
from jobsched.core.query import Page, TaskQuery
from jobsched.core.snapshot import operator_view
from jobsched.core.task import (
    CANCELLED,
    FAILED,
    RUNNING,
    SCHEDULED,
    SUCCEEDED,
    NodeInfo,
)

from . import reports
from .client_calls import ClientCalls

RATE_WINDOW = 5.0


class AttachedView(ClientCalls):
    """A node seen through the shared store: counts, settings, decisions and the workers
    of every live node's latest heartbeat. Runs no worker; operator changes go through the
    :class:`~core.Client` and every node picks them up within a balancer interval.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls = client
        self._state = "new"
        # A node is live while its heartbeat is younger than a few intervals (as in `status`).
        self.stale_after = reports.stale_after(client.config.heartbeat_interval)
        self._done: deque[tuple[float, dict[str, int]]] = deque()
        self._done_lock = threading.Lock()  # the console reads from its timer and after changes

    # --- what it is ----------------------------------------------------------------------
    @property
    def config(self) -> SchedulerConfig:
        return self.client.config

    @property
    def clock(self) -> Clock:
        return self.client.clock

    @property
    def location(self) -> str:
        return self.client.location

    @property
    def state(self) -> str:
        """``new``, then ``attached`` once the store is open, ``stopped`` once closed."""
        return self._state

    def start(self) -> None:
        """Open the store as a process that is not a node (it takes no node lock)."""
        self.client.store.open(None)
        self._state = "attached"

    def stop(self, grace: float | None = None) -> list[int]:
        """Close the store. Runs no task, so it releases none (``grace`` is not used)."""
        if self._state == "attached":
            self._state = "stopped"
            self.client.store.close()
        return []

    # --- reading ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        counts = self.client.counts()
        settings = self.client.load_settings()
        decisions = tuple(self.client.recent_decisions(20))
        now = self.clock.now()
        live = self.live_nodes(now)
        workers = self._workers(live, now)
        rates = self._rates(counts)
        targets: dict[str, int] = {}
        waiting: dict[str, int] = {}  # claimed into a live node's FIFO: queued for a worker
        for node in live:
            for name, number in node.counters.targets.items():
                targets[name] = targets.get(name, 0) + number
            for name, number in node.counters.fifo.items():
                waiting[name] = waiting.get(name, 0) + number
        runs = _run_times(live)
        # A category any live node's limits hold back, as of its latest heartbeat.
        held = {name for node in live for name in node.counters.held}
        if not targets and decisions:
            targets = dict(decisions[0].get("targets", {}))
        cats = []
        for name in self.config.categories:
            cat = self.client.category_config(name, settings)
            stored = settings.get(name)
            per = counts.get(name, {})
            queued, running = operator_view(per, waiting.get(name, 0))
            mine = [w for w in workers if w.category == name]
            cats.append(
                CategorySnapshot(
                    name=name,
                    kind=cat.kind,
                    priority=cat.priority,
                    paused=bool(stored and stored.paused),
                    pinned=stored.pinned if stored else None,
                    min_workers=cat.min_workers,
                    max_workers=cat.max_workers,
                    workers=int(targets.get(name, sum(1 for w in mine if not w.retiring))),
                    threads=len(mine),
                    busy=sum(1 for w in mine if w.state == "busy"),
                    fifo=waiting.get(name, 0),
                    queued=queued,
                    scheduled=per.get(SCHEDULED, 0),
                    running=running,
                    succeeded=per.get(SUCCEEDED, 0),
                    failed=per.get(FAILED, 0),
                    cancelled=per.get(CANCELLED, 0),
                    rate=rates.get(name, 0.0),
                    run_p50=runs.get(name, (None, None))[0],
                    run_p95=runs.get(name, (None, None))[1],
                    limit=None if (limit := cat.rate_limit()) is None else limit.describe(),
                    held=name in held and not (stored and stored.paused),
                )
            )
        return Snapshot(
            at=now,
            node_id=", ".join(n.node_id for n in live) or "no live node",
            node_ids=tuple(n.node_id for n in live),
            state="attached" if live else "no node",
            budget=sum(n.budget for n in live) or self.config.workers,
            categories=tuple(cats),
            workers=tuple(workers),
            decisions=decisions,
            abandoned_threads=sum(n.counters.abandoned_threads for n in live),
            counters=_counters(live),
            rate=sum(rates.values()),
        )

    def live_nodes(self, now: float) -> list[NodeInfo]:
        """Nodes with a fresh heartbeat, freshest first."""
        nodes = [
            n
            for n in self.client.nodes()
            if not n.stopped and now - n.heartbeat_at <= self.stale_after
        ]
        return sorted(nodes, key=lambda n: -n.heartbeat_at)

    def _still_running(self, live: list[NodeInfo]) -> set[int]:
        """Of the tasks the heartbeats show busy, those still running in the store now: a
        heartbeat is up to an interval old, and short tasks finish long before the next."""
        ids = sorted({int(w["task_id"]) for n in live for w in n.workers
                      if w.get("state") == "busy" and w.get("task_id") is not None})  # fmt: skip
        if not ids:
            return set()
        query = TaskQuery(states=(RUNNING,), id_ranges=tuple((i, i) for i in ids))
        return {t.id for t in self.client.find_tasks(Page(query, "oldest", len(ids)))}

    def _workers(self, live: list[NodeInfo], now: float) -> list[WorkerSnapshot]:
        several = len(live) > 1
        running = self._still_running(live)
        out = []
        for node in live:
            prefix = f"{node.node_id.split(':')[0]}:{node.pid}/" if several else ""
            for data in node.workers:
                started = data.get("started_at")
                busy = data.get("state") == "busy" and data.get("task_id") in running
                out.append(
                    WorkerSnapshot(
                        name=prefix + str(data.get("name", "?")),
                        category=str(data.get("category", "?")),
                        state="busy" if busy else "idle",
                        task_id=data.get("task_id") if busy else None,
                        handler=data.get("handler") if busy else None,
                        started_at=started,
                        elapsed=max(0.0, now - started) if busy and started else 0.0,
                        retiring=bool(data.get("retiring")),
                        progress=TaskProgress.from_dict(data.get("progress")) if busy else None,
                    )
                )
        return out

    def _rates(self, counts: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
        """Tasks finished per second, from how the counts moved over the last seconds."""
        mono = self.clock.monotonic()
        done = {
            c: counts.get(c, {}).get(SUCCEEDED, 0)
            + counts.get(c, {}).get(FAILED, 0)
            + counts.get(c, {}).get(CANCELLED, 0)
            for c in self.config.categories
        }
        with self._done_lock:
            self._done.append((mono, done))
            while len(self._done) > 2 and mono - self._done[1][0] >= RATE_WINDOW:
                self._done.popleft()
            (t0, first), (t1, last) = self._done[0], self._done[-1]
        if t1 <= t0:
            return dict.fromkeys(done, 0.0)
        return {c: max(0.0, (last[c] - first[c]) / (t1 - t0)) for c in done}


def _counters(nodes: Iterable[NodeInfo]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for node in nodes:
        for per in node.counters.by_category.values():
            for key, value in per.items():
                totals[key] = totals.get(key, 0) + value
    return totals


def _run_times(nodes: list[NodeInfo]) -> dict[str, tuple[float | None, float | None]]:
    """category -> (p50, p95) of the freshest node that reports them (the percentiles of
    several nodes do not combine)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for node in nodes:  # freshest first
        for name, pair in node.counters.run_times.items():
            out.setdefault(name, pair)
    return out
