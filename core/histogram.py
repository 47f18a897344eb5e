"""Cumulative run-time buckets per category, for a true Prometheus histogram.

Each :class:`~.pool.WorkerPool` owns one :class:`RunHistogram` and notes every attempt's
run time in it where it keeps its percentile ring. The exporter (console/metrics.py) reads
:meth:`RunHistogram.read` through the scheduler's snapshot. Counts only grow while the
node runs, as Prometheus counters must.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
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


#: Observations a histogram holds unfolded at most (see RunHistogram.observe).
FOLD_AT = 1024


class RunHistogram:
    """Bucket counts of run times. ``observe`` is called by every worker of a pool after
    each task, so it takes no lock: it appends to a deque (atomic), and the counts take in
    what waits there under the lock, at every read and every ``FOLD_AT`` observations.
    No observation is lost, and a read sees every one made before it."""

    def __init__(self, bounds: tuple[float, ...] = RUN_BUCKETS) -> None:
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self._total = 0.0
        self._lock = threading.Lock()
        self._waiting: deque[float] = deque()

    def observe(self, seconds: float) -> None:
        waiting = self._waiting
        waiting.append(seconds)
        if len(waiting) >= FOLD_AT:
            with self._lock:
                self._fold()

    def _fold(self) -> None:
        """Count what waits (under the lock; workers may append meanwhile)."""
        waiting, bounds, counts = self._waiting, self.bounds, self._counts
        while waiting:
            seconds = waiting.popleft()
            counts[bisect_left(bounds, seconds)] += 1
            self._total += seconds

    def read(self) -> RunHistogramSnapshot:
        with self._lock:
            self._fold()
            counts = list(self._counts)
            total = self._total
        cumulative: list[int] = []
        running = 0
        for n in counts[:-1]:
            running += n
            cumulative.append(running)
        return RunHistogramSnapshot(self.bounds, tuple(cumulative), running + counts[-1], total)
