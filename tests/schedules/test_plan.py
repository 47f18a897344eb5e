"""plan_ticks: which due ticks run and which are marked skipped, as a table; triggers."""

from __future__ import annotations

import pytest
from jobsched.core import ConfigError
from jobsched.core.schedule_spec import MissedPolicy, plan_ticks
from jobsched.core.trigger import Every, parse_duration

from jobsched import cron

T = 1_800_000_000.0  # a multiple of 60
EVERY_10 = Every("10s")
SKIP = MissedPolicy()
LATEST = MissedPolicy("catch_up", "latest")
ALL_5 = MissedPolicy("catch_up", "all", max_catch_up=5)


@pytest.mark.parametrize(
    ("policy", "last", "now", "run", "skipped"),
    [
        # on time: the one due tick runs, whatever the policy
        (SKIP, T, T + 10.2, (T + 10,), 0),
        (ALL_5, T, T + 10.2, (T + 10,), 0),
        # nothing due yet
        (SKIP, T, T + 9.9, (), 0),
        # down 100 s: skip runs the current period's tick (10 s late < grace), marks 9
        (SKIP, T, T + 100, (T + 100,), 9),
        (LATEST, T, T + 100, (T + 100,), 9),
        # catch_up all, bounded: the 5 most recent run, the 5 older are marked skipped
        (ALL_5, T, T + 100, (T + 60, T + 70, T + 80, T + 90, T + 100), 5),
        # down an hour: skip runs only the newest tick (5 s late, within grace)
        (SKIP, T, T + 3605, (T + 3600,), 359),
        # and so does catch_up latest
        (LATEST, T, T + 3605, (T + 3600,), 359),
    ],
)
def test_plan_table(
    policy: MissedPolicy, last: float, now: float, run: tuple[float, ...], skipped: int
) -> None:
    plan = plan_ticks(EVERY_10, policy, last, T - 1000, now)
    assert plan.run == run
    assert plan.skipped == skipped
    if skipped:
        assert plan.skip_from == T + 10 and plan.skip_through == min(run or (now,)) - 10


def test_skip_beyond_grace_runs_nothing_and_marks_every_tick() -> None:
    hourly = Every("1h")
    plan = plan_ticks(hourly, MissedPolicy(grace=60), T, T - 1, T + 3 * 3600 + 120)
    assert plan.run == ()
    assert (plan.skip_from, plan.skip_through, plan.skipped) == (T + 3600, T + 3 * 3600, 3)
    late = plan_ticks(hourly, LATEST, T, T - 1, T + 3 * 3600 + 120)
    assert late.run == (T + 3 * 3600,) and late.skipped == 2


def test_a_clock_behind_the_last_claim_plans_nothing() -> None:
    assert plan_ticks(EVERY_10, ALL_5, T + 100, T, T + 50).run == ()


def test_a_new_schedule_starts_after_since() -> None:
    assert plan_ticks(EVERY_10, ALL_5, None, T + 5, T + 25).run == (T + 10, T + 20)


def test_years_down_are_planned_without_walking_every_tick() -> None:
    plan = plan_ticks(Every("1s"), ALL_5, T - 10 * 365 * 86400, T - 1e9, T)
    assert len(plan.run) == 5 and plan.run[-1] == T
    assert plan.skipped == 10 * 365 * 86400 - 5


def test_every_is_anchored_at_the_epoch() -> None:
    five = Every("5m")
    assert five.next_after(T + 1) == T + 300
    assert five.next_after(T) == T + 300
    assert five.next_after(T - 0.5) == T


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), (90, 90)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration("every", text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "0s", "-1s", True, "500ms", None])
def test_bad_durations_are_config_errors(text: object) -> None:
    with pytest.raises(ConfigError, match="every"):
        parse_duration("every", text)


def test_cron_five_and_six_fields_and_time_zones() -> None:
    assert cron("*/5 * * * *").next_after(T + 1) == T + 300
    assert cron("*/10 * * * * *").next_after(T + 1) == T + 10  # seconds first
    paris = cron("0 9 * * *", timezone="Europe/Paris")
    tick = paris.next_after(T)
    assert paris.next_after(tick) - tick in (86400, 82800, 90000)
    assert "Europe/Paris" in paris.description


@pytest.mark.parametrize(
    ("expr", "zone", "match"),
    [("* * *", "UTC", "fields"), ("61 * * * *", "UTC", "does not parse"),
     ("* * * * *", "Mars/Olympus", "time zone")],
)  # fmt: skip
def test_bad_cron_specs_are_config_errors(expr: str, zone: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cron(expr, timezone=zone)
