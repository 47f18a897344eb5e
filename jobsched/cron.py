"""Cron triggers for recurring schedules, built on croniter.

``cron("*/5 * * * *")`` fires every five minutes; six fields put seconds first
(``"*/10 * * * * *"``: every ten seconds). ``timezone`` is an IANA name: the expression is
read on that zone's wall clock (``"0 9 * * 1-5"`` in ``Europe/Paris`` is 09:00 Paris time,
whatever the offset that day). Kept outside ``jobsched.core``, which uses the standard
library only; importing ``jobsched`` installs :func:`cron` as the engine's cron factory
(see ``core/trigger.py``), so ``cron="..."`` strings work in ``sched.periodic`` and in the
TOML ``[[schedules]]``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobsched.core.errors import ConfigError

__all__ = ["CronTrigger", "cron"]


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ConfigError("timezone", name, "is not a time zone name", 'Use e.g. "UTC"')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            "timezone",
            name,
            f"is not a known IANA time zone ({type(exc).__name__})",
            'Use a name such as "UTC" or "Europe/Paris"',
        ) from None


class CronTrigger:
    """A cron expression on one time zone's wall clock (five fields, or six with seconds
    first). Deterministic: every node computes the same ticks."""

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        from croniter import croniter  # imported here: `import jobsched` stays light

        if not isinstance(expression, str):
            raise ConfigError("cron", expression, "is not a cron expression", "")
        fields = expression.split()
        if len(fields) not in (5, 6):
            raise ConfigError(
                "cron",
                expression,
                f"has {len(fields)} fields; five (minute hour day month weekday) or six"
                " (seconds first) are needed",
                'Write e.g. "*/5 * * * *"',
            )
        self.zone = _zone(timezone)
        self.expression = " ".join(fields)
        self._seconds = len(fields) == 6
        self._croniter = croniter
        try:
            self.next_after(0.0)
        except Exception as exc:  # noqa: BLE001 - croniter raises several kinds
            raise ConfigError(
                "cron", expression, f"does not parse ({exc})", 'Write e.g. "*/5 * * * *"'
            ) from None
        self.description = f"cron {self.expression} ({timezone})"

    def next_after(self, t: float) -> float:
        start = datetime.fromtimestamp(t, self.zone)
        it = self._croniter(self.expression, start, second_at_beginning=self._seconds)
        tick = float(it.get_next(float))
        while tick <= t:  # croniter may return t itself for a start on a tick
            tick = float(it.get_next(float))
        return tick

    def __repr__(self) -> str:
        return f"CronTrigger({self.expression!r}, {self.zone.key!r})"


def cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A cron trigger: ``sched.schedule("report", "reports.build", trigger=cron("0 9 * * *",
    timezone="Europe/Paris"))``. Raises ConfigError naming a bad expression or zone."""
    return CronTrigger(expression, timezone)
