"""Before/after of the hot path across two checkouts of this repository.

    git worktree add ../before <commit>
    python bench/ab_checkouts.py ../before . [--tasks 20000] [--rounds 3]

Runs the same bulk job (``submit_many`` N no-op tasks with the category paused, then
resume and drain with 4 workers on SQLite) in fresh processes, alternating between the two
trees (A B A B ...), and prints each run and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import os, sys, tempfile, threading, time
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.storage import open_store

n = int(sys.argv[1])
folder = tempfile.mkdtemp()
sched = Scheduler(
    SchedulerConfig(workers=4, categories={"a": CategoryConfig()}),
    open_store(os.path.join(folder, "bench.db")),
)
done = threading.Event()
count = [0]
lock = threading.Lock()


def noop(payload):
    with lock:
        count[0] += 1
        if count[0] == n:
            done.set()


sched.handler("a.noop")(noop)
with sched:
    sched.set_paused("a", True)
    t0 = time.perf_counter()
    ids = []
    for k in range(0, n, 10000):
        ids += sched.submit_many([("a.noop", None)] * min(10000, n - k))
    t1 = time.perf_counter()
    sched.set_paused("a", False)
    done.wait(300)
    sched.wait(ids[-1], 60)
    while sched.store.counts()["a"]["succeeded"] < n:
        time.sleep(0.002)
    t2 = time.perf_counter()
print(n / (t2 - t0), n / (t2 - t1))
"""


def run_once(tree: Path, tasks: int) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tasks)],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=str(tree)),
        capture_output=True,
        text=True,
        check=True,
    )
    end_to_end, drain = map(float, out.stdout.split())
    return end_to_end, drain


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            end_to_end, drain = run_once(tree, args.tasks)
            results[name].append((end_to_end, drain))
            print(f"{name}: end-to-end {end_to_end:,.0f}/s, drain {drain:,.0f}/s", flush=True)
    for name, rows in results.items():
        e2e = statistics.median(r[0] for r in rows)
        drain = statistics.median(r[1] for r in rows)
        print(f"{name}: median end-to-end {e2e:,.0f}/s, median drain {drain:,.0f}/s")


if __name__ == "__main__":
    main()
