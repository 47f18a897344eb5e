"""The task list and its filter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobsched.core.task import STATES, TaskRecord
from rich.text import Text

from . import format as fmt
from .table import KeyedTable, Row

STATE_STYLES = {
    "scheduled": "blue",
    "queued": "cyan",
    "running": "bold green",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "dim",
}


@dataclass(frozen=True)
class TaskFilter:
    """``state:failed cat:email text`` - state and category go to the store query; the
    remaining words must all appear in the id, handler, category, state or reason."""

    state: str | None = None
    category: str | None = None
    words: tuple[str, ...] = ()

    @staticmethod
    def parse(text: str) -> TaskFilter:
        state = category = None
        words = []
        for token in text.split():
            key, _, value = token.partition(":")
            if key in ("state", "s") and value:
                state = value.lower()
            elif key in ("category", "cat", "c") and value:
                category = value
            elif token.lower() in STATES:
                state = token.lower()
            else:
                words.append(token.lower())
        return TaskFilter(state, category, tuple(words))

    def matches(self, task: TaskRecord) -> bool:
        if not self.words:
            return True
        hay = f"{task.id} {task.handler} {task.category} {task.state} {task.reason or ''}".lower()
        return all(w in hay for w in self.words)

    def describe(self) -> str:
        parts = [f"state:{self.state}"] if self.state else []
        parts += [f"cat:{self.category}"] if self.category else []
        return " ".join(parts + list(self.words))


def last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


class TaskTable(KeyedTable):
    COLUMNS = (
        ("id", "id", 8),
        ("category", "category", 12),
        ("handler", "handler", 20),
        ("state", "state", 9),
        ("attempts", "tries", 5),
        ("updated", "updated", 8),
        ("info", "reason / error", 36),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order = int
        self.order_reverse = True

    def update_tasks(self, tasks: Sequence[TaskRecord]) -> None:
        self.sync({t.id: task_row(t) for t in tasks})


def task_row(t: TaskRecord) -> Row:
    updated = t.finished_at or t.started_at or t.created_at
    info = t.reason or ""
    if t.error:
        info = f"{info}: {last_line(t.error)}" if info else last_line(t.error)
    return (
        str(t.id),
        t.category,
        t.handler,
        Text(t.state, style=STATE_STYLES.get(t.state, "")),
        f"{t.attempts}/{t.max_attempts}",
        fmt.clock_time(updated),
        Text(info[:200], style="red" if t.state == "failed" else "dim"),
    )
