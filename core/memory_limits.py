"""The memory store's claims through token buckets (rate limits; see
:mod:`.claim_plan`): :class:`~.memory_store.MemoryStore` inherits them. The buckets live
in a dict, under the store's lock."""

from __future__ import annotations

import heapq
import threading
from dataclasses import replace
from functools import partial

from .claim_plan import ClaimLimits, ClaimPlan
from .limits import Claimed
from .task import QUEUED, RUNNING, TaskRecord, claim_order


class MemoryLimits:
    _lock: threading.Lock
    _rows: dict[int, TaskRecord]
    _queued: dict[str, list[tuple[int, int]]]
    _buckets: dict[str, tuple[float, float]]

    def claim_limited(
        self, category: str, limit: int, owner: str, now: float, limits: ClaimLimits
    ) -> Claimed:
        with self._lock:
            plan = ClaimPlan(limits, limit, self._buckets, now)
            tasks = plan.run(partial(self._candidates, category), partial(self._claim, owner, now))
            self._buckets.update(plan.states())
        return Claimed(tasks, plan.wait(lambda: bool(self._candidates(category, [], 1))))

    def _candidates(self, category: str, blocked: list[str], n: int) -> list[tuple[int, str]]:
        rows = (self._rows.get(entry[1]) for entry in self._queued.get(category, []))
        live = (r for r in rows if r is not None and r.state == QUEUED and r.handler not in blocked)
        return [(r.id, r.handler) for r in heapq.nsmallest(n, live, key=claim_order)]

    def _claim(self, owner: str, now: float, ids: list[int]) -> list[TaskRecord]:
        claimed = []
        for row in (self._rows[i] for i in ids):
            row.state, row.owner, row.started_at = RUNNING, owner, now
            row.attempts += 1
            claimed.append(replace(row))
        return claimed
