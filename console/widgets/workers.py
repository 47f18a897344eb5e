"""The workers panel: one row per worker thread."""

from __future__ import annotations

import re
from typing import Any

from jobsched.core import WorkerSnapshot
from rich.text import Text

from ..escape import visible
from . import format as fmt
from .table import KeyedTable, Row


def natural(name: str) -> tuple[Any, ...]:
    """'web-10' after 'web-9'."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


class WorkerTable(KeyedTable):
    COLUMNS = (
        ("name", "worker", 10),
        ("category", "category", 9),
        ("state", "state", 8),
        ("task", "task", 7),
        ("handler", "handler", 12),
        ("elapsed", "elapsed", 7),
    )
    IMPORTANCE = ("name", "state", "task", "elapsed", "handler", "category")
    FLEX = {"handler": (3, 48), "category": (1, 16), "name": (1, 24)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order = natural

    def update_workers(self, workers: tuple[WorkerSnapshot, ...]) -> None:
        self.sync({w.name: worker_row(w) for w in workers})


def _handler_cell(w: WorkerSnapshot) -> str | Text:
    """The handler, followed by the task's latest progress report when it made one."""
    if w.progress is None:
        return w.handler or ""
    return Text.assemble(visible(w.handler or ""), (f" {visible(w.progress.describe())}", "cyan"))


def worker_row(w: WorkerSnapshot) -> Row:
    busy = w.state == "busy"
    state = "retiring" if w.retiring else w.state
    return (
        w.name,
        w.category,
        Text(state, style="bold green" if busy else "dim"),
        "" if w.task_id is None else str(w.task_id),
        _handler_cell(w),
        fmt.duration(w.elapsed) if busy else "",
    )
