"""Huey with ``SqliteHuey`` and its consumer in-process: 4 worker threads.

Huey's SQLite storage leaves ``synchronous`` at SQLite's default (FULL in WAL mode, an
fsync per commit); the ``huey`` system sets it to NORMAL, jobsched's default, so both pay for
the same durability, and ``huey-full`` leaves Huey's default, as a user who changes nothing
gets it. Everything else is Huey's default: results on, periodic scheduler on, workers
that poll an empty queue every 0.1 s and back off (the consumer's ``-d`` / ``-b``).
Huey has no bulk enqueue: ``task.map()`` enqueues one task per transaction.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from huey import SqliteHuey
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from .common import WARM_UP_TASKS, Countdown, StartTimes, latency_result, paced

WORKERS = 4


class NormalSyncStorage(SqliteStorage):
    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn


def make(tmp: Path, full: bool = False) -> SqliteHuey:
    storage = SqliteStorage if full else NormalSyncStorage
    return SqliteHuey("bench", filename=str(tmp / "huey.db"), storage_class=storage)


def consumer(huey: SqliteHuey) -> Consumer:
    return Consumer(huey, workers=WORKERS, worker_type="thread")


def bulk(tmp: Path, n: int, timeout: float = 900, full: bool = False) -> dict[str, float]:
    huey = make(tmp, full)
    done = Countdown(n)

    @huey.task()
    def noop() -> None:
        done.add()

    t0 = time.perf_counter()
    noop.map([()] * n)
    t1 = time.perf_counter()
    workers = consumer(huey)
    workers.start()
    try:
        if not done.wait(timeout):
            raise TimeoutError(f"{done.count} of {n} tasks done in {timeout:g} s")
        t2 = time.perf_counter()
    finally:
        workers.stop(graceful=True)
    return {"n": n, "submit_s": t1 - t0, "drain_s": t2 - t1}


def one(tmp: Path, n: int, full: bool = False) -> dict[str, float]:
    huey = make(tmp, full)

    @huey.task()
    def noop() -> None:
        return None

    workers = consumer(huey)
    workers.start()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            noop()
        return {"n": n, "submit_s": time.perf_counter() - t0}
    finally:
        workers.stop(graceful=True)


def latency(
    tmp: Path, rate: float, seconds: float, warm_up: int = WARM_UP_TASKS, full: bool = False
) -> dict[str, float]:
    huey = make(tmp, full)
    marks = StartTimes(int(rate * seconds))

    @huey.task()
    def mark(i: int) -> None:
        marks.mark(i)

    workers = consumer(huey)
    workers.start()
    try:
        before = paced(rate, seconds, mark)
        return latency_result(before, marks, timeout=60, warm_up=warm_up)
    finally:
        workers.stop(graceful=True)
