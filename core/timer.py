"""The timer: a heap of deadlines and a condition the dispatcher sleeps on.

Delayed tasks and retry backoffs are stored with a wall-clock ``run_at``; the timer turns
each into a deadline on the monotonic clock, so the dispatcher wakes exactly when the
earliest one is due (not on a fixed-period poll) or when someone calls :meth:`wake`.
"""

from __future__ import annotations

import heapq
import threading

from .clock import Clock


class Timer:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[float] = []  # monotonic deadlines
        self._woken = False

    def schedule_at(self, run_at: float) -> None:
        """Wake the dispatcher at wall time ``run_at`` (converted to monotonic now)."""
        deadline = self._clock.monotonic() + (run_at - self._clock.now())
        self.schedule_mono(deadline)

    def schedule_mono(self, deadline: float) -> None:
        with self._cond:
            earliest = self._heap[0] if self._heap else None
            heapq.heappush(self._heap, deadline)
            if earliest is None or deadline < earliest:
                self._cond.notify_all()

    def wake(self) -> None:
        """Make the current or next :meth:`wait` return at once."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def pop_due(self) -> bool:
        """Drop every deadline that has passed; True if there was one."""
        now = self._clock.monotonic()
        due = False
        with self._cond:
            while self._heap and self._heap[0] <= now:
                heapq.heappop(self._heap)
                due = True
        return due

    def next_deadline(self) -> float | None:
        with self._cond:
            return self._heap[0] if self._heap else None

    def wait(self, max_wait: float) -> None:
        """Sleep until the earliest deadline, a :meth:`wake`, or ``max_wait`` seconds."""
        with self._cond:
            if not self._woken:
                timeout = max_wait
                if self._heap:
                    timeout = min(timeout, max(0.0, self._heap[0] - self._clock.monotonic()))
                if timeout > 0:
                    self._cond.wait(timeout)
            self._woken = False
