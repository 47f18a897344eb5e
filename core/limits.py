"""Rate limits: how fast a category's tasks may start, as a token bucket.

A limit is a rate (``"20/s"``, ``"90/min"``, ``"1000/h"``) and a ``burst``: the bucket
holds at most ``burst`` tokens (1 by default: tasks start evenly spaced), fills at the
rate, and each claim of a limited category takes one token per task. So in any window of
``w`` seconds at most ``rate x w + burst`` of its tasks are claimed, on every node of a
store together: the bucket is a row the store updates in the claim's own transaction
(``TaskStore.claim_limited``). A limited category claims only for workers that are free
(no prefetch), so a task starts as it is claimed and the bound holds for starts too.

The arithmetic here is pure (the stores and tests call it with their own clocks); the
engine's side is :class:`~.rate_gate.RateGate`, which the dispatcher claims through, and
:mod:`.claim_plan` the claim every store runs through the buckets. A handler may have a
limit of its own (``@handler(..., rate=...)``, ``[handlers.NAME]``): its tasks then draw
on its bucket too, in its category's claims.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import CategoryConfig
    from .task import CategorySettings, TaskRecord

#: Seconds per unit of a rate's text.
UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
         "hour": 3600.0}  # fmt: skip
#: What the operator writes to lift a limit (``jobsched limit web none``).
NO_LIMIT = "none"
#: What the operator writes to lift a handler's limit entirely, also a configured one
#: (for a handler, ``none`` lifts only the operator's limit: the configured one applies).
UNLIMITED = "unlimited"
MAX_BURST = 1_000_000
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*$")
#: Slack for float arithmetic: 0.9999999999 tokens is one token.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``per_second`` starts a second on average, ``burst`` at once."""

    per_second: float
    burst: int = 1
    text: str = ""

    def describe(self) -> str:
        return self.text + (f" burst {self.burst}" if self.burst != 1 else "")


def parse_rate(text: object, burst: object = None, where: str = "rate") -> RateLimit | None:
    """``"20/s"`` (or ``/min``, ``/h``) and an optional burst (a whole number >= 1) as a
    :class:`RateLimit`; None or ``"none"`` is no limit. Raises ConfigError naming the value."""
    hint = 'Use e.g. "20/s", "90/min" or "1000/h" (or "none")'
    if text is None or (isinstance(text, str) and text.strip().lower() == NO_LIMIT):
        return None
    match = _RATE.match(text.lower()) if isinstance(text, str) else None
    if match is None or match.group(2) not in UNITS:
        raise ConfigError(where, text, "is not a rate of the form N/s, N/min or N/h", hint)
    per_second = float(match.group(1)) / UNITS[match.group(2)]
    if not math.isfinite(per_second) or per_second <= 0:
        raise ConfigError(where, text, "must be above 0", hint)
    count = 1 if burst is None else burst
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BURST:
        raise ConfigError(
            f"{where} burst", burst, f"must be a whole number from 1 to {MAX_BURST:,}", "Use e.g. 5"
        )
    return RateLimit(per_second, count, f"{match.group(1)}/{match.group(2)}")


def refill(tokens: float, updated_at: float, limit: RateLimit, now: float) -> float:
    """The bucket's tokens at ``now``: what it held at ``updated_at`` plus what the rate
    added since (never more than ``burst``; a clock that stepped back adds nothing)."""
    return min(float(limit.burst), tokens + max(0.0, now - updated_at) * limit.per_second)


def grant(tokens: float, wanted: int) -> int:
    """How many of ``wanted`` tasks ``tokens`` pays for (whole tokens only)."""
    return max(0, min(wanted, math.floor(tokens + _EPSILON)))


def wait_for_token(tokens: float, limit: RateLimit) -> float:
    """Seconds until the bucket, holding ``tokens`` now, holds one whole token."""
    return max(0.0, (1.0 - tokens) / limit.per_second) if tokens + _EPSILON < 1 else 0.0


@dataclass(slots=True)
class TokenBucket:
    """One bucket on a caller's clock (the memory store's, and the property tests')."""

    limit: RateLimit
    tokens: float
    updated_at: float

    @classmethod
    def full(cls, limit: RateLimit, now: float) -> TokenBucket:
        return cls(limit, float(limit.burst), now)

    def take(self, wanted: int, now: float) -> int:
        """Take up to ``wanted`` tokens at ``now``; returns how many were taken."""
        self.tokens = refill(self.tokens, self.updated_at, self.limit, now)
        self.updated_at = max(self.updated_at, now)
        taken = grant(self.tokens, wanted)
        self.tokens -= taken
        return taken

    def give_back(self, count: int) -> None:
        """Return tokens taken for tasks that were not there to claim."""
        self.tokens = min(float(self.limit.burst), self.tokens + count)

    def wait(self) -> float:
        return wait_for_token(self.tokens, self.limit)


def rate_cap(limit: RateLimit | None, avg_run: float | None, cat: CategoryConfig) -> int | None:
    """The most workers a limited category keeps busy: rate x average run time (rounded
    up), at least 1 and its minimum; None when it is not limited or no run time is known
    (the balancer then sizes it by its queue alone)."""
    if limit is None or avg_run is None:
        return None
    return max(1, cat.min_workers, math.ceil(limit.per_second * avg_run))


def limiter_key(category: str) -> str:
    """The name of a category's bucket in the store."""
    return f"category:{category}"


def handler_key(handler: str) -> str:
    """The name of a handler's bucket in the store, and of the row of category settings
    that holds the operator's limit for it (``:`` is in no category's name)."""
    return f"handler:{handler}"


def is_handler_key(name: str) -> bool:
    return name.startswith("handler:")


def handler_override(
    configured: RateLimit | None, stored: CategorySettings | None
) -> RateLimit | None:
    """A handler's limit in force: the operator's (its ``handler:NAME`` row of settings)
    if there is one (``"none"`` stored: no limit at all), else the configured or
    registered one."""
    if stored is None or stored.rate is None:
        return configured
    return parse_rate(stored.rate, stored.burst, "stored handler rate")


@dataclass(frozen=True, slots=True)
class HandlerLimit:
    """A handler's rate limit as configured (``[handlers."web.fetch"] rate = "5/s"``)."""

    rate: str
    burst: int | None = None


@dataclass(slots=True)
class Claimed:
    """What ``claim_limited`` returns: the tasks, and when it held some back for want of
    tokens, how many seconds until the next token (None: nothing held back)."""

    tasks: list[TaskRecord]
    wait: float | None = None
