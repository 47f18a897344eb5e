"""Triggers: when a recurring schedule fires.

A :class:`Trigger` answers one question, "the first tick strictly after ``t``", in wall
seconds since the epoch. The engine ships :class:`Every` (a fixed period, anchored at the
epoch so that every node computes the same ticks); cron expressions need a calendar and a
time-zone database, so the cron trigger lives outside the engine (``jobsched/cron.py``,
built on croniter) and reaches it either as an object passed as ``trigger=`` or through
the factory that importing ``jobsched`` installs here (:func:`install_cron`), which
``cron="..."`` strings are handed to. The engine itself imports nothing beyond the
standard library.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .errors import ConfigError

#: The shortest period a schedule accepts: schedules start tasks, they are not a rate loop.
MIN_PERIOD = 1.0
#: The longest: a year (longer periods are a cron expression's job).
MAX_PERIOD = 366 * 86400.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


@runtime_checkable
class Trigger(Protocol):
    """When a schedule fires. Implementations are immutable and thread-safe."""

    #: How an operator reads it, e.g. ``every 30s`` or ``cron */5 * * * * (UTC)``.
    description: str

    def next_after(self, t: float) -> float:
        """The first tick strictly after wall time ``t`` (epoch seconds). Must be
        deterministic: every node computes the same ticks, which is what lets the store
        refuse a second claim of one tick."""


def parse_duration(what: str, text: object) -> float:
    """``"30s"``, ``"5m"``, ``"1h30m"``, ``"2d"``, ``"1500ms"`` or a number of seconds."""
    if isinstance(text, bool):
        raise ConfigError(what, text, "is not a duration", 'Write e.g. "30s", "5m" or "1h"')
    if isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str) and text.strip():
        compact = text.replace(" ", "").lower()
        parts = _DURATION.findall(compact)
        if "".join(n + u for n, u in parts) != compact:
            raise ConfigError(
                what, text, "is not a duration", 'Write e.g. "30s", "5m", "1h30m" or "2d"'
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ConfigError(what, text, "is not a duration", 'Write e.g. "30s", "5m" or "1h"')
    if not math.isfinite(seconds) or not MIN_PERIOD <= seconds <= MAX_PERIOD:
        raise ConfigError(
            what,
            text,
            f"must be between {MIN_PERIOD:g} s and {MAX_PERIOD / 86400:g} days",
            "Use a cron expression for calendar periods",
        )
    return seconds


class Every:
    """A fixed period, in seconds, anchored at the epoch (plus ``offset``): ``Every(300)``
    fires at :00, :05, :10 ... of every hour, on every node alike."""

    def __init__(self, period: float | str, offset: float = 0.0) -> None:
        self.period = parse_duration("every", period)
        self.offset = float(offset) % self.period
        text = period if isinstance(period, str) else f"{self.period:g}s"
        self.description = f"every {text}"

    def next_after(self, t: float) -> float:
        k = math.floor((t - self.offset) / self.period) + 1
        tick = self.offset + k * self.period
        # Rounding can land one period short when t sits on a tick: step past t.
        while tick <= t:
            k += 1
            tick = self.offset + k * self.period
        return tick

    def __repr__(self) -> str:
        return f"Every({self.period:g})"


#: Builds a cron trigger from (expression, IANA time zone); installed by ``jobsched``.
CronFactory = Callable[[str, str], Trigger]
_cron: list[CronFactory] = []


def install_cron(factory: CronFactory) -> None:
    """Make ``cron="..."`` strings work: called once by ``jobsched/__init__.py``."""
    _cron[:] = [factory]


def cron_trigger(expression: str, timezone: str = "UTC") -> Trigger:
    """The cron trigger the installed factory builds; a ConfigError if none is."""
    if not _cron:
        raise ConfigError(
            "cron expression",
            expression,
            "needs the cron support that importing jobsched installs",
            "Import jobsched (or pass trigger=jobsched.cron(...))",
        )
    return _cron[0](expression, timezone)
