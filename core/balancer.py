"""The balancer: how many workers each category gets.

``allocate`` is the pure arithmetic, tested with tables and properties. ``Balancer`` adds
cooldown and the decision record; only the scheduler applies its result.

The arithmetic is exact (``fractions.Fraction``): weights from 5e-324 to 1e308 multiply and
divide without overflow or underflow, so equal demands tie exactly and a tiny weight is
never rounded to "no demand".
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class Demand:
    """One category as the balancer sees it."""

    name: str
    weight: float
    queued: int = 0
    running: int = 0
    min_workers: int = 0
    max_workers: int | None = None
    paused: bool = False
    pinned: int | None = None
    current: int = 0
    #: the most workers its rate limit keeps busy (rate x average run time, at least 1 and
    #: its minimum); None: not limited, or no run time known yet
    rate_cap: int | None = None


def has_demand(d: Demand) -> bool:
    """Work queued or running in a category the balancer may size (not paused, not pinned)."""
    return not d.paused and d.pinned is None and d.queued + d.running > 0


def demand_of(d: Demand) -> Fraction:
    """(queued + running) x weight, exactly; 0 for a paused or pinned category."""
    return Fraction(d.queued + d.running) * Fraction(d.weight) if has_demand(d) else Fraction(0)


def demand_shares(items: Sequence[Demand]) -> dict[str, float]:
    """Each category's fraction of the total demand (0 to 1), for the decision record."""
    demand = {d.name: demand_of(d) for d in items}
    total = sum(demand.values(), Fraction(0))
    return {n: float(v / total) if total else 0.0 for n, v in demand.items()}


def allocate(budget: int, items: Sequence[Demand]) -> dict[str, int]:
    """Split ``budget`` workers among categories (called by ``Balancer.decide``).

    Pinned categories get their pin; every other gets its minimum; the rest is shared in
    proportion to demand, capped by maximums with the surplus re-shared, and rounded by
    largest remainder. A category with demand whose share would round to no worker gets one
    while the budget allows (when free workers are fewer than such categories, the largest
    demands get one each). No category gets more workers than it has tasks (queued +
    running) through demand: more would sit idle. Workers beyond all the work are spare:
    they first stay in the pools that have them (no churn for nothing), then go to
    categories by weight, paused ones last. With no demand anywhere, pools keep their size
    when those sizes are valid.
    """
    _check_weights(items)
    caps = {d.name: budget if d.max_workers is None else min(d.max_workers, budget) for d in items}
    targets = {d.name: (d.pinned if d.pinned is not None else d.min_workers) for d in items}
    rest = budget - sum(targets.values())
    if rest < 0:
        raise ValueError(
            f"minimums and pins ({sum(targets.values())}) exceed the budget ({budget})"
        )
    free = [d for d in items if d.pinned is None]
    hungry = [d for d in free if has_demand(d)]

    if not hungry:
        kept = {d.name: min(max(d.current, d.min_workers), caps[d.name]) for d in free}
        if sum(kept.values()) + sum(t for n, t in targets.items() if n not in kept) == budget:
            targets.update(kept)
            return targets

    demand = {d.name: demand_of(d) for d in hungry}
    # A category with work never starves while the budget allows: each one still at 0 is
    # owed a worker. When there are too few, the largest demands are served first.
    owed = sorted(
        (d.name for d in hungry if targets[d.name] == 0 and caps[d.name] > 0),
        key=lambda n: (-demand[n], n),
    )
    if len(owed) > rest:
        for n in owed[:rest]:
            targets[n] = 1
        return targets
    useful = {d.name: min(caps[d.name], max(targets[d.name], _work(d))) for d in hungry}
    rest = _share(rest, targets, useful, demand, floor=dict.fromkeys(owed, 1))
    _share_spare(rest, targets, free, caps)
    return targets


def _work(d: Demand) -> int:
    """How many workers a category's demand can keep busy: one per task, and no more
    than its rate limit lets start (``rate_cap``)."""
    tasks = d.queued + d.running
    return tasks if d.rate_cap is None else min(tasks, d.rate_cap)


def _check_weights(items: Sequence[Demand]) -> None:
    for d in items:
        if not (math.isfinite(d.weight) and d.weight > 0):
            raise ValueError(
                f"weight of category {d.name!r} is {d.weight!r}: it must be a finite number "
                "above zero; fix the category's priority"
            )


def _share_spare(
    rest: int, targets: dict[str, int], free: Sequence[Demand], caps: dict[str, int]
) -> None:
    """Spare workers: first back to the pools that hold them now, then by weight, paused
    categories last."""
    holds = {d.name: min(d.current, caps[d.name]) for d in free if not d.paused}
    rest = _share(
        rest,
        targets,
        holds,
        {n: Fraction(holds[n] - targets[n]) for n in holds if holds[n] > targets[n]},
    )
    for group in ([d for d in free if not d.paused], [d for d in free if d.paused]):
        rest = _share(rest, targets, caps, {d.name: Fraction(d.weight) for d in group})


def _share(
    rest: int,
    targets: dict[str, int],
    caps: Mapping[str, int],
    score: Mapping[str, Fraction],
    floor: Mapping[str, int] | None = None,
) -> int:
    """Share ``rest`` by ``score`` between ``floor`` and the caps; returns what is left.

    Each category's exact quota is its proportional share, raised to its floor or lowered
    to its cap with the difference re-shared among the others; quotas are then rounded by
    largest remainder (ties: larger score, then name), so they sum to exactly ``rest``.
    The caller guarantees that the floors fit in ``rest``.
    """
    floor = floor or {}
    names = [n for n in score if targets[n] < caps[n]]
    low = {n: floor.get(n, 0) for n in names}
    high = {n: caps[n] - targets[n] for n in names}
    room = sum(high.values())
    if rest >= room:
        for n in names:
            targets[n] = caps[n]
        return rest - room
    quota = _quotas(rest, {n: score[n] for n in names}, low, high)
    share = {n: math.floor(quota[n]) for n in names}
    left = rest - sum(share.values())
    order = sorted(names, key=lambda n: (-(quota[n] - share[n]), -score[n], n))
    for n in order[:left]:
        share[n] += 1
    for n in names:
        targets[n] += share[n]
    return 0


def _quotas(
    rest: int, score: Mapping[str, Fraction], low: Mapping[str, int], high: Mapping[str, int]
) -> dict[str, Fraction]:
    """Exact quotas clamp(x * score, low, high) whose sum is ``rest``.

    The sum is a non-decreasing, piecewise-linear function of the factor x, with corners
    where a category meets its floor or its cap; find the piece that reaches ``rest`` and
    solve it. Needs sum(low) <= rest <= sum(high) and scores above zero.
    """

    def quotas_at(x: Fraction) -> dict[str, Fraction]:
        return {n: min(max(x * s, Fraction(low[n])), Fraction(high[n])) for n, s in score.items()}

    def total_at(x: Fraction) -> Fraction:
        return sum(quotas_at(x).values(), Fraction(0))

    corners = sorted({Fraction(0)} | {b / s for n, s in score.items() for b in (low[n], high[n])})
    k = bisect.bisect_left(corners, Fraction(rest), key=total_at)  # first corner reaching rest
    if k == 0:
        return quotas_at(corners[0])
    x0, x1 = corners[k - 1], corners[k]
    sum0, sum1 = total_at(x0), total_at(x1)
    return quotas_at(x0 + (x1 - x0) * (rest - sum0) / (sum1 - sum0))


@dataclass(frozen=True)
class Decision:
    """One balancer decision: inputs, targets, and why each change happened."""

    at: float
    trigger: str
    budget: int
    inputs: dict[str, dict[str, Any]]
    before: dict[str, int]
    targets: dict[str, int]
    changes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "trigger": self.trigger,
            "budget": self.budget,
            "inputs": self.inputs,
            "before": self.before,
            "targets": self.targets,
            "changes": list(self.changes),
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Decision:
        return Decision(
            at=float(data["at"]),
            trigger=str(data.get("trigger", "")),
            budget=int(data.get("budget", 0)),
            inputs=dict(data.get("inputs", {})),
            before={k: int(v) for k, v in data.get("before", {}).items()},
            targets={k: int(v) for k, v in data.get("targets", {}).items()},
            changes=tuple(data.get("changes", ())),
        )


def explain(
    items: Sequence[Demand], before: Mapping[str, int], targets: Mapping[str, int]
) -> tuple[str, ...]:
    """One line per changed category, e.g. ``web 2->5: demand 60% of total (...)``."""
    share = demand_shares(items)
    lines = []
    for d in items:
        old, new = before.get(d.name, 0), targets[d.name]
        if old == new:
            continue
        if d.pinned is not None:
            why = f"pinned at {d.pinned}"
        elif d.paused:
            why = "paused, no demand"
        elif has_demand(d):
            why = (
                f"demand {100 * share[d.name]:.0f}% of total "
                f"({d.queued:,} queued + {d.running:,} running, x{d.weight:g})"
            )
        elif new == d.min_workers:
            why = f"no demand, kept at its minimum {d.min_workers}"
        else:
            why = "no demand, holds spare workers"
        if d.max_workers is not None and new == d.max_workers and d.pinned is None:
            why += f", capped at max {d.max_workers}"
        elif has_demand(d) and new == d.rate_cap and _work(d) < d.queued + d.running:
            why += f", capped at {d.rate_cap} by its rate limit (rate x average run time)"
        lines.append(f"{d.name} {old}->{new}: {why}")
    return tuple(lines)


class Balancer:
    """Turns demand into decisions, holding back small changes during the cooldown."""

    def __init__(self, budget: int, cooldown: float) -> None:
        self.budget = budget
        self.cooldown = cooldown
        self._last_change: float | None = None  # monotonic time of the last applied change

    def decide(
        self,
        items: Sequence[Demand],
        now: float,
        mono: float,
        trigger: str = "interval",
        force: bool = False,
    ) -> Decision | None:
        """Return a decision to apply, or None when nothing changes or cooldown holds it."""
        before = {d.name: d.current for d in items}
        targets = allocate(self.budget, items)
        if targets == before:
            return None
        small = all(abs(targets[n] - before[n]) <= 1 for n in targets)
        # A starving category (work, no worker) is fed at once, cooldown or not.
        feeds_starving = any(before[d.name] == 0 < targets[d.name] and has_demand(d) for d in items)
        if (
            not force
            and small
            and not feeds_starving
            and sum(before.values()) == self.budget
            and self._last_change is not None
            and mono - self._last_change < self.cooldown
        ):
            return None
        self._last_change = mono
        inputs = {
            d.name: {
                "queued": d.queued,
                "running": d.running,
                "weight": d.weight,
                "paused": d.paused,
                "pinned": d.pinned,
            }
            for d in items
        }
        return Decision(
            now, trigger, self.budget, inputs, before, targets, explain(items, before, targets)
        )
