"""``concurrent.futures.ThreadPoolExecutor(4)``: fast and keeps nothing, the in-memory
ceiling. Its futures are the only record of a task."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from .common import WARM_UP_TASKS, StartTimes, latency_result, paced

WORKERS = 4


def noop() -> None:
    return None


def bulk(tmp: Path, n: int) -> dict[str, float]:
    """Submit ``n`` no-ops while every worker waits at a gate, then open it and drain, so
    the submit and drain phases are timed apart as for the durable systems."""
    gate = threading.Event()
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in range(WORKERS):
            pool.submit(gate.wait, 60)
        t0 = time.perf_counter()
        futures: list[Future[None]] = [pool.submit(noop) for _ in range(n)]
        t1 = time.perf_counter()
        gate.set()
        wait(futures)
        t2 = time.perf_counter()
    return {"n": n, "submit_s": t1 - t0, "drain_s": t2 - t1}


def one(tmp: Path, n: int) -> dict[str, float]:
    with ThreadPoolExecutor(WORKERS) as pool:
        t0 = time.perf_counter()
        for _ in range(n):
            pool.submit(noop)
        return {"n": n, "submit_s": time.perf_counter() - t0}


def latency(
    tmp: Path, rate: float, seconds: float, warm_up: int = WARM_UP_TASKS
) -> dict[str, float]:
    marks = StartTimes(int(rate * seconds))
    with ThreadPoolExecutor(WORKERS) as pool:
        before = paced(rate, seconds, lambda i: pool.submit(marks.mark, i))
        return latency_result(before, marks, timeout=30, warm_up=warm_up)
