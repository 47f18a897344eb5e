"""What a recurring schedule is, and the pure arithmetic of which ticks to run.

A :class:`ScheduleSpec` names a handler, a payload and a :class:`~.trigger.Trigger`, and
says what to do with missed ticks (:class:`MissedPolicy`). :func:`plan_ticks` decides, from
the last tick the store has a claim for and the time now, which ticks to claim with a task
and which to mark skipped; :class:`~.schedules.Schedules` applies the plan through the store.
Kept pure so that it is tested with tables and properties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .config import check_int, check_name, check_seconds
from .errors import ConfigError
from .trigger import Every, Trigger, cron_trigger

SKIP = "skip"
CATCH_UP = "catch_up"
MISSED_POLICIES = (SKIP, CATCH_UP)
#: How many due ticks one plan looks at, at most: a schedule down for years does not
#: make a node compute millions of ticks (the older ones are marked skipped in one row).
PLAN_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class MissedPolicy:
    """What happens to ticks that passed while no node could run them.

    - ``skip`` (default): missed ticks are marked skipped; the most recent due tick still
      runs if it is at most ``grace`` seconds late, so a tick a node reaches a little late
      is not lost.
    - ``catch_up``: ``catch_up="latest"`` runs one task for the most recent missed tick;
      ``catch_up="all"`` runs every missed tick, oldest first, up to the ``max_catch_up``
      most recent ones (older ones are marked skipped).
    """

    kind: str = SKIP
    catch_up: str = "latest"
    max_catch_up: int = 100
    grace: float = 60.0

    def validate(self, schedule: str) -> MissedPolicy:
        if self.kind not in MISSED_POLICIES:
            raise ConfigError(
                f"schedule {schedule!r}: missed", self.kind, "is not a policy",
                f"Use one of {', '.join(MISSED_POLICIES)}",
            )  # fmt: skip
        if self.catch_up not in ("latest", "all"):
            raise ConfigError(
                f"schedule {schedule!r}: catch_up", self.catch_up,
                "must be 'latest' or 'all'", "",
            )  # fmt: skip
        check_int(f"schedule {schedule!r}: max_catch_up", self.max_catch_up, 1, PLAN_LIMIT)
        check_seconds(f"schedule {schedule!r}: grace", self.grace)
        return self


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """One recurring schedule: ``handler`` gets ``payload`` at every tick of ``trigger``."""

    name: str
    handler: str
    trigger: Trigger
    payload: Any = None
    #: A dedup key for its tasks: a tick whose previous run is still live joins it.
    key: str | None = None
    missed: MissedPolicy = field(default_factory=MissedPolicy)

    def validate(self) -> ScheduleSpec:
        check_name("schedule", self.name)
        check_name("handler", self.handler)
        if not isinstance(self.trigger, Trigger):
            raise ConfigError(
                f"schedule {self.name!r}: trigger", self.trigger,
                "has no next_after(t) and description",
                "Pass cron=..., every=... or trigger=jobsched.cron(...)",
            )  # fmt: skip
        self.missed.validate(self.name)
        return self


def build_trigger(
    name: str, cron: str | None, every: float | str | None, timezone: str = "UTC",
    trigger: Trigger | None = None,
) -> Trigger:  # fmt: skip
    """Exactly one of ``cron``, ``every`` or ``trigger``; errors name the schedule."""
    given = [x for x in (cron, every, trigger) if x is not None]
    if len(given) != 1:
        raise ConfigError(
            f"schedule {name!r}", None, "needs exactly one of cron, every (or trigger)",
            'Add e.g. cron = "*/5 * * * *" or every = "30s"',
        )  # fmt: skip
    try:
        check_zone(timezone)
        if trigger is not None:
            return trigger
        if cron is not None:
            return cron_trigger(cron, timezone)
        assert every is not None
        return Every(every)
    except ConfigError as exc:
        raise ConfigError(f"schedule {name!r}: {exc.what}", exc.value, exc.why, exc.hint) from None


def check_zone(name: object) -> str:
    """An IANA time zone name the system knows (``UTC``, ``Europe/Paris``)."""
    import zoneinfo  # here: importing it loads sysconfig, which the engine's import avoids

    try:
        if isinstance(name, str) and name:
            zoneinfo.ZoneInfo(name)
            return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    raise ConfigError(
        "timezone", name, "is not a known IANA time zone", 'Use e.g. "UTC" or "Europe/Paris"'
    )


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the store knows about one schedule (every node reads the same)."""

    name: str
    paused: bool = False
    #: When the store first heard of it: ticks before are never due.
    since: float = 0.0
    #: The newest tick claimed (run or marked skipped) by the clock, None if none yet.
    last_tick: float | None = None
    #: The newest run (a tick or a run-now): its time, task id and the task's state.
    last_run_at: float | None = None
    last_task_id: int | None = None
    last_state: str | None = None


@dataclass(frozen=True, slots=True)
class TickPlan:
    """Ticks to claim with a task (oldest first), and the missed ones to mark skipped:
    ``skip_through`` is the newest skipped tick, ``skip_from`` the oldest."""

    run: tuple[float, ...] = ()
    skip_from: float | None = None
    skip_through: float | None = None
    skipped: int = 0


def due_ticks(trigger: Trigger, after: float, now: float, limit: int = PLAN_LIMIT) -> list[float]:
    """The ticks in ``(after, now]``, oldest first; only the newest ``limit`` if more."""
    ticks: list[float] = []
    if isinstance(trigger, Every) and now - after > trigger.period * 2 * limit:
        after = now - trigger.period * limit  # jump to the window: no walk over years
    tick = trigger.next_after(after)
    while tick <= now:
        ticks.append(tick)
        if len(ticks) > 2 * limit:
            del ticks[:limit]
        tick = trigger.next_after(tick)
    return ticks[-limit:]


def plan_ticks(
    trigger: Trigger, policy: MissedPolicy, last: float | None, since: float, now: float
) -> TickPlan:
    """Which ticks after ``max(last, since)`` and up to ``now`` run, which are skipped.

    Every due tick ends up in exactly one of the two, so a gap is never silent; the
    skipped ones are all older than the ones to run, which keeps what is claimed a
    contiguous run of ticks even when a node dies half-way through its plan.
    """
    after = since if last is None else max(last, since)
    if not math.isfinite(now) or now <= after:
        return TickPlan()
    ticks = due_ticks(trigger, after, now)
    if not ticks:
        return TickPlan()
    first = trigger.next_after(after)
    if policy.kind == CATCH_UP and policy.catch_up == "all":
        run = ticks[-policy.max_catch_up :]
    elif policy.kind == CATCH_UP or now - ticks[-1] <= policy.grace:
        run = ticks[-1:]
    else:
        run = []
    skipped = [t for t in ticks if t < run[0]] if run else ticks
    if not skipped:
        return TickPlan(run=tuple(run))
    count = len(skipped) if first == skipped[0] else _count(trigger, first, skipped[-1])
    return TickPlan(tuple(run), first, skipped[-1], count)


def _count(trigger: Trigger, first: float, through: float) -> int:
    """How many ticks in ``[first, through]`` (more than the plan looked at)."""
    if isinstance(trigger, Every):
        return int(round((through - first) / trigger.period)) + 1
    return -1  # unknown: more than PLAN_LIMIT cron ticks, not counted one by one
