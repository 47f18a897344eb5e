"""What PostgreSQL's count triggers cost on the store's hot path.

    python bench/pg_count_triggers.py --url postgresql://postgres@127.0.0.1:5432/test
                                      [--tasks 20000] [--batch 100] [--rounds 3]

One PostgreSQL store on a fresh schema runs the task lifecycle through its own methods,
batch by batch: insert ``batch`` tasks, claim them, finish them (one group commit), until
``tasks`` have run. Rounds alternate between the statement triggers that keep
``task_counts`` enabled and disabled (``ALTER TABLE ... DISABLE TRIGGER``), and print each
run's tasks/s and the medians. With the triggers disabled the counters go wrong: the
schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

from jobsched.core.task import SUCCEEDED, NewTask, Outcome
from jobsched.storage import PostgresStore

TRIGGERS = ("tasks_count_insert", "tasks_count_update", "tasks_count_delete")


def lifecycle(store: PostgresStore, tasks: int, batch: int) -> float:
    """Tasks per second through insert, claim and finish, ``batch`` at a time."""
    began = time.perf_counter()
    now = time.time()
    for _ in range(0, tasks, batch):
        store.insert([NewTask("h", "a", "null", now, 3, None, None)] * batch, now)
        claimed = store.claim("a", batch, "node-a", now)
        store.finish([Outcome(t.id, "node-a", t.attempts, SUCCEEDED, now) for t in claimed])
    return tasks / (time.perf_counter() - began)


def switch(store: PostgresStore, on: bool) -> None:
    conn: Any = store._conn()
    for name in TRIGGERS:
        conn.execute(f"ALTER TABLE tasks {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    schema = f"bench_triggers_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in args.url else "?"
    store = PostgresStore(f"{args.url}{sep}schema={schema}")
    store.open("node-a")
    results: dict[bool, list[float]] = {True: [], False: []}
    try:
        lifecycle(store, args.batch * 20, args.batch)  # warm-up
        for _ in range(args.rounds):
            for on in (True, False):
                switch(store, on)
                rate = lifecycle(store, args.tasks, args.batch)
                results[on].append(rate)
                print(f"triggers {'on ' if on else 'off'}: {rate:,.0f} tasks/s", flush=True)
        on, off = statistics.median(results[True]), statistics.median(results[False])
        print(f"median: on {on:,.0f}/s, off {off:,.0f}/s, ratio {on / off:.3f}")
    finally:
        store._conn().execute(f"DROP SCHEMA {schema} CASCADE")
        store.close()


if __name__ == "__main__":
    main()
