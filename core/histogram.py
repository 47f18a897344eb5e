"""Cumulative run-time buckets per category, for a true Prometheus histogram.

Each :class:`~.pool.WorkerPool` owns one :class:`RunHistogram` and notes every attempt's
run time in it where it keeps its percentile ring. The exporter (console/metrics.py) reads
:meth:`RunHistogram.read` through the scheduler's snapshot. Counts only grow while the
node runs, as Prometheus counters must.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass

#: Upper bounds (seconds, inclusive) of the run-time buckets; the last bucket is +Inf.
RUN_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip


@dataclass(frozen=True)
class RunHistogramSnapshot:
    """Cumulative counts: ``cumulative[i]`` runs took at most ``bounds[i]`` seconds;
    ``count`` is every run (the +Inf bucket) and ``total`` their summed seconds."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total: float


class RunHistogram:
    """Bucket counts of run times. ``observe`` is called by every worker of a pool; it
    takes a lock held for one bisect and two additions, so no increment is lost."""

    def __init__(self, bounds: tuple[float, ...] = RUN_BUCKETS) -> None:
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self._total = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        index = bisect_left(self.bounds, seconds)
        with self._lock:
            self._counts[index] += 1
            self._total += seconds

    def read(self) -> RunHistogramSnapshot:
        with self._lock:
            counts = list(self._counts)
            total = self._total
        cumulative: list[int] = []
        running = 0
        for n in counts[:-1]:
            running += n
            cumulative.append(running)
        return RunHistogramSnapshot(self.bounds, tuple(cumulative), running + counts[-1], total)
