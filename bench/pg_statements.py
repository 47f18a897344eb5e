"""Statements per task on PostgreSQL: one node in this process, every statement counted.

    python bench/pg_statements.py [--url postgresql://postgres@127.0.0.1:5432/test]
                                  [--tasks 10000] [--workers 4]

A node of ``--workers`` threads and a client share this process on a fresh schema
(dropped afterwards); psycopg's ``Connection.execute`` is wrapped to count statements by
their first words. Prints tasks/s, this process's CPU per task (node and client), and the
most frequent statements per task (the client's ``counts()`` polls every 20 ms included).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

import psycopg  # noqa: E402
from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig  # noqa: E402
from jobsched.storage import open_store  # noqa: E402
from jobsched.storage.postgres.connection import parse_url  # noqa: E402

COUNTS: collections.Counter[str] = collections.Counter()
_LOCK = threading.Lock()
_EXECUTE = psycopg.Connection.execute


def counted(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
    cursor = _EXECUTE(self, query, params, **kw)
    with _LOCK:
        COUNTS[str(query)[:70]] += 1
    return cursor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("JOBSCHED_TEST_PG")
                        or "postgresql://postgres@127.0.0.1:5432/test")  # fmt: skip
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    psycopg.Connection.execute = counted  # type: ignore[method-assign]
    url = args.url + ("&" if "?" in args.url else "?") + f"schema=bench_stmt_{uuid.uuid4().hex[:8]}"
    config = SchedulerConfig(workers=args.workers, categories={"bench": CategoryConfig()})
    sched = Scheduler(config, open_store(url))
    sched.handler("bench.noop", category="bench")(lambda payload: None)
    sched.start()
    store = open_store(url)
    store.open(None)
    try:
        client = Client(config, store)
        client.handler("bench.noop", category="bench")(lambda payload: None)
        COUNTS.clear()
        began, cpu = time.perf_counter(), time.process_time()
        client.submit_many([("bench.noop", None)] * args.tasks)
        pause = threading.Event()
        while store.counts().get("bench", {}).get("succeeded", 0) < args.tasks:
            pause.wait(0.02)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        print(f"{args.tasks / elapsed:,.0f} tasks/s, {cpu / args.tasks * 1e6:.0f} us CPU per task")
        print("| statements per task | statement |\n|---|---|")
        for text, n in COUNTS.most_common(8):
            print(f"| {n / args.tasks:.3f} | `{text}` |")
    finally:
        sched.stop(grace=5)
        schema = store.schema
        store.close()
        with psycopg.connect(parse_url(args.url).conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
