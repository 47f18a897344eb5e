"""The categories panel: one row per category, what the balancer gave it, its backlog and
how healthy it looks (oldest waiting task, tasks done and failed over the last minute and
the last hour, run times)."""

from __future__ import annotations

from dataclasses import dataclass

from jobsched.core import CategorySnapshot
from rich.text import Text

from . import format as fmt
from .table import KeyedTable, Row

KINDS = {"fire-and-forget": "fire", "request-response": "request"}


@dataclass(frozen=True)
class Health:
    """What the console adds to a category's snapshot: the age of its oldest waiting task
    (seconds), tasks that succeeded and failed over the last minute (over the samples it
    has while the console runs its first minute; None before the second) and over the
    last hour (the history's full minutes, every node; None before it was read), and the
    time its queue takes to drain at the recent rate (None when nothing finishes)."""

    waiting: float | None = None
    finished_minute: int | None = None
    failed_minute: int | None = None
    drain: float | None = None
    finished_hour: int | None = None
    failed_hour: int | None = None


class CategoryTable(KeyedTable):
    """Categories of the node. ``workers`` reads busy/threads→the balancer's target, then
    the configured minimum..maximum or the pin."""

    COLUMNS = (
        ("name", "category", 10),
        ("kind", "kind", 7),
        ("priority", "prio", 5),
        ("state", "state", 6),
        ("workers", "workers", 11),
        ("fifo", "fifo", 5),
        ("queued", "queued", 8),
        ("waiting", "oldest", 6),
        ("drain", "drain", 6),
        ("scheduled", "sched", 6),
        ("succeeded", "done", 8),
        ("failed", "failed", 7),
        ("minute", "done/1m", 7),
        ("failed_minute", "fail/1m", 7),
        ("hour", "done/1h", 7),
        ("failed_hour", "fail/1h", 7),
        ("rate", "rate/s", 7),
        ("runs", "p50/p95", 11),
        ("limit", "limit", 10),
    )
    IMPORTANCE = ("name", "workers", "queued", "failed", "rate", "waiting", "drain", "state",
                  "fifo", "runs", "failed_hour", "failed_minute", "minute", "hour", "priority",
                  "scheduled", "succeeded", "kind", "limit")  # fmt: skip
    FLEX = {"name": (1, 24)}
    RESERVED = 0

    def update_categories(
        self, categories: tuple[CategorySnapshot, ...], health: dict[str, Health]
    ) -> None:
        self.sync({c.name: category_row(c, health.get(c.name, Health())) for c in categories})


def limits(c: CategorySnapshot) -> str:
    if c.pinned is not None:
        return f"pin {c.pinned}"
    high = "∞" if c.max_workers is None else str(c.max_workers)
    return f"{c.min_workers}..{high}"


def run_times(c: CategorySnapshot) -> str:
    if c.run_p50 is None or c.run_p95 is None:
        return "-"
    return f"{fmt.short_duration(c.run_p50)}/{fmt.short_duration(c.run_p95)}"


def rate_limit(c: CategorySnapshot) -> Text:
    """The rate limit, marked ``held`` while it holds back waiting tasks."""
    if c.limit is None:
        return Text("-", style="dim")
    shown = c.limit.replace(" burst ", "+")
    return Text(f"{shown} held", style="bold yellow") if c.held else Text(shown)


def category_row(c: CategorySnapshot, h: Health) -> Row:
    if c.paused:
        state = Text("PAUSED", style="bold yellow")
    elif c.held:  # its rate limit holds back waiting tasks
        state = Text("HELD", style="yellow")
    else:
        state = Text("active", style="dim")
    failed = Text(fmt.count(c.failed), style="red" if c.failed else "")
    failed_minute = Text(
        "-" if h.failed_minute is None else fmt.count(h.failed_minute),
        style="bold red" if h.failed_minute else "",
    )
    failed_hour = Text(
        "-" if h.failed_hour is None else fmt.count(h.failed_hour),
        style="red" if h.failed_hour else "",
    )
    return (
        c.name,
        KINDS.get(c.kind, c.kind),
        fmt.weight(c.priority),
        state,
        f"{c.busy}/{c.threads}→{c.workers} {limits(c)}",
        fmt.count(c.fifo),
        fmt.count(c.queued),
        "-" if h.waiting is None else fmt.short_duration(h.waiting),
        fmt.eta(h.drain, c.queued),
        fmt.count(c.scheduled),
        fmt.count(c.succeeded),
        failed,
        "-" if h.finished_minute is None else fmt.count(h.finished_minute),
        failed_minute,
        "-" if h.finished_hour is None else fmt.count(h.finished_hour),
        failed_hour,
        fmt.rate(c.rate),
        run_times(c),
        rate_limit(c),
    )
