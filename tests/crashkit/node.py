"""A node in a child process: ``python -m tests.crashkit.node DB [--until-idle]``.

Runs a scheduler on ``DB`` with the crash-test handlers, 2 categories and 4 workers.
``DB`` is a SQLite file or a ``postgresql://`` URL (several nodes may share one; a short
``stale_after=SECONDS`` URL option makes the others recover a killed node quickly, and
``--heartbeat SECONDS`` sets how often the node heartbeats and looks for dead nodes).
``--submit N`` makes the node submit N tasks to itself, one ``submit()`` at a time, and
print each id once acknowledged (the in-process path, where a submit may hand its task
straight to a FIFO).
Stops gracefully on SIGTERM (exit 0). Prints ``ready`` on stdout once started, and after a
SIGTERM ``stopped <seconds>``: from the signal to the end of the node's stop.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import time

from jobsched.console.wakeup import Wakeup
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.storage import open_store

CONFIG = SchedulerConfig(
    workers=4,
    # More attempts than any crash test has kills: a task running at several kills must
    # not trip the poison rule here (tests/reliability/test_poison.py covers that rule).
    categories={
        "a": CategoryConfig(min_workers=1, max_attempts=30),
        "b": CategoryConfig(min_workers=1, max_attempts=30),
    },
    handlers=("tests.crashkit.handlers",),
    balance_interval=0.5,
    grace_period=5.0,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=CONFIG.workers)
    parser.add_argument("--heartbeat", type=float, default=CONFIG.heartbeat_interval)
    parser.add_argument("--submit", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Not a threading.Event: setting one from the handler can hang the main thread, which
    # may hold its lock while it waits on it (see jobsched.console.wakeup).
    woken = Wakeup()
    signalled: list[float] = []  # when SIGTERM came (monotonic)
    signal.signal(signal.SIGTERM, lambda *_: (signalled.append(time.monotonic()), woken.wake()))
    config = dataclasses.replace(CONFIG, workers=args.workers, heartbeat_interval=args.heartbeat)
    sched = Scheduler(config, open_store(args.db))
    sched.start()
    print("ready", flush=True)
    for n in range(args.submit):
        if signalled:
            break
        handle = sched.submit("a.work" if n % 2 else "b.work", {"n": n})
        sys.stdout.write(f"{handle.id}\n")
        sys.stdout.flush()
    while not signalled:
        woken.wait(0.05)
        if args.until_idle:
            counts = sched.store.counts()
            if not any(c["queued"] or c["running"] or c["scheduled"] for c in counts.values()):
                break
    sched.stop(grace=args.grace)
    if signalled:  # the node's own stop, without the interpreter's exit after it
        print(f"stopped {time.monotonic() - signalled[0]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
