"""Console overhead: how much node throughput does the live console cost?

    python bench/console_overhead.py [--seconds 5] [--rounds 2] [--store sqlite|memory]

A node runs no-op tasks as fast as it can from a pre-filled backlog, for ``--seconds``,
alternately without the console (A) and with the console running headless in the same
process (B): A B A B ... Each run gets a fresh store and scheduler. Prints the throughput
of every run, the mean of each mode, their ratio, and how many times per second the
console refreshed its panels. Target: the console costs at most 15 % and refreshes at
least 4 times a second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobsched.core import CategoryConfig, MemoryStore, Scheduler, SchedulerConfig  # noqa: E402

WARM_UP = 0.5


def make_store(kind: str, folder: Path, n: int) -> Any:
    if kind == "memory":
        return MemoryStore()
    from jobsched.storage import open_store

    return open_store(folder / f"bench-{n}.db")


def make_scheduler(store: Any, backlog: int) -> Scheduler:
    config = SchedulerConfig(
        workers=4,
        categories={"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)},
        grace_period=1.0,
    )
    sched = Scheduler(config, store)
    sched.handler("a.noop")(lambda payload: None)
    sched.handler("b.noop")(lambda payload: None)
    sched.start()
    half = backlog // 2
    for handler in ("a.noop", "b.noop"):
        for start in range(0, half, 10_000):
            sched.submit_many([(handler, None)] * min(10_000, half - start))
    return sched


def waiting(sched: Scheduler) -> int:
    return sum(per.get("queued", 0) for per in sched.store.counts().values())


def calibrate(store: str, folder: Path, seconds: float) -> int:
    """A backlog three times what a plain run finishes, measured on a short run."""
    size = 20_000
    while True:
        sched = make_scheduler(make_store(store, folder, -size), size)
        rate, _ = run_plain(sched, 1.0)
        drained = waiting(sched) == 0
        sched.stop(grace=0)
        if not drained:
            return max(size, int(rate * (seconds + WARM_UP) * 3))
        size *= 4


def finished(sched: Scheduler) -> int:
    return sched.snapshot().counters.get("succeeded", 0)


def run_plain(sched: Scheduler, seconds: float) -> tuple[float, None]:
    time.sleep(WARM_UP)
    before, t0 = finished(sched), time.perf_counter()
    time.sleep(seconds)
    return (finished(sched) - before) / (time.perf_counter() - t0), None


def run_console(sched: Scheduler, seconds: float) -> tuple[float, float]:
    from jobsched.console.compose import build_app
    from jobsched.console.local import LocalNode

    app = build_app(LocalNode(sched))

    async def main() -> tuple[float, float]:
        async with app.run_test(size=(120, 40)):
            await asyncio.sleep(WARM_UP)
            before, refreshes, t0 = finished(sched), app.refreshes, time.perf_counter()
            await asyncio.sleep(seconds)
            span = time.perf_counter() - t0
            return (finished(sched) - before) / span, (app.refreshes - refreshes) / span

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--backlog", type=int, default=0, help="tasks per run (default: measured)")
    args = parser.parse_args()
    logging.getLogger("jobsched").setLevel(logging.ERROR)  # stop(grace=0) warns about releases

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        backlog = args.backlog
        if not backlog:  # enough that no run drains it: three times a short plain run
            backlog = calibrate(args.store, folder, args.seconds)
        print(
            f"store {args.store}, {args.seconds:g} s per run, backlog {backlog:,} no-op tasks, 4 workers"
        )
        results: dict[str, list[float]] = {"A": [], "B": []}
        refresh: list[float] = []
        n = 0
        for round_ in range(1, args.rounds + 1):
            for mode in ("A", "B"):
                n += 1
                sched = make_scheduler(make_store(args.store, folder, n), backlog)
                try:
                    if mode == "A":
                        rate, hz = run_plain(sched, args.seconds)
                    else:
                        rate, hz = run_console(sched, args.seconds)
                finally:
                    left = waiting(sched)
                    sched.stop(grace=0)
                results[mode].append(rate)
                label = "without console" if mode == "A" else "with console   "
                extra = f", console refreshes {hz:.2f}/s" if hz is not None else ""
                refresh += [hz] if hz is not None else []
                drained = "  (backlog drained: raise --backlog)" if left == 0 else ""
                print(f"round {round_} {mode} {label}: {rate:10,.0f} tasks/s{extra}{drained}")
        plain, live = statistics.mean(results["A"]), statistics.mean(results["B"])
        print(f"mean without console: {plain:,.0f} tasks/s")
        print(f"mean with console:    {live:,.0f} tasks/s")
        print(
            f"ratio with/without:   {live / plain:.3f}  (console cost {100 * (1 - live / plain):.1f} %)"
        )
        print(f"console refresh rate: {statistics.mean(refresh):.2f}/s (min {min(refresh):.2f}/s)")


if __name__ == "__main__":
    main()
