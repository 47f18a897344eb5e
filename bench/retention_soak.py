"""Retention soak (not run in CI): a node at a steady submit rate, pruning as it goes,
beside a node that keeps everything, in the same process at the same time.

    python bench/retention_soak.py [--rate 1000] [--minutes 8] [--keep 1m] [--every 15]
        [--batch N] [--pause S] [--no-baseline]

One process runs two nodes, each on its own fresh SQLite file with 4 workers and no-op
tasks: the pruning node (``retention.succeeded`` = ``--keep``) and the baseline node
(``forever``: it never prunes). Each has its own thread submitting one task at a time at
``--rate`` per second, timing each acknowledged submit. Both share the process, the GIL
and the machine, so whatever else slows one slows the other: the ratio of their
latencies is the cost of pruning. (``--no-baseline`` runs the pruning node alone.)

Every ``--every`` seconds it prints the pruning node's database file (main file and
``-wal``), the process's RSS (anonymous and file-backed; the file part is mostly the
nodes' start journals, a mapped file that is rewritten when full), SQLite's heap (all
connections' page caches and prepared statements), the rows in the store and the rows
retention deleted so far; then the 99th percentile submit latency of that window for each
node and their ratio, the pruning node's p99 split between submits that overlapped a
prune batch and those that did not, and the longest prune batch. Prune batches are timed
by wrapping the store's ``prune``. The last lines summarise the second half of the run
(after the first retention window has passed).
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import ctypes.util
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


def rss_mb() -> tuple[float, float, float]:
    """The process's resident memory in MB: total, anonymous, file-backed."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("RssAnon", 0.0), fields.get("RssFile", 0.0)


def sqlite_heap() -> Any:
    """``sqlite3_memory_used`` of the SQLite library the sqlite3 module uses, in MB (a
    callable), or None where that library cannot be loaded by name."""
    name = ctypes.util.find_library("sqlite3")
    try:
        lib = ctypes.CDLL(name or "libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError):
        return None
    return lambda: lib.sqlite3_memory_used() / 1e6


def file_mb(path: str) -> tuple[float, float]:
    sizes = [os.path.getsize(p) if os.path.exists(p) else 0 for p in (path, path + "-wal")]
    return sizes[0] / 1e6, sizes[1] / 1e6


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[98] * 1000


class PruneClock:
    """The store's prune, wrapped: the (start, end) of every batch that deleted rows."""

    def __init__(self, store: Any) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.rows: list[int] = []
        self._prune = store.prune
        store.prune = self.prune

    def prune(self, *args: Any, **kwargs: Any) -> int:
        began = time.perf_counter()
        deleted: int = self._prune(*args, **kwargs)
        if deleted:
            self.starts.append(began)
            self.ends.append(time.perf_counter())
            self.rows.append(deleted)
        return deleted

    def longest(self, since: float) -> tuple[float, int]:
        """The longest batch (ms) that began at or after ``since``, and how many began."""
        i = bisect.bisect_left(self.starts, since)
        spans = [e - b for b, e in zip(self.starts[i:], self.ends[i:], strict=True)]
        return (max(spans) * 1000 if spans else float("nan")), len(spans)

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

    def __init__(self, sched: Scheduler, rate: float, until: float, name: str) -> None:
        super().__init__(name=f"soak-submitter-{name}", daemon=True)
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


class Node:
    """A node on a fresh SQLite file in ``folder``: 4 workers, no-op tasks, succeeded
    tasks kept ``keep`` (a retention value)."""

    def __init__(self, folder: str, name: str, keep: str) -> None:
        self.name = name
        self.path = os.path.join(folder, f"{name}.db")
        config = SchedulerConfig(
            workers=4, categories={"soak": CategoryConfig()}, retention={"succeeded": keep}
        )
        self.store = open_store(self.path)
        self.prunes = PruneClock(self.store)
        self.sched = Scheduler(config, self.store)
        self.sched.handler("soak.noop", category="soak")(lambda payload: None)
        self.late = Histogram()  # every submit of the second half
        #: the baseline's second half, by "during a prune batch of the pruning node"
        self.late_by_overlap = {False: Histogram(), True: Histogram()}
        self.submitter: Submitter | None = None

    def start(self, rate: float, until: float) -> None:
        self.sched.start()
        self.submitter = Submitter(self.sched, rate, until, self.name)
        self.submitter.start()

    def rows(self) -> int:
        return sum(sum(per.values()) for per in self.store.counts().values())


HEADER = (
    "   t s   db MB  wal MB  RSS MB  anon MB  file MB  SQLite MB     rows  deleted  submits"
    "  p99 ms  base ms  ratio  quiet ms  prune ms (n)  batch ms"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0, help="submits/s of each node")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--keep", default="1m", help="retention of succeeded tasks")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--batch", type=int, help="rows per prune batch (default: the unit's)")
    parser.add_argument("--pause", type=float, help="seconds between full prune batches")
    parser.add_argument("--no-baseline", action="store_true", help="no node without pruning")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="retention-soak-")
    node = Node(folder, "pruning", args.keep)
    base = None if args.no_baseline else Node(folder, "baseline", "forever")
    if args.batch:
        node.sched.retention.batch = args.batch
    if args.pause is not None:
        node.sched.retention.pause = args.pause
    heap = sqlite_heap()
    retention = node.sched.retention
    print(f"rate {args.rate:g}/s per node, {args.minutes:g} min, retention {args.keep}, "
          f"prune batch {retention.batch} rows, pause {retention.pause:g} s, "
          f"{os.cpu_count()} cores, baseline {'no' if base is None else 'yes'}")  # fmt: skip
    print(HEADER)
    rows: list[tuple[Any, ...]] = []
    late = {False: Histogram(), True: Histogram()}  # second half, by "during a prune"
    nodes = [n for n in (node, base) if n is not None]
    began = time.perf_counter()
    half = began + args.minutes * 30
    for n in nodes:
        n.start(args.rate, began + args.minutes * 60)
    try:
        last = began
        assert node.submitter is not None
        while node.submitter.is_alive():  # both submitters stop at the same time
            node.submitter.join(timeout=max(0.0, last + args.every - time.perf_counter()))
            last = time.perf_counter()
            row = sample(node, base, half, late, last - began, last - args.every, heap)
            rows.append(row)
            print(format_row(row), flush=True)
        for n in nodes:
            assert n.submitter is not None
            n.submitter.join()
        summarise(rows, args.minutes * 60, node, base, late)
    finally:
        for n in nodes:
            n.sched.stop()


def sample(
    node: Node, base: Node | None, half: float, late: dict[bool, Histogram],
    t: float, since: float, heap: Any,
) -> tuple[Any, ...]:  # fmt: skip
    """One row: sizes, memory, counts, and the p99s of the window just ended."""
    assert node.submitter is not None
    window = node.submitter.take()
    overlapped = [(b, s, node.prunes.overlaps(b, b + s)) for b, s in window]
    quiet = [s for _, s, o in overlapped if not o]
    during = [s for _, s, o in overlapped if o]
    for b, s, o in overlapped:
        if b >= half:
            late[o].add(s)
            node.late.add(s)
    base_window: list[tuple[float, float]] = []
    if base is not None and base.submitter is not None:
        base_window = base.submitter.take()
        for b, s in base_window:
            if b >= half:
                base.late.add(s)
                # The same moments on the node that does not prune: a stall of the
                # process or the machine shows here too, the prune's lock does not.
                base.late_by_overlap[node.prunes.overlaps(b, b + s)].add(s)
    db, wal = file_mb(node.path)
    rss, anon, mapped = rss_mb()
    mine, theirs = p99([s for _, s in window]), p99([s for _, s in base_window])
    longest, _ = node.prunes.longest(since)
    return (t, db, wal, rss, anon, mapped, heap() if heap else float("nan"), node.rows(),
            node.sched.retention.deleted, len(window), mine, theirs, mine / theirs,
            p99(quiet), p99(during), len(during), longest)  # fmt: skip


def format_row(row: tuple[Any, ...]) -> str:
    return (
        "{:6.0f} {:7.1f} {:7.1f} {:7.1f} {:8.1f} {:8.1f} {:10.2f} {:8,} {:8,} {:8,} {:7.2f}"
        " {:8.2f} {:6.2f} {:9.2f} {:9.2f} ({}) {:9.2f}"
    ).format(*row)


def summarise(
    rows: list[tuple[Any, ...]], seconds: float, node: Node, base: Node | None,
    late: dict[bool, Histogram],
) -> None:  # fmt: skip
    second = [r for r in rows if r[0] >= seconds / 2]
    if not second:
        return
    size = [r[1] + r[2] for r in second]
    rss, anon, heap = [r[3] for r in second], [r[4] for r in second], [r[6] for r in second]
    print(f"second half: db+wal {min(size):.1f}-{max(size):.1f} MB, RSS {min(rss):.1f}-"
          f"{max(rss):.1f} MB (anonymous {min(anon):.1f}-{max(anon):.1f} MB), SQLite heap "
          f"{min(heap):.2f}-{max(heap):.2f} MB; {node.sched.retention.deleted:,} rows "
          f"deleted, {node.rows():,} kept")  # fmt: skip
    mine, n_mine = node.late.p99()
    if base is not None:
        theirs, n_theirs = base.late.p99()
        print(f"second half: submit p99 {mine:.2f} ms pruning ({n_mine:,} submits), "
              f"{theirs:.2f} ms baseline ({n_theirs:,} submits): ratio {mine / theirs:.2f}; "
              f"baseline file {sum(file_mb(base.path)):.1f} MB, {base.rows():,} rows")  # fmt: skip
    (quiet, n_quiet), (during, n_during) = late[False].p99(), late[True].p99()
    print(f"second half, pruning node: submit p99 {quiet:.2f} ms without a prune "
          f"({n_quiet:,} submits), {during:.2f} ms during one ({n_during:,} submits)")  # fmt: skip
    if base is not None:
        (quiet, n_quiet), (during, n_during) = (h.p99() for h in base.late_by_overlap.values())
        print(f"second half, baseline node at the same moments: submit p99 {quiet:.2f} ms "
              f"outside the pruning node's batches ({n_quiet:,} submits), {during:.2f} ms "
              f"during one ({n_during:,} submits)")  # fmt: skip
    spans = [(e - b) * 1000 for b, e in zip(node.prunes.starts, node.prunes.ends, strict=True)]
    if spans:
        print(f"prune batches: {len(spans):,}, median {statistics.median(spans):.2f} ms, "
              f"p99 {p99([s / 1000 for s in spans]):.2f} ms, max {max(spans):.2f} ms, "
              f"median {statistics.median(node.prunes.rows):g} rows")  # fmt: skip


if __name__ == "__main__":
    main()
