"""persist-queue's ``SQLiteAckQueue`` with 4 consumer threads: ``get`` marks a row
un-acknowledged, ``ack`` marks it done, each its own committed transaction.

Its connections are switched to ``synchronous=NORMAL`` (jobsched's default) from SQLite's
default FULL. Acknowledged rows stay in the table, and ``get`` scans past them, so the
consumers delete them every 1,000 acks with ``clear_acked_data`` as its docs advise;
without that, draining 100,000 rows is quadratic. It has no bulk put.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from persistqueue import Empty, SQLiteAckQueue

from .common import WARM_UP_TASKS, Countdown, StartTimes, latency_result, paced

WORKERS = 4
CLEAR_EVERY = 1000


def make(tmp: Path) -> SQLiteAckQueue:
    queue = SQLiteAckQueue(str(tmp / "pq"), multithreading=True)
    for conn in {id(queue._getter): queue._getter, id(queue._putter): queue._putter}.values():
        conn.execute("PRAGMA synchronous = NORMAL")
    return queue


class Consumers:
    """4 threads: get (blocking briefly), run the handler, ack."""

    def __init__(self, queue: SQLiteAckQueue, handler: Any, done: Countdown) -> None:
        self.queue = queue
        self.handler = handler
        self.done = done
        self.stop = threading.Event()
        self.acks = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(WORKERS)]

    def work(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.queue.get(block=True, timeout=0.05, raw=True)
            except Empty:
                continue
            self.handler(item["data"])
            self.queue.ack(id=item["pqid"])
            self.done.add()
            with self.lock:
                self.acks += 1
                clear = self.acks % CLEAR_EVERY == 0
            if clear:
                self.queue.clear_acked_data(max_delete=0, keep_latest=0)

    def __enter__(self) -> Consumers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def bulk(tmp: Path, n: int, timeout: float = 900) -> dict[str, float]:
    queue = make(tmp)
    done = Countdown(n)
    t0 = time.perf_counter()
    for _ in range(n):
        queue.put(None)
    t1 = time.perf_counter()
    with Consumers(queue, lambda data: None, done):
        if not done.wait(timeout):
            raise TimeoutError(f"{done.count} of {n} tasks done in {timeout:g} s")
        t2 = time.perf_counter()
    return {"n": n, "submit_s": t1 - t0, "drain_s": t2 - t1}


def one(tmp: Path, n: int) -> dict[str, float]:
    queue = make(tmp)
    with Consumers(queue, lambda data: None, Countdown(n)):
        t0 = time.perf_counter()
        for _ in range(n):
            queue.put(None)
        return {"n": n, "submit_s": time.perf_counter() - t0}


def latency(
    tmp: Path, rate: float, seconds: float, warm_up: int = WARM_UP_TASKS
) -> dict[str, float]:
    queue = make(tmp)
    marks = StartTimes(int(rate * seconds))
    with Consumers(queue, marks.mark, Countdown(0)):
        before = paced(rate, seconds, queue.put)
        return latency_result(before, marks, timeout=60, warm_up=warm_up)
