"""Backlog benchmark: does a node's memory or start-up grow with the queued backlog?

    python bench/backlog.py [--tasks 1000000]

Fills a SQLite file with N queued no-op tasks (and, as the baseline in the same run, a file
with 1,000), then starts a node on each in a fresh child process and reports the time from
process start to the first task started, and the child's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, threading, time
t0 = time.perf_counter()
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.storage import open_store
first = threading.Event()
cfg = SchedulerConfig(workers=4, categories={"a": CategoryConfig(), "b": CategoryConfig()})
sched = Scheduler(cfg, open_store(sys.argv[1]))
sched.handler("a.noop")(lambda p: first.set())
sched.handler("b.noop")(lambda p: first.set())
sched.start()
first.wait(60)
t_first = time.perf_counter() - t0
done = threading.Event()
done.wait(float(sys.argv[2]))  # keep running to see whether memory grows while draining
snap = sched.snapshot()
sched.stop(grace=0)
# VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's at fork.
rss = int([l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]) / 1024
print(json.dumps({"first_task_s": t_first, "peak_rss_mb": rss, "rate": snap.rate}))
"""


def fill(path: Path, n: int) -> float:
    from jobsched.core import CategoryConfig, Client, SchedulerConfig
    from jobsched.storage import open_store

    store = open_store(path)
    store.open(None)
    client = Client(
        SchedulerConfig(workers=4, categories={"a": CategoryConfig(), "b": CategoryConfig()}), store
    )
    client.handler("a.noop")(lambda p: None)
    client.handler("b.noop")(lambda p: None)
    start = time.perf_counter()
    batch = 20_000
    for offset in range(0, n, batch):
        k = min(batch, n - offset)
        client.submit_many([("a.noop" if i % 2 else "b.noop", None) for i in range(k)])
    store.close()
    return time.perf_counter() - start


def measure(path: Path, run_for: float) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(run_for)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--run-for", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.db", Path(tmp) / "big.db"
        fill(small, 1_000)
        fill_s = fill(big, args.tasks)
        size = big.stat().st_size / 1e6
        print(
            f"filled {args.tasks:,} tasks in {fill_s:.1f} s ({args.tasks / fill_s:,.0f}/s), file {size:,.0f} MB"
        )
        rows = []
        for label, path in (("1,000 queued", small), (f"{args.tasks:,} queued", big)):
            r = measure(path, args.run_for)
            rows.append((label, r))
            print(
                f"{label:>18}: first task after {r['first_task_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"drain rate {r['rate']:,.0f}/s"
            )
        ratio = rows[1][1]["peak_rss_mb"] / rows[0][1]["peak_rss_mb"]
        print(f"peak RSS ratio big/small: {ratio:.2f}")


if __name__ == "__main__":
    main()
