"""jobsched itself: a node with 4 workers on a SQLite file, default durability."""

from __future__ import annotations

import logging
import resource
import threading
import time
from pathlib import Path
from typing import Any

from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig
from jobsched.storage import open_store

from .common import WARM_UP_TASKS, Countdown, StartTimes, latency_result, paced

WORKERS = 4
#: Tasks per ``submit_many`` call (one transaction each).
SUBMIT_BATCH = 10_000
POLL = 0.002

# stop(grace=0) logs the tasks it releases; that is expected here.
logging.getLogger("jobsched").setLevel(logging.ERROR)


def make(
    tmp: Path,
    categories: dict[str, CategoryConfig] | None = None,
    ran: Countdown | None = None,
    **options: Any,
) -> Scheduler:
    """A node with a ``<category>.noop`` handler per category; ``ran`` counts its calls."""
    config = SchedulerConfig(
        workers=WORKERS, categories=categories or {"bench": CategoryConfig()}, **options
    )
    sched = Scheduler(config, open_store(tmp / "jobsched.db"))
    for name in config.categories:
        sched.handler(f"{name}.noop")(ran.add_one if ran is not None else (lambda payload: None))
    return sched


def succeeded(sched: Scheduler) -> int:
    """Tasks whose success is committed (the completer counts them after its commit)."""
    return sched.snapshot().counters.get("succeeded", 0)


def wait_succeeded(sched: Scheduler, ran: Countdown, timeout: float) -> None:
    """Wait until every handler ran (an event: polling snapshot() every few ms would cost
    the node measurable GIL time), then poll briefly for the last outcomes' commit."""
    deadline = time.perf_counter() + timeout
    ran.wait(timeout)
    while succeeded(sched) < ran.n:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{succeeded(sched)} of {ran.n} tasks finished in {timeout:g} s")
        time.sleep(POLL)


def submit_all(sched: Scheduler, counts: dict[str, int]) -> None:
    for category, n in counts.items():
        items = [(f"{category}.noop", None)] * min(n, SUBMIT_BATCH)
        for offset in range(0, n, SUBMIT_BATCH):
            sched.submit_many(items[: min(SUBMIT_BATCH, n - offset)])


def drain_phases(
    sched: Scheduler, ran: Countdown, counts: dict[str, int], timeout: float
) -> dict[str, float]:
    """Submit with every category paused (so no worker runs), then resume and drain.

    The two phases back to back are the end-to-end figure; pausing keeps the drain from
    overlapping the submits, as it cannot for the references either.
    """
    for category in counts:
        sched.set_paused(category, True)
    t0 = time.perf_counter()
    submit_all(sched, counts)
    t1 = time.perf_counter()
    for category in counts:
        sched.set_paused(category, False)
    wait_succeeded(sched, ran, timeout)
    t2 = time.perf_counter()
    return {"n": sum(counts.values()), "submit_s": t1 - t0, "drain_s": t2 - t1}


def bulk(tmp: Path, n: int, timeout: float = 900) -> dict[str, float]:
    ran = Countdown(n)
    sched = make(tmp, ran=ran).start()
    try:
        return drain_phases(sched, ran, {"bench": n}, timeout)
    finally:
        sched.stop(grace=0)


def balancer(tmp: Path, n: int, timeout: float = 900) -> dict[str, float]:
    """The bulk run across 3 categories of different priorities. The balancer runs every
    0.5 s with a 1 s cooldown, so it moves workers as the categories drain unevenly."""
    categories = {
        "low": CategoryConfig(priority=1),
        "mid": CategoryConfig(priority=2),
        "high": CategoryConfig(priority=4),
    }
    ran = Countdown(n)
    sched = make(tmp, categories, ran, balance_interval=0.5, cooldown=1.0).start()
    try:
        share = n // 3
        counts = {"low": n - 2 * share, "mid": share, "high": share}
        since = time.time()
        result = drain_phases(sched, ran, counts, timeout)
        decisions = [d for d in sched.snapshot().decisions if d["at"] >= since]
        moved = sum(
            abs(d["targets"][c] - d["before"].get(c, 0)) for d in decisions for c in d["targets"]
        )
        return {**result, "decisions": len(decisions), "workers_moved": moved / 2}
    finally:
        sched.stop(grace=0)


def one(tmp: Path, n: int) -> dict[str, float]:
    sched = make(tmp).start()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            sched.submit("bench.noop")
        return {"n": n, "submit_s": time.perf_counter() - t0}
    finally:
        sched.stop(grace=0)


def latency(
    tmp: Path, rate: float, seconds: float, warm_up: int = WARM_UP_TASKS
) -> dict[str, float]:
    marks = StartTimes(int(rate * seconds))
    sched = make(tmp)
    sched.handler("bench.mark")(marks.mark)
    sched.start()
    try:
        before = paced(rate, seconds, lambda i: sched.submit("bench.mark", i))
        return latency_result(before, marks, timeout=30, warm_up=warm_up)
    finally:
        sched.stop(grace=0)


# --- the backlog: fill once, then start a node on it in fresh processes ----------------
BACKLOG_CATEGORIES = {"a": CategoryConfig(), "b": CategoryConfig()}


def backlog_fill(tmp: Path, path: str, n: int) -> dict[str, float]:
    """Queue ``n`` no-op tasks in ``path`` without running a node (``bench/backlog.py``)."""
    store = open_store(path)
    store.open(None)
    client = Client(SchedulerConfig(workers=WORKERS, categories=BACKLOG_CATEGORIES), store)
    for name in BACKLOG_CATEGORIES:
        client.handler(f"{name}.noop")(lambda payload: None)
    t0 = time.perf_counter()
    for offset in range(0, n, 20_000):
        k = min(20_000, n - offset)
        client.submit_many([("a.noop" if i % 2 else "b.noop", None) for i in range(k)])
    store.close()
    return {"n": n, "fill_s": time.perf_counter() - t0, "file_mb": Path(path).stat().st_size / 1e6}


def backlog_start(tmp: Path, path: str, spawned: float, run_for: float) -> dict[str, float]:
    """A node restarting on ``path``: seconds from the process's spawn (``spawned``, the
    parent's ``time.time()``) to its first task, and its peak RSS after running a while."""
    first = threading.Event()
    first_at: list[float] = []

    def noop(payload: Any) -> None:
        if not first.is_set():
            first_at.append(time.time())
            first.set()

    config = SchedulerConfig(workers=WORKERS, categories=BACKLOG_CATEGORIES)
    sched = Scheduler(config, open_store(path))
    for name in BACKLOG_CATEGORIES:
        sched.handler(f"{name}.noop")(noop)
    sched.start()
    try:
        if not first.wait(120):
            raise TimeoutError("no task started within 120 s")
        time.sleep(run_for)  # keep draining: does memory grow while the backlog is read?
        ran = succeeded(sched)
    finally:
        sched.stop(grace=0)
    return {
        "first_task_s": first_at[0] - spawned,
        "peak_rss_mb": _peak_rss_mb(),
        "ran": ran,
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: a child's starts from its parent's
    at fork, so a large parent would show up as the node's memory."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
