"""Pieces every system's runner shares: a completion counter, paced submits, percentiles.

Each runner executes in a fresh child process (``bench/child.py``), so nothing here is
shared between systems at run time; it only keeps the runners measuring the same way.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

#: Paced latency runs drop this many first tasks (thread start-up, first connections).
WARM_UP_TASKS = 200


class Countdown:
    """Counts finished tasks from any thread; ``wait()`` returns once ``n`` have finished."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        if n <= 0:
            self._done.set()

    def add(self, k: int = 1) -> None:
        with self._lock:
            self.count += k
            if self.count >= self.n:
                self._done.set()

    def add_one(self, _payload: object = None) -> None:
        """``add(1)`` with the signature of a handler, to be registered as one."""
        self.add()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)


class StartTimes:
    """Records ``time.perf_counter()`` at the start of task ``i`` (the latency scenario)."""

    def __init__(self, n: int) -> None:
        self.started: list[float | None] = [None] * n
        self.countdown = Countdown(n)

    def mark(self, i: int) -> None:
        self.started[i] = time.perf_counter()
        self.countdown.add()


def paced(rate: float, seconds: float, submit: Callable[[int], object]) -> list[float]:
    """Call ``submit(i)`` ``rate`` times a second for ``seconds``; return the
    ``perf_counter()`` taken just before each call.

    Sleeps between calls rather than spinning, so the submitting thread does not take the
    GIL from the workers it is measuring. A call that falls behind is made at once.
    """
    n = int(rate * seconds)
    before = [0.0] * n
    t0 = time.perf_counter()
    for i in range(n):
        target = t0 + i / rate
        left = target - time.perf_counter()
        if left > 0:
            time.sleep(left)
        before[i] = time.perf_counter()
        submit(i)
    return before


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_result(
    before: Sequence[float], marks: StartTimes, timeout: float, warm_up: int
) -> dict[str, float]:
    """Submit-to-start latencies (ms) of the tasks after the first ``warm_up``; missing
    starts (a task that had not started within ``timeout``) are counted, not guessed."""
    marks.countdown.wait(timeout)
    lat = [
        (start - sent) * 1000
        for sent, start in zip(before[warm_up:], marks.started[warm_up:], strict=True)
        if start is not None
    ]
    missing = sum(1 for s in marks.started if s is None)
    return {
        "n": len(lat),
        "missing": missing,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else float("nan"),
        "submit_rate": (len(before) - 1) / max(before[-1] - before[0], 1e-9),
    }
