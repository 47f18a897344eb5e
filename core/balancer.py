"""The balancer: how many workers each category gets (design.md section 5).

``allocate`` is the pure arithmetic, tested with tables and properties. ``Balancer`` adds
cooldown and the decision record; only the scheduler applies its result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


def demands_of(items: Sequence[Demand]) -> dict[str, float]:
    """Weighted demand, with weights scaled by the largest so that 1e308 cannot overflow."""
    top = max((d.weight for d in items), default=1.0) or 1.0
    return {
        d.name: 0.0 if d.paused or d.pinned is not None else (d.queued + d.running) * (d.weight / top)
        for d in items
    }


def allocate(budget: int, items: Sequence[Demand]) -> dict[str, int]:
    """Split ``budget`` workers among categories.

    Pinned categories get their pin; every other gets its minimum; a category with demand
    and no worker gets one while the budget allows; the rest is shared in proportion to
    demand by largest remainder, capped by maximums with the surplus re-shared. Workers
    nobody demands go to idle categories by weight. With no demand anywhere, pools keep
    their size.
    """
    caps = {d.name: budget if d.max_workers is None else min(d.max_workers, budget) for d in items}
    targets = {d.name: (d.pinned if d.pinned is not None else d.min_workers) for d in items}
    rest = budget - sum(targets.values())
    if rest < 0:
        raise ValueError(f"minimums and pins ({sum(targets.values())}) exceed the budget ({budget})")
    demand = demands_of(items)
    free = [d for d in items if d.pinned is None]

    if not any(demand.values()):
        kept = {d.name: min(max(d.current, d.min_workers), caps[d.name]) for d in free}
        if sum(kept.values()) + sum(t for n, t in targets.items() if n not in kept) == budget:
            targets.update(kept)
            return targets

    # A category with work never starves while the budget allows.
    hungry = sorted((d for d in free if demand[d.name] > 0), key=lambda d: (-demand[d.name], d.name))
    for d in hungry:
        if rest > 0 and targets[d.name] == 0 and caps[d.name] > 0:
            targets[d.name] = 1
            rest -= 1

    rest = _share(rest, targets, caps, {d.name: demand[d.name] for d in hungry})
    top = max((d.weight for d in items), default=1.0) or 1.0
    idle = [d for d in free if demand[d.name] == 0]
    for group in ([d for d in idle if not d.paused], [d for d in idle if d.paused]):
        rest = _share(rest, targets, caps, {d.name: d.weight / top for d in group})
    return targets


def _share(rest: int, targets: dict[str, int], caps: Mapping[str, int], score: Mapping[str, float]) -> int:
    """Largest-remainder sharing of ``rest`` by ``score`` with caps; returns what is left."""
    pool = [n for n, s in score.items() if s > 0 and targets[n] < caps[n]]
    while rest > 0 and pool:
        total = math.fsum(score[n] for n in pool)
        quotas = {n: rest * score[n] / total for n in pool}
        capped = [n for n in pool if quotas[n] >= caps[n] - targets[n]]
        if capped:
            for n in capped:
                rest -= caps[n] - targets[n]
                targets[n] = caps[n]
            pool = [n for n in pool if n not in capped]
            continue
        floors = {n: int(quotas[n]) for n in pool}
        for n in pool:
            targets[n] += floors[n]
        left = rest - sum(floors.values())
        order = sorted(pool, key=lambda n: (-(quotas[n] - floors[n]), -score[n], n))
        for n in order[:left]:
            targets[n] += 1
        rest = 0
    return rest


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


def explain(items: Sequence[Demand], before: Mapping[str, int], targets: Mapping[str, int]) -> tuple[str, ...]:
    """One line per changed category, e.g. ``web 2->5: demand 60% of total``."""
    demand = demands_of(items)
    total = math.fsum(demand.values())
    lines = []
    for d in items:
        old, new = before.get(d.name, 0), targets[d.name]
        if old == new:
            continue
        if d.pinned is not None:
            why = f"pinned at {d.pinned}"
        elif d.paused:
            why = "paused, no demand"
        elif demand[d.name] > 0:
            why = f"demand {100 * demand[d.name] / total:.0f}% of total ({d.queued} queued + {d.running} running, x{d.weight:g})"
        elif new == d.min_workers:
            why = f"no demand, kept at its minimum {d.min_workers}"
        else:
            why = "no demand, holds spare workers"
        if d.max_workers is not None and new == d.max_workers and not d.pinned:
            why += f", capped at max {d.max_workers}"
        lines.append(f"{d.name} {old}->{new}: {why}")
    return tuple(lines)


class Balancer:
    """Turns demand into decisions, holding back small changes during the cooldown."""

    def __init__(self, budget: int, cooldown: float) -> None:
        self.budget = budget
        self.cooldown = cooldown
        self._last_change: float | None = None  # monotonic time of the last applied change

    def decide(
        self, items: Sequence[Demand], now: float, mono: float, trigger: str = "interval", force: bool = False
    ) -> Decision | None:
        """Return a decision to apply, or None when nothing changes or cooldown holds it."""
        before = {d.name: d.current for d in items}
        targets = allocate(self.budget, items)
        if targets == before:
            return None
        small = all(abs(targets[n] - before[n]) <= 1 for n in targets)
        if (
            not force
            and small
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
        return Decision(now, trigger, self.budget, inputs, before, targets, explain(items, before, targets))
