"""A node in a child process: ``python -m tests.crashkit.node DB [--until-idle]``.

Runs a scheduler on the SQLite file with the crash-test handlers, 2 categories and 4
workers. Stops gracefully on SIGTERM (exit 0). Prints ``ready`` on stdout once started.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading

from core import CategoryConfig, Scheduler, SchedulerConfig
from storage import open_store

CONFIG = SchedulerConfig(
    workers=4,
    categories={"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)},
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config = dataclasses.replace(CONFIG, workers=args.workers)
    sched = Scheduler(config, open_store(args.db))
    sched.start()
    print("ready", flush=True)
    while not stop.wait(0.05):
        if args.until_idle:
            counts = sched.store.counts()
            if not any(c["queued"] or c["running"] or c["scheduled"] for c in counts.values()):
                break
    sched.stop(grace=args.grace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
