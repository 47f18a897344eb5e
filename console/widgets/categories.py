"""The categories panel: one row per category, what the balancer gave it and its backlog."""

from __future__ import annotations

from jobsched.core import CategorySnapshot
from rich.text import Text

from . import format as fmt
from .table import KeyedTable, Row

KINDS = {"fire-and-forget": "fire", "request-response": "request"}


class CategoryTable(KeyedTable):
    """Categories of the node. ``workers`` reads busy/threads and the balancer's target."""

    COLUMNS = (
        ("name", "category", 12),
        ("kind", "kind", 7),
        ("priority", "prio", 6),
        ("state", "state", 6),
        ("workers", "busy/thr→target", 15),
        ("fifo", "fifo", 5),
        ("queued", "queued", 7),
        ("scheduled", "sched", 6),
        ("running", "running", 7),
        ("succeeded", "done", 8),
        ("failed", "failed", 6),
        ("rate", "rate/s", 6),
    )

    def update_categories(self, categories: tuple[CategorySnapshot, ...]) -> None:
        self.sync({c.name: category_row(c) for c in categories})


def category_row(c: CategorySnapshot) -> Row:
    workers = f"{c.busy}/{c.threads}→{c.workers}"
    if c.pinned is not None:
        workers += " pin"
    state = Text("PAUSED", style="bold yellow") if c.paused else Text("active", style="dim")
    failed = Text(fmt.count(c.failed), style="red" if c.failed else "")
    return (
        c.name,
        KINDS.get(c.kind, c.kind),
        fmt.weight(c.priority),
        state,
        workers,
        fmt.count(c.fifo),
        fmt.count(c.queued),
        fmt.count(c.scheduled),
        fmt.count(c.running),
        fmt.count(c.succeeded),
        failed,
        fmt.rate(c.rate),
    )
