"""Retention soak (not run in CI): a node at a steady submit rate, pruning as it goes.

    python bench/retention_soak.py [--rate 1000] [--minutes 8] [--keep 1m] [--every 15]

One process runs a node on a fresh SQLite file (4 workers, no-op tasks,
``retention.succeeded`` = ``--keep``) and submits one task at a time at ``--rate`` per
second from one thread, timing each acknowledged submit. Every ``--every`` seconds it
prints the database file's size (main file and ``-wal``), the process's RSS, the rows in
the store, the rows retention deleted so far, and the 99th percentile submit latency of
that window, split between submits that overlapped a prune batch and those that did not.
Prune batches are timed by wrapping the store's ``prune``. The last lines summarise the
second half of the run (after the first retention window has passed) against the first
samples.
"""

from __future__ import annotations

import argparse
import bisect
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig  # noqa: E402
from jobsched.storage import open_store  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def file_mb(path: str) -> tuple[float, float]:
    sizes = [os.path.getsize(p) if os.path.exists(p) else 0 for p in (path, path + "-wal")]
    return sizes[0] / 1e6, sizes[1] / 1e6


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100)[98] * 1000


class PruneClock:
    """The store's prune, wrapped: the (start, end) of every batch that deleted rows."""

    def __init__(self, store: Any) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self._prune = store.prune
        store.prune = self.prune

    def prune(self, *args: Any, **kwargs: Any) -> int:
        began = time.perf_counter()
        deleted: int = self._prune(*args, **kwargs)
        if deleted:
            self.starts.append(began)
            self.ends.append(time.perf_counter())
        return deleted

    def overlaps(self, began: float, ended: float) -> bool:
        """Whether a prune batch ran during [began, ended] (batches never overlap)."""
        i = bisect.bisect_right(self.starts, ended) - 1
        return i >= 0 and self.ends[i] >= began


class Histogram:
    """Latencies in 10 µs buckets up to 1 s: a percentile over the whole run in fixed
    memory, so the samples do not show in the RSS being measured."""

    STEP = 1e-5

    def __init__(self) -> None:
        self.buckets = [0] * 100_001

    def add(self, seconds: float) -> None:
        self.buckets[min(len(self.buckets) - 1, int(seconds / self.STEP))] += 1

    def p99(self) -> tuple[float, int]:
        """The 99th percentile in ms, and the number of samples."""
        total = sum(self.buckets)
        seen = 0
        for i, n in enumerate(self.buckets):
            seen += n
            if total and seen >= 0.99 * total:
                return (i + 1) * self.STEP * 1000, total
        return float("nan"), total


class Submitter(threading.Thread):
    """Submits at a steady rate; keeps (began, seconds) of the submits of the current
    window (the sampler takes them every window)."""

    def __init__(self, sched: Scheduler, rate: float, until: float) -> None:
        super().__init__(name="soak-submitter", daemon=True)
        self.sched, self.rate, self.until = sched, rate, until
        self.samples: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def take(self) -> list[tuple[float, float]]:
        with self.lock:
            window, self.samples = self.samples, []
        return window

    def run(self) -> None:
        start = time.perf_counter()
        k = 0
        while True:
            due = start + k / self.rate
            now = time.perf_counter()
            if now >= self.until:
                return
            if due > now:
                time.sleep(due - now)  # pacing the load, not synchronisation
            began = time.perf_counter()
            self.sched.submit("soak.noop", None)
            sample = (began, time.perf_counter() - began)
            with self.lock:
                self.samples.append(sample)
            k += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--keep", default="1m", help="retention of succeeded tasks")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--batch", type=int, help="rows per prune batch (default: the unit's)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="retention-soak-")
    path = os.path.join(folder, "soak.db")
    config = SchedulerConfig(
        workers=4, categories={"soak": CategoryConfig()}, retention={"succeeded": args.keep}
    )
    store = open_store(path)
    prunes = PruneClock(store)
    sched = Scheduler(config, store)
    sched.handler("soak.noop", category="soak")(lambda payload: None)
    if args.batch:
        sched.retention.batch = args.batch
    rows: list[tuple[Any, ...]] = []
    print(
        f"rate {args.rate:g}/s, {args.minutes:g} min, retention {args.keep}, {os.cpu_count()} cores"
    )
    print("   t s   db MB  wal MB  RSS MB     rows  deleted  submits  p99 ms  p99 ms prune (n)")
    with sched:
        began = time.perf_counter()
        submitter = Submitter(sched, args.rate, began + args.minutes * 60)
        submitter.start()
        half = began + args.minutes * 30
        late = {False: Histogram(), True: Histogram()}  # second half, by "during a prune"
        while submitter.is_alive():
            submitter.join(timeout=args.every)
            window = submitter.take()
            quiet = [s for b, s in window if not prunes.overlaps(b, b + s)]
            during = [s for b, s in window if prunes.overlaps(b, b + s)]
            for b, s in window:
                if b >= half:
                    late[prunes.overlaps(b, b + s)].add(s)
            db, wal = file_mb(path)
            stored = sum(sum(per.values()) for per in store.counts().values())
            row = (time.perf_counter() - began, db, wal, rss_mb(), stored,
                   sched.retention.deleted, len(window), p99(quiet), p99(during), len(during))  # fmt: skip
            rows.append(row)
            print(
                "{:6.0f} {:7.1f} {:7.1f} {:7.1f} {:8,} {:8,} {:8,} {:7.2f} {:7.2f} ({})".format(
                    *row
                )
            )
    summarise(rows, args.minutes * 60, late)


def summarise(rows: list[tuple[Any, ...]], seconds: float, late: dict[bool, Histogram]) -> None:
    second = [r for r in rows if r[0] >= seconds / 2]
    if not second:
        return
    size = [r[1] + r[2] for r in second]
    rss = [r[3] for r in second]
    print(f"second half: db+wal {min(size):.1f}-{max(size):.1f} MB,"
          f" RSS {min(rss):.1f}-{max(rss):.1f} MB")  # fmt: skip
    (quiet, n_quiet), (during, n_during) = late[False].p99(), late[True].p99()
    print(f"second half: submit p99 {quiet:.2f} ms without a prune ({n_quiet:,} submits), "
          f"{during:.2f} ms during one ({n_during:,} submits)")  # fmt: skip


if __name__ == "__main__":
    main()
