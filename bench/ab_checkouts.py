"""Before/after of the hot path across two checkouts of this repository.

    git worktree add ../before <commit>
    python bench/ab_checkouts.py ../before . [--tasks 20000] [--submits 3000] [--rounds 3]

Runs the same jobs in fresh processes, alternating between the two trees (A B A B ...),
and prints each run and the medians:
- bulk: ``submit_many`` N no-op tasks with the category paused, then resume and drain
  with 4 workers on SQLite (end-to-end and drain rates, and the process's CPU time per
  task, which a machine busy with other work disturbs less than the rates);
- single: acknowledged submits one at a time while the workers drain (rate), then
  submit-and-wait round trips one at a time (median and 99th percentile latency).

Each tree is imported from its own folder, whichever import name it has: ``jobsched.core``
and ``jobsched.storage`` (a tree with ``jobsched/__init__.py``, whose sub-packages are the
tree's ``core/`` and ``storage/`` folders), or the older top-level ``core`` and ``storage``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

PRELUDE_PACKAGE = r"""
import importlib.util, os, sys
TREE = sys.argv[2]
# jobsched/__init__.py imports jobsched.core itself: the package's path must name TREE
# (jobsched.core -> TREE/core, as the install maps it) before it runs, or an editable
# install of another tree answers for its sub-packages.
_spec = importlib.util.spec_from_file_location(
    "jobsched", os.path.join(TREE, "jobsched", "__init__.py"),
    submodule_search_locations=[os.path.join(TREE, "jobsched"), TREE],
)
jobsched = importlib.util.module_from_spec(_spec)
sys.modules["jobsched"] = jobsched
_spec.loader.exec_module(jobsched)
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.storage import open_store
import jobsched.core
"""

PRELUDE_TOP_LEVEL = r"""
import sys
TREE = sys.argv[2]
from core import CategoryConfig, Scheduler, SchedulerConfig
from storage import open_store
import core
"""

CHECK = r"""
_core = sys.modules[Scheduler.__module__].__file__
if not _core.startswith(TREE):
    raise SystemExit(f"imported the engine from {_core}, not from {TREE}")
"""

BULK = r"""
import os, tempfile, threading, time

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
    t0, c0 = time.perf_counter(), time.process_time()
    ids = []
    for k in range(0, n, 10000):
        ids += sched.submit_many([("a.noop", None)] * min(10000, n - k))
    t1, c1 = time.perf_counter(), time.process_time()
    sched.set_paused("a", False)
    done.wait(300)
    sched.wait(ids[-1], 60)
    while sched.store.counts()["a"]["succeeded"] < n:
        time.sleep(0.002)
    t2, c2 = time.perf_counter(), time.process_time()
print(n / (t2 - t0), n / (t2 - t1), (c2 - c0) / n * 1e6, (c2 - c1) / n * 1e6)
"""

SINGLE = r"""
import os, statistics, tempfile, time

n = int(sys.argv[1])
folder = tempfile.mkdtemp()
sched = Scheduler(
    SchedulerConfig(workers=4, categories={"a": CategoryConfig()}),
    open_store(os.path.join(folder, "bench.db")),
)
sched.handler("a.noop")(lambda payload: None)
with sched:
    t0 = time.perf_counter()
    for _ in range(n):
        last = sched.submit("a.noop")
    rate = n / (time.perf_counter() - t0)
    last.wait(60)
    lat = []
    for _ in range(max(50, n // 10)):
        t = time.perf_counter()
        sched.submit("a.noop").wait(10)
        lat.append(time.perf_counter() - t)
lat.sort()
print(rate, statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000)
"""


def child_script(tree: Path, body: str) -> str:
    package = (tree / "jobsched" / "__init__.py").exists() and (tree / "core").is_dir()
    return (PRELUDE_PACKAGE if package else PRELUDE_TOP_LEVEL) + CHECK + body


def run_once(tree: Path, body: str, count: int) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", child_script(tree, body), str(count), str(tree)],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=str(tree)),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree}: the benchmark failed:\n{out.stderr}")
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks of the bulk job")
    parser.add_argument("--submits", type=int, default=3_000, help="one-at-a-time submits")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("bulk", "single"), help="run one job only")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    jobs = {
        "bulk": (
            BULK,
            args.tasks,
            ("end-to-end /s", "drain /s", "CPU us/task", "drain CPU us/task"),
        ),
        "single": (SINGLE, args.submits, ("submits /s", "latency p50 ms", "latency p99 ms")),
    }
    for job, (body, count, labels) in jobs.items():
        if args.only and job != args.only:
            continue
        results: dict[str, list[list[float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                row = run_once(tree, body, count)
                results[name].append(row)
                shown = ", ".join(f"{label} {v:,.2f}" for label, v in zip(labels, row, strict=True))
                print(f"{job} {name}: {shown}", flush=True)
        for name, rows in results.items():
            medians = [statistics.median(r[i] for r in rows) for i in range(len(labels))]
            shown = ", ".join(f"{label} {v:,.2f}" for label, v in zip(labels, medians, strict=True))
            print(f"{job} {name}: median {shown}", flush=True)


if __name__ == "__main__":
    main()
