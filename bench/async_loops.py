"""Async handlers: one event loop per worker thread, or one loop thread shared by all?

    python bench/async_loops.py [--workers 4] [--tasks 100] [--sleep 0.05] [--noops 20000]

Both strategies keep the engine's model, a worker runs one task at a time, and differ only
in where the coroutine runs: on the worker's own loop (``run_until_complete``), or on a
shared loop thread while the worker waits for its future (``run_coroutine_threadsafe``).
Prints, for each: the wall time of ``--tasks`` coroutines awaiting ``asyncio.sleep``, and
the cost per task of ``--noops`` coroutines that return at once (the hand-off overhead).
The engine uses the first; see the README's "Async handlers".
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


async def sleeper(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


def drain(workers: int, jobs: list[float], make_runner: Callable[[], Runner]) -> float:
    """Run ``jobs`` on ``workers`` threads, each taking one job at a time; wall seconds."""
    fifo: queue.Queue[float] = queue.Queue()
    for job in jobs:
        fifo.put(job)

    def work() -> None:
        run = make_runner()
        while True:
            try:
                seconds = fifo.get_nowait()
            except queue.Empty:
                return
            run(sleeper(seconds))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def per_thread() -> Callable[[], Runner]:
    def make() -> Runner:
        loop = asyncio.new_event_loop()
        return loop.run_until_complete

    return make


def shared() -> tuple[Callable[[], Runner], Callable[[], None]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def make() -> Runner:
        return lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result()

    def close() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    return make, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--sleep", type=float, default=0.05)
    parser.add_argument("--noops", type=int, default=20000)
    args = parser.parse_args()
    sleeps = [args.sleep] * args.tasks
    noops = [0.0] * args.noops
    ideal = args.tasks * args.sleep / args.workers
    print(f"{args.tasks} x sleep({args.sleep}) on {args.workers} workers (ideal {ideal:.2f} s)")
    make_shared, close = shared()
    for name, make in (("loop per worker thread", per_thread()), ("one shared loop", make_shared)):
        wall = drain(args.workers, sleeps, make)
        cost = drain(args.workers, noops, make) / args.noops * 1e6
        print(f"  {name:24} {wall:6.3f} s   no-op coroutine: {cost:6.1f} us per task")
    close()


if __name__ == "__main__":
    main()
