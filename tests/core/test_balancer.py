"""The balancer: ``allocate`` arithmetic and ``Balancer.decide``.

Tables pin down the contract with worked examples; properties check the invariants of
section 5 over random inputs; the last group covers cooldown and the decision record.
Faults rows 7 (bad priorities), 8 (priorities 1e308 and 1e308) and 10 (minimums over the
budget) are covered here for the arithmetic; config validation has its own tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobsched.core.balancer import Balancer, Decision, Demand, allocate

FAST = settings(max_examples=300, deadline=None)


def cat(
    name: str,
    weight: float = 1.0,
    queued: int = 0,
    running: int = 0,
    *,
    min: int = 0,  # named like the config keys so that the tables read short
    max: int | None = None,
    paused: bool = False,
    pinned: int | None = None,
    current: int = 0,
) -> Demand:
    return Demand(
        name=name,
        weight=weight,
        queued=queued,
        running=running,
        min_workers=min,
        max_workers=max,
        paused=paused,
        pinned=pinned,
        current=current,
    )


# ---------------------------------------------------------------------------------------
# Tables: allocate(budget, items) -> targets
# ---------------------------------------------------------------------------------------

TABLE: list[Any] = [
    # proportional split by demand = (queued + running) x weight
    pytest.param(
        10,
        [cat("web", queued=6), cat("batch", queued=4)],
        {"web": 6, "batch": 4},
        id="proportional: 6 and 4 queued split 10 as 6/4",
    ),
    pytest.param(
        8,
        [cat("web", 3.0, queued=10, running=10), cat("batch", 1.0, queued=20)],
        {"web": 6, "batch": 2},
        id="proportional: weight multiplies queued+running (6 vs 2)",
    ),
    pytest.param(
        8,
        [cat("a", queued=1), cat("b", queued=1), cat("c", 2.0, queued=1)],
        {"a": 2, "b": 2, "c": 4},
        id="proportional: demands 1:1:2 split 8 as 2/2/4",
    ),
    pytest.param(
        10,
        [cat("web", 1.0, running=50), cat("batch", 4.0, queued=50)],
        {"web": 2, "batch": 8},
        id="proportional: running counts like queued",
    ),
    pytest.param(
        8,
        [cat("web", running=1, current=1), cat("email", current=7)],
        {"web": 1, "email": 7},
        id="no more workers than tasks: one running task keeps one worker, the spare stay put",
    ),
    pytest.param(
        8,
        [cat("web", 3.0, queued=1, running=1), cat("batch", 1.0, queued=2)],
        {"web": 5, "batch": 3},
        id="spare workers beyond every task go by weight when no pool holds them",
    ),
    pytest.param(
        8,
        [
            cat("web", queued=2, current=1),
            cat("email", current=5),
            cat("cron", paused=True, current=2),
        ],
        {"web": 2, "email": 6, "cron": 0},
        id="spare workers stay in unpaused pools; a paused pool gives its workers up",
    ),
    # minimums first, then the rest by demand
    pytest.param(
        10,
        [cat("a", queued=1, min=6), cat("b", queued=3)],
        {"a": 7, "b": 3},
        id="minimums first: a keeps 6, the other 4 split 1:3",
    ),
    pytest.param(
        10,
        [cat("idle", min=3), cat("busy", queued=50)],
        {"idle": 3, "busy": 7},
        id="minimums first: an idle category keeps its minimum",
    ),
    pytest.param(
        6,
        [cat("a", min=2), cat("b", min=4, queued=9)],
        {"a": 2, "b": 4},
        id="minimums first: minimums use the whole budget",
    ),
    # maximums cap, the surplus is re-shared
    pytest.param(
        10,
        [cat("a", queued=9, max=3), cat("b", queued=1)],
        {"a": 3, "b": 7},
        id="maximum: a capped at 3, surplus to b",
    ),
    pytest.param(
        12,
        [cat("a", queued=10, max=2), cat("b", queued=1), cat("c", queued=1)],
        {"a": 2, "b": 5, "c": 5},
        id="maximum: surplus re-shared among the rest",
    ),
    pytest.param(
        14,
        [cat("a", queued=10, max=2), cat("b", queued=3, max=4), cat("c", queued=1)],
        {"a": 2, "b": 4, "c": 8},
        id="maximum: capping one pushes another over its cap",
    ),
    # largest remainder: the sum is exactly the budget
    pytest.param(
        10,
        [cat("a", queued=1), cat("b", queued=1), cat("c", queued=1)],
        {"a": 4, "b": 3, "c": 3},
        id="largest remainder: 3.33 each, the tie goes to the first name",
    ),
    pytest.param(
        7,
        [cat("a", queued=5), cat("b", queued=3), cat("c", queued=2)],
        {"a": 4, "b": 2, "c": 1},
        id="largest remainder: quotas 3.5/2.1/1.4 give 4/2/1",
    ),
    pytest.param(
        5,
        [cat("a", queued=1), cat("b", queued=2)],
        {"a": 2, "b": 3},
        id="largest remainder: 1.67/3.33, the .67 wins the spare",
    ),
    pytest.param(
        11,
        [cat("a", queued=20), cat("b", queued=70), cat("c", queued=10)],
        {"a": 2, "b": 8, "c": 1},
        id="largest remainder: quotas 2.2/7.7/1.1 give 2/8/1",
    ),
    # pins
    pytest.param(
        10,
        [cat("a", queued=100, pinned=4), cat("b", queued=1)],
        {"a": 4, "b": 6},
        id="pinned: exactly the pin despite demand",
    ),
    pytest.param(
        10,
        [cat("a", queued=50, pinned=0), cat("b", current=3)],
        {"a": 0, "b": 10},
        id="pinned at 0: no workers even with work queued",
    ),
    pytest.param(
        10,
        [cat("a", pinned=5, max=2, min=3), cat("b", queued=1)],
        {"a": 5, "b": 5},
        id="pinned: the pin beats min and max",
    ),
    # paused categories have no demand
    pytest.param(
        10,
        [cat("a", queued=100, paused=True), cat("b", queued=1)],
        {"a": 0, "b": 10},
        id="paused: no demand, gets nothing while others can use the workers",
    ),
    pytest.param(
        10,
        [cat("a", queued=100, paused=True, min=2), cat("b", queued=1)],
        {"a": 2, "b": 8},
        id="paused: keeps its minimum",
    ),
    pytest.param(
        10,
        [cat("a", queued=100, paused=True), cat("b", queued=1, max=4)],
        {"a": 6, "b": 4},
        id="paused: takes only workers nobody else may hold",
    ),
    # no demand anywhere: pools keep their size when the sizes are valid
    pytest.param(
        10,
        [cat("a", current=3), cat("b", current=7)],
        {"a": 3, "b": 7},
        id="no demand: current 3/7 kept",
    ),
    pytest.param(
        10,
        [cat("a", 1e308, current=1, min=1), cat("b", 1.0, current=9)],
        {"a": 1, "b": 9},
        id="no demand: weights do not move valid sizes",
    ),
    pytest.param(
        10,
        [cat("a", current=2, paused=True, queued=5), cat("b", current=8)],
        {"a": 2, "b": 8},
        id="no demand: a paused backlog is not demand",
    ),
    pytest.param(
        10,
        [cat("a", 1.0), cat("b", 4.0)],
        {"a": 2, "b": 8},
        id="no demand, sizes not summing to the budget: shared by weight",
    ),
    # a category with demand never gets 0 while the budget allows
    pytest.param(
        4,
        [cat("a", 1e6, queued=1000), cat("b", queued=1)],
        {"a": 3, "b": 1},
        id="no starvation: demand 1 beside 1e9 still gets a worker",
    ),
    pytest.param(
        4,
        [cat("a", 1e308, queued=1), cat("b", 5e-324, queued=1)],
        {"a": 3, "b": 1},
        id="no starvation: weight 5e-324 beside 1e308 still gets a worker",
    ),
    pytest.param(
        2,
        [cat("a", queued=1), cat("b", queued=5), cat("c", queued=3)],
        {"a": 0, "b": 1, "c": 1},
        id="no starvation: budget 2 for 3 hungry, the largest demands first",
    ),
    pytest.param(
        3,
        [cat("a", queued=9, min=2), cat("b", queued=1), cat("c", queued=1)],
        {"a": 2, "b": 1, "c": 0},
        id="no starvation: one free worker after minimums, tie by name",
    ),
    # faults row 8: huge priorities
    pytest.param(
        10,
        [cat("a", 1e308, queued=1), cat("b", 1e308, queued=1)],
        {"a": 5, "b": 5},
        id="priorities 1e308 and 1e308 share 50/50",
    ),
    pytest.param(
        10,
        [cat("a", 1e308, queued=1000), cat("b", 1e308, running=1000)],
        {"a": 5, "b": 5},
        id="priorities 1e308 with 1000 tasks each share 50/50",
    ),
    pytest.param(
        9,
        [cat("a", 1e308, queued=3), cat("b", 1e308, queued=3)],
        {"a": 5, "b": 4},
        id="priorities 1e308, odd budget: the spare by name",
    ),
    pytest.param(
        10,
        [cat("a", 1e308, queued=1), cat("b", 1.0, queued=1)],
        {"a": 9, "b": 1},
        id="priority 1e308 beside 1: b keeps one worker",
    ),
    pytest.param(
        5,
        [cat("a", 1e308, max=1), cat("b", 1e-300)],
        {"a": 1, "b": 4},
        id="no demand: spare workers reach a tiny weight when the heavy one is capped",
    ),
    # a single category
    pytest.param(8, [cat("only", queued=3)], {"only": 8}, id="single category: the whole budget"),
    pytest.param(
        8, [cat("only", queued=3, max=5)], {"only": 5}, id="single category: capped by its maximum"
    ),
    pytest.param(8, [cat("only")], {"only": 8}, id="single idle category: the whole budget"),
]


@pytest.mark.parametrize(("budget", "items", "expected"), TABLE)
def test_allocate_table(budget: int, items: list[Demand], expected: dict[str, int]) -> None:
    assert allocate(budget, items) == expected


def test_minimums_and_pins_over_the_budget_are_refused() -> None:
    # faults row 10: config validation rejects this first; allocate refuses it too
    with pytest.raises(ValueError, match=r"minimums and pins \(5\) exceed the budget \(4\)"):
        allocate(4, [cat("a", min=3), cat("b", pinned=2)])


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan"), float("inf")])
def test_a_weight_that_is_not_a_finite_positive_number_is_refused(weight: float) -> None:
    # faults row 7: config rejects such priorities; allocate refuses them too, by name
    with pytest.raises(ValueError, match="weight of category 'web'"):
        allocate(4, [cat("web", weight, queued=1), cat("batch", queued=1)])


# ---------------------------------------------------------------------------------------
# Properties: the balancer's invariants
# ---------------------------------------------------------------------------------------

WEIGHTS = st.one_of(
    st.sampled_from([5e-324, 1e-300, 1e-12, 0.5, 1.0, 3.0, 1e12, 1e300, 1e308]),
    st.floats(min_value=5e-324, max_value=1e308, allow_subnormal=True),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[Demand]]:
    """A budget and 1..6 categories whose minimums, pins and maximums fit the budget.

    Config validation guarantees sum(mins + pins) <= budget <= sum(caps + pins) and
    max_workers >= max(1, min_workers); these are generated to hold the same way.
    """
    budget = draw(st.integers(1, 64))
    count = draw(st.integers(1, 6))
    left = budget  # not yet promised to a minimum or a pin
    items = []
    for i in range(count):
        pinned = draw(st.integers(0, left)) if draw(st.integers(0, 4)) == 0 else None
        minimum = 0 if pinned is not None else draw(st.integers(0, left))
        left -= pinned if pinned is not None else minimum
        maximum = draw(st.none() | st.integers(max(1, minimum), budget + 2))
        work = draw(st.integers(0, 3))  # 0: idle; else some queued and running
        items.append(
            Demand(
                name=f"c{i}",
                weight=draw(WEIGHTS),
                queued=draw(st.integers(0, 1000 if work == 3 else 20)) if work else 0,
                running=draw(st.integers(0, 64)) if work else 0,
                min_workers=minimum,
                max_workers=maximum,
                paused=draw(st.integers(0, 5)) == 0,
                pinned=pinned,
                current=draw(st.integers(0, budget)),
            )
        )
    ceiling = sum(_ceiling(d, budget) for d in items)
    if ceiling < budget:
        unpinned = [i for i, d in enumerate(items) if d.pinned is None]
        if unpinned:
            i = unpinned[0]
            items[i] = replace(items[i], max_workers=None)
        else:  # all pinned: the pins must add up to the budget
            last = items[-1]
            items[-1] = replace(last, pinned=(last.pinned or 0) + budget - ceiling)
    return budget, items


def _cap(d: Demand, budget: int) -> int:
    return budget if d.max_workers is None else min(d.max_workers, budget)


def _ceiling(d: Demand, budget: int) -> int:
    return d.pinned if d.pinned is not None else _cap(d, budget)


def _hungry(d: Demand) -> bool:
    return d.pinned is None and not d.paused and d.queued + d.running > 0


def _free_after_minimums(budget: int, items: Sequence[Demand]) -> int:
    return budget - sum(d.pinned if d.pinned is not None else d.min_workers for d in items)


def _demand(d: Demand) -> Fraction:
    return Fraction(d.queued + d.running) * Fraction(d.weight)


# One check per invariant; the property tests below run them on each generated case so
# that the costly part, generating inputs, is paid once.


def check_sum_is_the_budget(budget: int, items: list[Demand], targets: dict[str, int]) -> None:
    assert sum(targets.values()) == budget, targets


def check_pins_exact_and_others_within_min_and_max(
    budget: int, items: list[Demand], targets: dict[str, int]
) -> None:
    assert set(targets) == {d.name for d in items}
    for d in items:
        if d.pinned is not None:
            assert targets[d.name] == d.pinned, d
        else:
            assert d.min_workers <= targets[d.name] <= _cap(d, budget), d


def check_no_starvation_while_the_budget_allows(
    budget: int, items: list[Demand], targets: dict[str, int]
) -> None:
    """The precise condition. Let ``free`` be the budget minus every minimum and pin, and
    ``needy`` the unpinned, unpaused categories with queued + running > 0 and a minimum of
    0 (max_workers is at least 1 by config). If free >= len(needy), every category with
    demand gets at least one worker. When free is smaller, exactly len(needy) - free of
    them get none, and none of those has a larger demand than one that got a worker."""
    needy = [d for d in items if _hungry(d) and d.min_workers == 0]
    free = _free_after_minimums(budget, items)
    starved = [d for d in needy if targets[d.name] == 0]
    fed = [d for d in needy if targets[d.name] > 0]
    assert len(starved) == max(0, len(needy) - free), (free, [d.name for d in needy], targets)
    if free >= len(needy):
        assert not [d for d in items if _hungry(d) and targets[d.name] == 0]
    for s in starved:
        assert all(_demand(s) <= _demand(f) for f in fed), (s, fed)


def check_shares_follow_demand_within_one_worker(
    budget: int, items: list[Demand], targets: dict[str, int]
) -> None:
    """Between two hungry categories with no minimum that could still use a worker (below
    their cap and below their number of tasks), the one with the larger demand never ends
    more than one worker behind (largest remainder keeps each share within one worker of
    its exact quota)."""
    plain = [
        d
        for d in items
        if _hungry(d)
        and d.min_workers == 0
        and targets[d.name] < min(_cap(d, budget), d.queued + d.running)
    ]
    for a in plain:
        for b in plain:
            if _demand(a) > _demand(b):
                assert targets[a.name] >= targets[b.name] - 1, (a, b, targets)


def check_spare_workers_only_once_all_work_is_covered(
    budget: int, items: list[Demand], targets: dict[str, int]
) -> None:
    """A worker beyond a category's minimum and its tasks (a spare one) exists only when
    every hungry category already has a worker per task or sits at its cap."""
    spare = [
        d
        for d in items
        if d.pinned is None
        and targets[d.name] > max(d.min_workers, d.queued + d.running if _hungry(d) else 0)
    ]
    wanting = [
        d
        for d in items
        if _hungry(d) and targets[d.name] < min(_cap(d, budget), d.queued + d.running)
    ]
    assert not (spare and wanting), (spare, wanting, targets)


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_allocate_keeps_the_invariants_of_section_5(
    case: tuple[int, list[Demand]], rnd: Any
) -> None:
    budget, items = case
    targets = allocate(budget, items)
    check_sum_is_the_budget(budget, items, targets)
    check_pins_exact_and_others_within_min_and_max(budget, items, targets)
    check_no_starvation_while_the_budget_allows(budget, items, targets)
    check_shares_follow_demand_within_one_worker(budget, items, targets)
    check_spare_workers_only_once_all_work_is_covered(budget, items, targets)
    # deterministic: the same answer again, and whatever the order of the categories
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert allocate(budget, items) == targets
    assert allocate(budget, shuffled) == targets
    # with no demand left, the split just made is kept (pools keep their size)
    quiet = [replace(d, queued=0, running=0, current=targets[d.name]) for d in items]
    assert allocate(budget, quiet) == targets


@st.composite
def weight_raises(draw: st.DrawFn) -> tuple[int, list[Demand], int, float]:
    budget, items = draw(scenarios())
    i = draw(st.integers(0, len(items) - 1))
    old = items[i].weight
    new = draw(
        st.sampled_from([old * 1.0000001, old * 2, old * 1e6, 1e308]).map(lambda w: min(w, 1e308))
        | st.floats(min_value=old, max_value=1e308)
    )
    return budget, items, i, new


@FAST
@given(weight_raises())
def test_raising_a_weight_never_lowers_that_categorys_target(
    case: tuple[int, list[Demand], int, float],
) -> None:
    budget, items, i, new = case
    raised = list(items)
    raised[i] = replace(items[i], weight=new)
    name = items[i].name
    assert allocate(budget, raised)[name] >= allocate(budget, items)[name]


# ---------------------------------------------------------------------------------------
# Balancer.decide: cooldown and the decision record
# ---------------------------------------------------------------------------------------


def web_batch(web: int, batch: int, web_queued: int, batch_queued: int) -> list[Demand]:
    return [
        # Tens of tasks per worker: every category has more work than workers.
        cat("web", queued=10 * web_queued, current=web),
        cat("batch", queued=10 * batch_queued, current=batch),
    ]


def test_decide_returns_none_when_nothing_changes() -> None:
    balancer = Balancer(budget=8, cooldown=6.0)
    assert balancer.decide(web_batch(5, 3, 6, 4), now=1000.0, mono=0.0) is None
    assert balancer.decide(web_batch(5, 3, 6, 4), now=1000.0, mono=1.0, force=True) is None


def test_decide_holds_back_a_one_worker_change_during_the_cooldown() -> None:
    # Given a change applied at mono=10
    balancer = Balancer(budget=8, cooldown=6.0)
    assert balancer.decide(web_batch(2, 6, 6, 4), now=1000.0, mono=10.0) is not None
    # When demand shifts by one worker (5/3 -> 4/4) within the cooldown, nothing is applied
    assert balancer.decide(web_batch(5, 3, 4, 4), now=1001.0, mono=15.9) is None
    # Then it applies once the cooldown has passed
    later = balancer.decide(web_batch(5, 3, 4, 4), now=1006.0, mono=16.0)
    assert later is not None
    assert later.targets == {"web": 4, "batch": 4}


def test_cooldown_counts_from_the_last_applied_change() -> None:
    balancer = Balancer(budget=8, cooldown=6.0)
    assert balancer.decide(web_batch(2, 6, 6, 4), now=0.0, mono=10.0) is not None
    assert balancer.decide(web_batch(5, 3, 4, 4), now=0.0, mono=12.0) is None  # held back
    assert (
        balancer.decide(web_batch(5, 3, 4, 4), now=0.0, mono=15.0) is None
    )  # still within 6 s of 10
    assert balancer.decide(web_batch(5, 3, 4, 4), now=0.0, mono=16.5) is not None


def test_force_applies_a_small_change_during_the_cooldown() -> None:
    balancer = Balancer(budget=8, cooldown=6.0)
    assert balancer.decide(web_batch(2, 6, 6, 4), now=1000.0, mono=10.0) is not None
    forced = balancer.decide(web_batch(5, 3, 4, 4), 1001.0, 11.0, trigger="operator", force=True)
    assert forced is not None
    assert forced.trigger == "operator"
    assert forced.targets == {"web": 4, "batch": 4}


def test_a_change_of_more_than_one_worker_applies_during_the_cooldown() -> None:
    balancer = Balancer(budget=8, cooldown=6.0)
    assert balancer.decide(web_batch(2, 6, 6, 4), now=1000.0, mono=10.0) is not None
    bigger = balancer.decide(web_batch(5, 3, 1, 3), now=1001.0, mono=11.0)  # 5/3 -> 2/6
    assert bigger is not None
    assert bigger.targets == {"web": 2, "batch": 6}


def test_the_first_change_applies_at_once() -> None:
    balancer = Balancer(budget=8, cooldown=6.0)
    decision = balancer.decide(web_batch(5, 3, 4, 4), now=1000.0, mono=0.0)
    assert decision is not None and decision.targets == {"web": 4, "batch": 4}


def test_decision_records_inputs_before_targets_and_why() -> None:
    balancer = Balancer(budget=8, cooldown=6.0)
    items = [
        cat("web", queued=50, running=10, current=2),
        cat("batch", 2.0, queued=20, current=6),
        cat("cron", current=0, paused=True),
    ]
    decision = balancer.decide(items, now=1234.5, mono=7.0, trigger="interval")
    assert decision is not None
    assert decision.at == 1234.5
    assert decision.trigger == "interval"
    assert decision.budget == 8
    assert decision.inputs["web"] == {
        "queued": 50,
        "running": 10,
        "weight": 1.0,
        "paused": False,
        "pinned": None,
    }
    assert decision.inputs["cron"]["paused"] is True
    assert decision.before == {"web": 2, "batch": 6, "cron": 0}
    # demand: web 60 x 1 = 60, batch 20 x 2 = 40 -> 60% / 40% of 8 workers = 4.8 / 3.2
    assert decision.targets == {"web": 5, "batch": 3, "cron": 0}
    assert decision.changes == (
        "web 2->5: demand 60% of total (50 queued + 10 running, x1)",
        "batch 6->3: demand 40% of total (20 queued + 0 running, x2)",
    )
    for line in decision.changes:
        assert re.fullmatch(r"[\w.-]+ \d+->\d+: .+", line)


def test_decision_explains_pins_pauses_minimums_and_caps() -> None:
    balancer = Balancer(budget=10, cooldown=6.0)
    items = [
        cat("web", queued=9, max=3, current=1),
        cat("batch", queued=10, current=1),
        cat("cron", queued=4, paused=True, current=3),
        cat("mail", pinned=2, queued=1, current=0),
        cat("idle", min=1, current=6),
    ]
    decision = balancer.decide(items, now=0.0, mono=0.0)
    assert decision is not None
    assert decision.targets == {"web": 3, "batch": 4, "cron": 0, "mail": 2, "idle": 1}
    assert decision.changes == (
        "web 1->3: demand 47% of total (9 queued + 0 running, x1), capped at max 3",
        "batch 1->4: demand 53% of total (10 queued + 0 running, x1)",
        "cron 3->0: paused, no demand",
        "mail 0->2: pinned at 2",
        "idle 6->1: no demand, kept at its minimum 1",
    )


def test_huge_priorities_explain_as_50_percent_each() -> None:
    balancer = Balancer(budget=10, cooldown=0.0)
    items = [cat("a", 1e308, queued=100, current=1), cat("b", 1e308, queued=100, current=9)]
    decision = balancer.decide(items, now=0.0, mono=0.0)
    assert decision is not None
    assert decision.targets == {"a": 5, "b": 5}
    assert decision.changes[0] == "a 1->5: demand 50% of total (100 queued + 0 running, x1e+308)"


def test_decision_round_trips_through_a_dict() -> None:
    decision = Balancer(budget=8, cooldown=6.0).decide(web_batch(2, 6, 6, 4), 5.0, 0.0)
    assert decision is not None
    assert Decision.from_dict(decision.to_dict()) == decision


def test_cooldown_never_holds_back_a_worker_for_a_starving_category() -> None:
    # Given a change was just applied
    balancer = Balancer(budget=4, cooldown=6.0)
    first = [Demand("a", 1.0, queued=10, current=0), Demand("b", 1.0, current=0)]
    assert balancer.decide(first, now=0.0, mono=0.0) is not None
    # When, within the cooldown, work arrives in the category that has no worker
    later = [Demand("a", 1.0, queued=10, current=4), Demand("b", 1.0, queued=1, current=0)]
    decision = balancer.decide(later, now=1.0, mono=1.0)
    # Then the one-worker change is applied anyway
    assert decision is not None and decision.targets["b"] == 1


def test_reasons_print_large_counts_with_thousands_separators() -> None:
    # Given a deep backlog in one category and a little work in another
    balancer = Balancer(budget=8, cooldown=0.0)
    items = [cat("web", queued=200_000, running=1_234, current=1), cat("batch", queued=5)]

    # When the balancer decides
    decision = balancer.decide(items, now=1000.0, mono=0.0)

    # Then its reason for web reads the counts with separators, as an operator reads them
    assert decision is not None
    [web] = [line for line in decision.changes if line.startswith("web")]
    assert "(200,000 queued + 1,234 running, x1)" in web
