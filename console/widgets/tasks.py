"""The task list: one page of the tasks the filter matches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobsched.core.task import TaskRecord
from rich.text import Text
from textual import events
from textual.message import Message

from . import format as fmt
from .table import KeyedTable, Row

STATE_STYLES = {
    "scheduled": "blue",
    "queued": "cyan",
    "running": "bold green",
    "claimed": "cyan",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "dim",
}


def last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


class TaskTable(KeyedTable):
    COLUMNS = (
        ("id", "id", 7),
        ("category", "category", 8),
        ("handler", "handler", 12),
        ("state", "state", 9),
        ("attempts", "tries", 5),
        ("updated", "updated", 8),
        ("took", "took", 6),
        ("info", "reason / error", 20),
    )
    IMPORTANCE = ("id", "state", "handler", "info", "category", "attempts", "updated", "took")
    FLEX = {"handler": (1, 40), "info": (3, None), "category": (1, 16)}

    class PageRows(Message):
        """The number of rows the table shows at once changed (it was resized)."""

        def __init__(self, rows: int) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order = int
        self.order_reverse = True
        self._page_rows = 0

    @property
    def page_rows(self) -> int:
        """How many rows fit under the header: a page of the task list, no more."""
        return max(1, self.scrollable_content_region.height - self.header_height)

    def on_resize(self, event: events.Resize) -> None:
        # (KeyedTable's own handler fits the columns.) Every row is measured as it is
        # added, shown or not, so a page is read only as long as the table is tall.
        rows = self.page_rows
        if rows != self._page_rows:
            self._page_rows = rows
            self.post_message(self.PageRows(rows))

    def set_order(self, newest_first: bool) -> None:
        """Sort newest or oldest first; rows come back in the new order on the next sync."""
        if self.order_reverse != newest_first:
            self.order_reverse = newest_first
            self.reset()

    def update_tasks(
        self,
        tasks: Sequence[TaskRecord],
        owners: frozenset[str] = frozenset(),
        busy: frozenset[int] = frozenset(),
    ) -> None:
        """``busy``: the tasks the workers of the nodes ``owners`` run now; their other
        ``running`` tasks are claimed into a FIFO and still wait for a worker (shown
        ``claimed``)."""
        self.sync({t.id: task_row(t, owners, busy) for t in tasks})


def shown_state(t: TaskRecord, owners: frozenset[str], busy: frozenset[int]) -> str:
    if t.state == "running" and t.owner in owners and t.id not in busy:
        return "claimed"
    return t.state


def task_row(
    t: TaskRecord, owners: frozenset[str] = frozenset(), busy: frozenset[int] = frozenset()
) -> Row:
    updated = t.finished_at or t.started_at or t.created_at
    info = t.reason or ""
    if t.error:
        info = f"{info}: {last_line(t.error)}" if info else last_line(t.error)
    return (
        str(t.id),
        t.category,
        t.handler,
        Text(shown_state(t, owners, busy), style=STATE_STYLES.get(t.state, "")),
        f"{t.attempts}/{t.max_attempts}",
        fmt.clock_time(updated),
        took(t),
        Text(info[:300], style="red" if t.state == "failed" else "dim"),
    )


def took(t: TaskRecord) -> str:
    """How long the last attempt ran ('' while it has not finished)."""
    if t.started_at is None or t.finished_at is None:
        return ""
    return fmt.short_duration(t.finished_at - t.started_at)
