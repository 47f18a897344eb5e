"""Poll a database like the console does (about 4 Hz) and count errors.

``python -m tests.crashkit.reader DB SECONDS`` prints ``ready``, reads until SIGTERM (or for
SECONDS at most), then prints ``reads=N errors=M`` and any error.
"""

from __future__ import annotations

import signal
import sys
import time

from jobsched.console.wakeup import Wakeup
from jobsched.storage import open_store


def main() -> int:
    db, seconds = sys.argv[1], float(sys.argv[2])
    store = open_store(db)
    store.open(None)
    reads = errors = 0
    woken = Wakeup()  # not an Event: see jobsched.console.wakeup
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: (stopped.append(1), woken.wake()))
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while not stopped and time.monotonic() < end:
        try:
            store.counts()
            store.list_tasks(limit=50)
            store.recent_decisions(10)
            store.nodes()
            reads += 1
        except Exception as exc:  # counted and shown: the test asserts there are none
            errors += 1
            print(f"error: {type(exc).__name__}: {exc}", flush=True)
        woken.wait(0.25)
    store.close()
    print(f"reads={reads} errors={errors}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
