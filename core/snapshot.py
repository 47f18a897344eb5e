"""Immutable pictures of a running scheduler, for the console, ``status`` and tests.

``Scheduler.snapshot()`` builds one without blocking any engine thread for long; the UI
polls it about four times a second.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .histogram import FOLD_AT, RunHistogramSnapshot
from .progress import TaskProgress
from .task import CANCELLED, FAILED, QUEUED, RUNNING, SCHEDULED, SUCCEEDED

if TYPE_CHECKING:
    from .live_settings import LiveSettings
    from .pool import WorkerPool


def operator_view(per_state: Mapping[str, int], fifo: int) -> tuple[int, int]:
    """(queued, running) of a category as an operator sees them.

    A claimed task waiting in a node's FIFO is ``running`` in the store but, to an
    operator, still queued for a worker: move the FIFO's tasks back to queued.
    """
    running = per_state.get(RUNNING, 0)
    return per_state.get(QUEUED, 0) + min(fifo, running), max(0, running - fifo)


@dataclass(frozen=True)
class WorkerSnapshot:
    name: str
    category: str
    state: str  # idle | busy
    task_id: int | None = None
    handler: str | None = None
    started_at: float | None = None  # wall clock
    elapsed: float = 0.0
    retiring: bool = False
    #: the running task's latest progress report, if it made one
    progress: TaskProgress | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "state": self.state,
            "task_id": self.task_id,
            "handler": self.handler,
            "started_at": self.started_at,
            "elapsed": round(self.elapsed, 3),
            "retiring": self.retiring,
            "progress": self.progress.to_dict() if self.progress is not None else None,
        }


@dataclass(frozen=True)
class CategorySnapshot:
    name: str
    kind: str
    priority: float
    paused: bool
    pinned: int | None
    min_workers: int
    max_workers: int | None
    workers: int  # the balancer's target for this pool
    threads: int  # live worker threads, retiring ones included
    busy: int
    fifo: int  # claimed tasks waiting in the in-process FIFO
    queued: int
    scheduled: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    rate: float  # tasks finished per second, recent
    # Run time of this category's latest tasks (seconds), median and 95th percentile.
    run_p50: float | None = None
    run_p95: float | None = None
    #: its rate limits in force ("20/s burst 5; web.fetch 5/s": its own, then its
    #: handlers'), or None; ``held``: a limit holds back tasks that wait (they start as
    #: tokens come)
    limit: str | None = None
    held: bool = False
    #: Queue latency: seconds the longest-waiting due task has waited (None: none waits).
    latency: float | None = None
    #: Every run time since the node started, in cumulative buckets (None: not known,
    #: e.g. in an attached view).
    run_histogram: RunHistogramSnapshot | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.run_histogram is not None:
            out["run_histogram"] = asdict(self.run_histogram)
        return out


@dataclass(frozen=True)
class Snapshot:
    at: float
    node_id: str
    state: str
    budget: int
    categories: tuple[CategorySnapshot, ...]
    workers: tuple[WorkerSnapshot, ...]
    decisions: tuple[dict[str, Any], ...]
    abandoned_threads: int
    counters: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    #: category -> counter (:attr:`Metrics.KEYS`) -> attempts since the node started
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    #: balancer decisions made since the node started
    balancer_decisions: int = 0
    #: thread kind (dispatcher, completer, housekeeper, workers) -> failed store calls
    store_errors: dict[str, int] = field(default_factory=dict)
    #: every node this snapshot shows (an attached view may show several; ``node_id``
    #: then names them all for display); empty: only ``node_id``
    node_ids: tuple[str, ...] = ()

    @property
    def owners(self) -> frozenset[str]:
        """The node ids whose claims this snapshot's workers account for."""
        return frozenset(self.node_ids or (self.node_id,))

    def category(self, name: str) -> CategorySnapshot:
        for cat in self.categories:
            if cat.name == name:
                return cat
        raise KeyError(name)

    @property
    def pool_total(self) -> int:
        return sum(c.workers for c in self.categories)


class Metrics:
    """Counters of finished attempts per category, and recent rates. ``orphaned``
    counts the tasks this node failed as orphaned in a recovery (of its own previous run,
    or of a dead node on a shared store)."""

    KEYS = ("started", "succeeded", "failed", "cancelled", "retried", "timed_out", "fenced",
            "orphaned")  # fmt: skip

    def __init__(self, categories: list[str], window: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._counts = {c: dict.fromkeys(self.KEYS, 0) for c in categories}
        self._starts: deque[str] = deque()  # see started()
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._window = window

    def add(self, category: str, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[category][key] += n

    def started(self, category: str) -> None:
        """A worker began a task of ``category``: counted without the lock (an atomic
        append), taken into the counts at every read and every ``FOLD_AT`` starts."""
        starts = self._starts
        starts.append(category)
        if len(starts) >= FOLD_AT:
            with self._lock:
                self._fold_starts()

    def _fold_starts(self) -> None:
        starts, counts = self._starts, self._counts
        while starts:
            counts[starts.popleft()]["started"] += 1

    def add_many(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add a batch of ``(category, key) -> n`` under one lock (unknown categories,
        e.g. of a task claimed before a restart, are ignored)."""
        with self._lock:
            for (category, key), n in counts.items():
                per = self._counts.get(category)
                if per is not None:
                    per[key] += n

    def totals(self) -> dict[str, dict[str, int]]:
        with self._lock:
            self._fold_starts()
            return {c: dict(v) for c, v in self._counts.items()}

    def _done(self) -> dict[str, int]:
        return {c: v["succeeded"] + v["failed"] + v["cancelled"] for c, v in self._counts.items()}

    def sample(self, mono: float) -> None:
        with self._lock:
            self._samples.append((mono, self._done()))
            while len(self._samples) > 2 and mono - self._samples[1][0] >= self._window:
                self._samples.popleft()

    def rates(self) -> dict[str, float]:
        with self._lock:
            if len(self._samples) < 2:
                return dict.fromkeys(self._counts, 0.0)
            (t0, first), (t1, last) = self._samples[0], self._samples[-1]
            span = t1 - t0
            if span <= 0:
                return dict.fromkeys(self._counts, 0.0)
            return {c: (last[c] - first[c]) / span for c in self._counts}


def build_snapshot(
    *,
    at: float,
    node_id: str,
    state: str,
    budget: int,
    pools: Mapping[str, WorkerPool],
    settings: LiveSettings,
    counts: Mapping[str, Mapping[str, int]],
    workers: tuple[WorkerSnapshot, ...],
    metrics: Metrics,
    decisions: tuple[dict[str, Any], ...],
    abandoned_threads: int,
    held: frozenset[str] = frozenset(),
    heads: Mapping[str, float] | None = None,
    balancer_decisions: int = 0,
    store_errors: Mapping[str, int] | None = None,
) -> Snapshot:
    """A node's :class:`Snapshot` from its units' state (``Scheduler.snapshot``);
    ``heads`` is the store's :meth:`~.store.TaskStore.queue_heads` as last read, ``held``
    the categories whose rate limits hold back waiting tasks now."""
    rates = metrics.rates()
    heads = heads or {}
    cats = tuple(
        _category_snapshot(name, pool, settings, counts.get(name, {}), workers, rates, held)
        for name, pool in pools.items()
    )
    cats = tuple(
        replace(cat, latency=queue_latency(at, heads.get(cat.name), pools[cat.name]))
        for cat in cats
    )
    totals = metrics.totals()
    return Snapshot(
        at=at,
        node_id=node_id,
        state=state,
        budget=budget,
        categories=cats,
        workers=workers,
        decisions=decisions,
        abandoned_threads=abandoned_threads,
        counters={key: sum(v[key] for v in totals.values()) for key in Metrics.KEYS},
        rate=sum(rates.values()),
        totals=totals,
        balancer_decisions=balancer_decisions,
        store_errors=dict(store_errors or {}),
    )


def queue_latency(now: float, store_head: float | None, pool: WorkerPool) -> float | None:
    """Seconds the longest-waiting due task of a category has waited: the older of the
    head of this node's FIFO (claimed, not started) and the store's queue head."""
    heads = [h for h in (store_head, pool.fifo.head_run_at()) if h is not None]
    return max(0.0, now - min(heads)) if heads else None


def _category_snapshot(
    name: str,
    pool: WorkerPool,
    settings: LiveSettings,
    per: Mapping[str, int],
    workers: tuple[WorkerSnapshot, ...],
    rates: Mapping[str, float],
    held: frozenset[str],
) -> CategorySnapshot:
    cat = settings.category(name)
    limit = settings.limits.get(name)
    limits = [] if limit is None else [limit.describe()]
    limits += [f"{h} {lim.describe()}" for h, s in settings.handlers.items()
               if s.category == name and (lim := settings.handler_limit(h)) is not None]  # fmt: skip
    stored = settings.get(name)
    fifo = pool.fifo.qsize()
    queued, running = operator_view(per, fifo)
    run_p50, run_p95 = pool.run_percentiles()
    return CategorySnapshot(
        name=name,
        kind=cat.kind,
        priority=cat.priority,
        paused=stored.paused,
        pinned=stored.pinned,
        min_workers=cat.min_workers,
        max_workers=cat.max_workers,
        workers=pool.target,
        threads=len(pool.workers),
        busy=sum(1 for w in workers if w.category == name and w.state == "busy"),
        fifo=fifo,
        queued=queued,
        scheduled=per.get(SCHEDULED, 0),
        running=running,
        succeeded=per.get(SUCCEEDED, 0),
        failed=per.get(FAILED, 0),
        cancelled=per.get(CANCELLED, 0),
        rate=rates.get(name, 0.0),
        run_p50=run_p50,
        run_p95=run_p95,
        limit="; ".join(limits) or None,
        held=name in held,
        run_histogram=pool.run_histogram.read(),
    )
