"""Clocks: wall time for what is stored, monotonic time for waiting.

The engine never calls ``time`` directly; it asks its clock, so tests can use
:class:`FakeClock` and drive every timer step by step.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (stored in the database)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (used for every wait and timeout)."""


class SystemClock:
    # The readings straight from ``time``: no Python frame per read (a node reads the
    # clock several times per task).
    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)


class SteadyClock:
    """Wall time that ignores jumps: a node uses it so that setting the system clock while
    it runs makes no delayed task early and none run twice.

    It follows the wall clock while the wall clock agrees with the monotonic clock (to
    within ``JUMP`` seconds since the last reading, so NTP's slow slewing is followed);
    after a jump it keeps counting on the monotonic clock from the last agreed reading.
    Times written by other processes use their own wall clocks; a jump is absorbed when
    the node restarts.
    """

    JUMP = 1.0

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._wall = clock.now
        #: the wrapped clock's monotonic reading (bound once: read several times per task)
        self.monotonic = clock.monotonic
        self._base = (clock.now(), clock.monotonic())

    def now(self) -> float:
        wall, mono = self._wall(), self.monotonic()
        base_wall, base_mono = self._base
        steady = base_wall + (mono - base_mono)
        if abs(wall - steady) <= self.JUMP:
            self._base = (wall, mono)  # one tuple: replaced atomically
            return wall
        return steady


class FakeClock:
    """A clock that moves only when a test calls :meth:`advance`."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._wall = start
        self._mono = 1000.0

    def now(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a fake clock only moves forward")
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def jump_wall(self, seconds: float) -> None:
        """Move only the wall clock (an operator or NTP setting the time), either way."""
        with self._lock:
            self._wall += seconds
