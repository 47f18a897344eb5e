"""The schedules table: one row per recurring schedule, keyed by its name."""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobsched.core.schedule_book import ScheduleInfo
from jobsched.core.task import CANCELLED, FAILED, SUCCEEDED
from rich.text import Text
from textual.binding import Binding

from ..escape import visible
from . import format as fmt
from .table import KeyedTable, Row

OUTCOME_STYLES = {SUCCEEDED: "green", FAILED: "bold red", CANCELLED: "yellow"}
DAY = 86400.0


class ScheduleTable(KeyedTable):
    """Takes :class:`~jobsched.core.schedule_book.ScheduleInfo` rows and the time now."""

    # A schedule has no detail view: enter selects the row and nothing more.
    BINDINGS = [Binding("enter", "select_cursor", "Select", show=False)]

    COLUMNS = (
        ("name", "name", 13),
        ("spec", "spec", 24),
        ("state", "state", 6),
        ("next", "next run", 20),
        ("last", "last run", 20),
        ("outcome", "outcome", 15),
        ("handler", "handler", 12),
        ("missed", "missed", 12),
    )
    IMPORTANCE = ("name", "state", "next", "last", "outcome", "spec", "handler", "missed")
    FLEX = {"spec": (2, 40), "name": (1, 30), "handler": (1, 30), "missed": (1, 24)}

    def update_schedules(self, infos: Sequence[ScheduleInfo], now: float) -> None:
        self.sync({info.name: schedule_row(info, now) for info in infos})


def when(epoch: float | None, now: float) -> str:
    """'12:00:10 (in 5.0s)', '11:59:00 (1m00s ago)'; a date beyond a day either way."""
    if epoch is None:
        return "-"
    if abs(epoch - now) >= DAY:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))
    ahead = epoch - now
    relative = f"in {fmt.duration(ahead)}" if ahead >= 0 else f"{fmt.duration(-ahead)} ago"
    return f"{fmt.clock_time(epoch)} ({relative})"


def outcome(info: ScheduleInfo) -> Text:
    """'#12 succeeded', coloured by the task's state; '-' before the first run."""
    if info.last_task_id is None:
        return Text("-", style="dim")
    state = info.last_state or "deleted"  # retention may have pruned the task since
    return Text(f"#{info.last_task_id} {visible(state)}", style=OUTCOME_STYLES.get(state, ""))


def schedule_row(info: ScheduleInfo, now: float) -> Row:
    return (
        Text(visible(info.name)),
        Text(visible(info.spec)),
        Text("paused", style="bold yellow") if info.paused else Text("active", style="dim"),
        "-" if info.paused else when(info.next_run, now),
        when(info.last_run, now),
        outcome(info),
        Text(visible(info.handler)),
        Text(visible(info.missed)),
    )
