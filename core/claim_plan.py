"""One claim through token buckets: the category's own and its limited handlers'.

Every store runs the same plan inside its claim transaction (``claim_limited``): read
the buckets, then repeatedly pick the next queued tasks in claim order, skipping handlers
whose bucket is empty, take one token per task picked (from its handler's bucket and the
category's), claim them, and write the buckets back. Each round either fills the claim,
runs out of queued tasks, or empties another handler's bucket, so it ends within one
round per limited handler, plus one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .limits import RateLimit, grant, refill, wait_for_token

if TYPE_CHECKING:
    from .task import TaskRecord

#: (tokens, updated_at) of a bucket as a store keeps it
BucketState = tuple[float, float]
#: ``select(blocked handlers, n)``: up to ``n`` queued ``(id, handler)`` in claim order
Select = Callable[[list[str], int], list[tuple[int, str]]]


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    """The buckets a category's claim draws on: ``category`` is ``(key, limit)`` or None;
    ``handlers`` maps a handler name to ``(key, limit)``."""

    category: tuple[str, RateLimit] | None = None
    handlers: Mapping[str, tuple[str, RateLimit]] = field(default_factory=dict)

    def buckets(self) -> dict[str, RateLimit]:
        found = dict(self.handlers.values())
        if self.category is not None:
            found[self.category[0]] = self.category[1]
        return found


class ClaimPlan:
    """The tokens of one claim, on the store's clock ``now``."""

    def __init__(
        self, limits: ClaimLimits, wanted: int, stored: Mapping[str, BucketState], now: float
    ) -> None:
        self._limits = limits
        self._of = limits.buckets()
        self.tokens: dict[str, float] = {}
        self.updated: dict[str, float] = {}
        for key, limit in self._of.items():
            state = stored.get(key)
            self.tokens[key] = limit.burst if state is None else refill(*state, limit, now)
            self.updated[key] = now if state is None else max(now, state[1])
        #: how many more tasks this claim may take
        self.left = wanted
        if limits.category is not None:
            self.left = grant(self.tokens[limits.category[0]], wanted)
        self.capped = self.left < wanted  # the category's bucket cut the claim short
        self.skipped: set[str] = set()  # handler buckets that held a task back

    def blocked(self) -> list[str]:
        """Handlers whose bucket holds no whole token: the next pick leaves them out."""
        return sorted(h for h, (key, _) in self._limits.handlers.items() if not self._has(key))

    def _has(self, key: str) -> bool:
        return grant(self.tokens[key], 1) == 1

    def take(self, candidates: list[tuple[int, str]]) -> list[int]:
        """Pick from ``candidates`` (in claim order) what the tokens pay for."""
        chosen: list[int] = []
        for task_id, handler in candidates:
            if len(chosen) >= self.left:
                break
            bucket = self._limits.handlers.get(handler)
            if bucket is not None:
                if not self._has(bucket[0]):
                    self.skipped.add(bucket[0])
                    continue
                self.tokens[bucket[0]] -= 1
            chosen.append(task_id)
        self.left -= len(chosen)
        if self._limits.category is not None:
            self.tokens[self._limits.category[0]] -= len(chosen)
        return chosen

    def run(
        self, select: Select, claim_ids: Callable[[list[int]], list[TaskRecord]]
    ) -> list[TaskRecord]:
        """The rounds of picking and claiming; returns the claimed tasks."""
        tasks: list[TaskRecord] = []
        while self.left > 0:
            asked = self.left
            candidates = select(self.blocked(), asked)
            chosen = self.take(candidates)
            if chosen:
                tasks += claim_ids(chosen)
            if len(candidates) < asked:
                break  # nothing more queued that a bucket lets through
        return tasks

    def wait(self, more_queued: Callable[[], bool]) -> float | None:
        """Seconds until the next token that would let a held-back task start; None if
        the buckets held nothing back. With room left, whatever still waits is held by
        the handlers whose buckets are empty."""
        keys = set(self.skipped)
        if self.left > 0:
            keys.update(key for key, _ in self._limits.handlers.values() if not self._has(key))
        category = self._limits.category
        if category is not None and self.capped and self.left == 0:
            keys.add(category[0])
        if not keys or not more_queued():
            return None
        return min(wait_for_token(self.tokens[k], self._of[k]) for k in keys)

    def states(self) -> dict[str, BucketState]:
        """What to write back, per bucket."""
        return {key: (self.tokens[key], self.updated[key]) for key in self._of}
