"""Immutable pictures of a running scheduler, for the console, ``status`` and tests.

``Scheduler.snapshot()`` builds one without blocking any engine thread for long; the UI
polls it about four times a second.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


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

    def category(self, name: str) -> CategorySnapshot:
        for cat in self.categories:
            if cat.name == name:
                return cat
        raise KeyError(name)

    @property
    def pool_total(self) -> int:
        return sum(c.workers for c in self.categories)


class Metrics:
    """Counters of finished attempts per category, and recent rates."""

    KEYS = ("started", "succeeded", "failed", "cancelled", "retried", "timed_out", "fenced")

    def __init__(self, categories: list[str], window: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._counts = {c: dict.fromkeys(self.KEYS, 0) for c in categories}
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._window = window

    def add(self, category: str, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[category][key] += n

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
