"""A node in a child process for the rate-limit test: ``python -m
tests.storage.postgres.rate_node URL LOG``. One category, ``web``, limited to 20/s with a
burst of 5 and two workers; each run of ``web.ping`` appends ``<monotonic> <pid>`` to LOG
(one O_APPEND write). Prints ``ready`` once started; stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from jobsched.console.wakeup import Wakeup
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.storage import open_store

CONFIG = SchedulerConfig(
    workers=2,
    categories={"web": CategoryConfig(min_workers=2, rate="20/s", burst=5)},
    heartbeat_interval=0.5,
)


def main() -> int:
    url, log = sys.argv[1], sys.argv[2]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    woken = Wakeup()  # not an Event: see jobsched.console.wakeup
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: (stopped.append(1), woken.wake()))
    sched = Scheduler(CONFIG, open_store(url))

    @sched.handler("web.ping")
    def ping(payload: Any) -> None:
        os.write(fd, f"{time.monotonic():.6f} {os.getpid()}\n".encode())

    sched.start()
    print("ready", flush=True)
    while not stopped:
        woken.wait(1.0)
    sched.stop(grace=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
