"""Where a node's CPU goes, thread by thread: the bulk drain and one-at-a-time submits.

    python bench/thread_cpu.py [--tasks 100000] [--submits 20000]

A sampling profiler shows which functions hold the GIL; this shows how much CPU each of
the engine's threads burns per task (their user + system time from ``/proc``, SQLite's
work included), and whether the process as a whole is bound to one core. Each mode runs
in this process on a SQLite file in a temporary folder, 4 workers, default settings.
Linux only (it reads ``/proc/self/task``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.systems import jobsched  # noqa: E402
from bench.systems.common import Countdown  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of every live Python thread, by thread name."""
    seconds: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        seconds[thread.name] = (int(fields[11]) + int(fields[12])) / TICK
    return seconds


def group(name: str) -> str:
    """Workers are summed: ``jobsched-bench-3`` -> ``workers``."""
    if name.startswith("jobsched-") and name.rsplit("-", 1)[-1].isdigit():
        return "workers (4)"
    return name.removeprefix("jobsched-")


def measure(label: str, n: int, body: Callable[[], None]) -> None:
    before, wall0, cpu0 = thread_cpu(), time.perf_counter(), time.process_time()
    body()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    after = thread_cpu()
    per: dict[str, float] = {}
    for name, seconds in after.items():
        per[group(name)] = per.get(group(name), 0.0) + seconds - before.get(name, 0.0)
    print(f"\n**{label}**: {n / wall:,.0f} tasks/s; the process used {cpu:.2f} s of CPU")
    print(f"in {wall:.2f} s ({cpu / wall:.0%} of one core)\n")
    print("| thread | CPU s | CPU us per task |")
    print("|---|---:|---:|")
    for name, seconds in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {seconds:.2f} | {seconds / n * 1e6:.1f} |")


def drain(tmp: Path, n: int) -> None:
    ran = Countdown(n)
    sched = jobsched.make(tmp, ran=ran).start()
    try:
        sched.set_paused("bench", True)
        jobsched.submit_all(sched, {"bench": n})

        def run() -> None:
            sched.set_paused("bench", False)
            jobsched.wait_succeeded(sched, ran, 600)

        measure(f"bulk drain of {n:,} queued no-op tasks", n, run)
    finally:
        sched.stop(grace=0)


def one_at_a_time(tmp: Path, n: int) -> None:
    sched = jobsched.make(tmp).start()
    try:

        def run() -> None:
            for _ in range(n):
                sched.submit("bench.noop")

        measure(f"{n:,} acknowledged submits, one at a time, workers draining", n, run)
    finally:
        sched.stop(grace=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="bulk drain size")
    parser.add_argument("--submits", type=int, default=20_000, help="one-at-a-time submits")
    args = parser.parse_args()
    logging.getLogger("jobsched").setLevel(logging.ERROR)
    for mode, n in ((drain, args.tasks), (one_at_a_time, args.submits)):
        with tempfile.TemporaryDirectory() as folder:
            mode(Path(folder), n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
