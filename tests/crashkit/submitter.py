"""Submit tasks one at a time, printing each id once ``submit()`` has returned.

``python -m tests.crashkit.submitter DB COUNT``. The parent kills it at random moments: a
printed id was acknowledged; a row without a printed id was committed but never
acknowledged to the caller.
"""

from __future__ import annotations

import sys

from jobsched.core import Client
from jobsched.storage import open_store

from .node import CONFIG


def main() -> int:
    db, count = sys.argv[1], int(sys.argv[2])
    store = open_store(db)
    store.open(None)
    client = Client(CONFIG, store)
    print("ready", flush=True)
    for n in range(count):
        task_id = client.submit("a.work" if n % 2 else "b.work", {"n": n}).id
        sys.stdout.write(f"{task_id}\n")
        sys.stdout.flush()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
