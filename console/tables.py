"""Readable Rich output of the reading commands (what they print without ``--json``).

Untrusted text (handler names, errors, payloads, anything read from a store) is wrapped in
``rich.text.Text`` so that square brackets in it are never taken for markup, and passed
through :func:`escape.visible` so that control characters in it are shown, not obeyed.
Long payloads, results and errors are cut to :data:`SHOWN_CHARS` with a note saying how
to print them whole.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from jobsched.core import TaskRecord
from jobsched.core.progress import TaskProgress
from jobsched.core.task import AttemptError, attempt_history
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .escape import json_text, shorten, visible
from .reports import iso, task_detail
from .widgets import format as fmt

#: Output that is not a terminal (a pipe, a file) is never wrapped: lines as wide as
#: their content, so that a value (a result's JSON) is never cut in the middle.
UNWRAPPED_WIDTH = 100_000
#: How much of one payload, result or error ``show`` prints unless told ``--full``.
SHOWN_CHARS = 10_000
#: How much of one name or reason a row of ``tasks`` or ``status`` shows.
CELL_CHARS = 200


def _text(value: object) -> Text:
    """One value of a row: on one line, control characters escaped, at most CELL_CHARS."""
    text = visible("" if value is None else value)
    if len(text) > CELL_CHARS:
        text = text[: CELL_CHARS - 1] + "…"
    return Text(text)


def _console() -> Console:
    # Created per call, so that the stream swapped in by a test runner is the one used.
    stream = sys.stdout
    if stream.isatty():
        return Console(file=stream, highlight=False, soft_wrap=False)
    return Console(file=stream, highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


KINDS = {"fire-and-forget": "fire", "request-response": "req"}
NODE_COLUMNS = ("node", "host", "pid", "state", "heartbeat", "workers", "busy", "done", "rate")
NODE_NUMBERS = ("pid", "heartbeat", "busy", "done", "rate")


def _waited(latency: float | None) -> str:
    """Queue latency for the status table: ``-`` when nothing waits."""
    return "-" if latency is None else fmt.short_duration(latency)


def print_status(report: dict[str, Any]) -> None:
    out = _console()
    out.print(_text(f"database {report['database']} at {report['at']}"))
    cats = Table(box=box.SIMPLE_HEAD, padding=0, show_edge=False)
    for column in ("category", "kind", "prio", "workers", "min..max", "queued", "waited",
                   "sched", "run", "done", "failed", "cancel", "state"):  # fmt: skip
        cats.add_column(
            column, justify="left" if column in ("category", "kind", "state") else "right"
        )
    for c in report["categories"]:
        workers = str(c["workers"]) + (f" pin={c['pinned']}" if c["pinned"] is not None else "")
        high = "*" if c["max_workers"] is None else str(c["max_workers"])
        cats.add_row(
            _text(c["name"]), _text(KINDS.get(c["kind"], c["kind"])), _num(c["priority"]), workers,
            f"{c['min_workers']}..{high}", str(c["queued"]), _waited(c["latency"]),
            str(c["scheduled"]), str(c["running"]),
            str(c["succeeded"]), str(c["failed"]), str(c["cancelled"]), "PAUSED" if c["paused"] else "",
        )  # fmt: skip
    out.print(cats)
    if report["nodes"]:
        nodes = Table(box=box.SIMPLE_HEAD, padding=0, show_edge=False)
        for column in NODE_COLUMNS:
            nodes.add_column(column, justify="right" if column in NODE_NUMBERS else "left")
        for n in report["nodes"]:
            nodes.add_row(
                _text(n["node_id"]),
                _text(n["host"]),
                _text(n["pid"]),
                _text(n["state"]),
                f"{n['heartbeat_age']:.1f} s ago",
                _text(fmt.per_category(n["targets"])),
                str(sum(n["busy"].values())),
                str(n["done"]),
                f"{fmt.rate(n['rate'])}/s",
            )
        out.print(nodes)
    else:
        out.print("no node has run on this database yet (start one with `jobsched run`)")
    if report["decisions"]:
        out.print("latest balancer decisions (newest first):")
        for d in report["decisions"][:5]:
            out.print(_text(f"  {d['at']} ({d['trigger']})"))
            for change in d["changes"] or ["no change"]:
                out.print(_text(f"    {change}"))


def print_tasks(rows: Sequence[TaskRecord]) -> None:
    out = _console()
    if not rows:
        out.print("no tasks")
        return
    table = Table(box=box.SIMPLE_HEAD, padding=0, show_edge=False)
    for column in (
        "id",
        "handler",
        "category",
        "state",
        "tries",
        "created (UTC)",
        "took",
        "reason",
    ):
        table.add_column(column, justify="right" if column in ("id", "tries", "took") else "left")
    for t in rows:
        took = (
            ""
            if t.finished_at is None or t.started_at is None
            else f"{t.finished_at - t.started_at:.2f}s"
        )
        created = (iso(t.created_at) or "")[:19].replace("T", " ")
        table.add_row(str(t.id), _text(t.handler), _text(t.category), _text(t.state),
                      f"{t.attempts}/{t.max_attempts}", created, took, _text(t.reason))  # fmt: skip
    out.print(table)


def print_task(
    task: TaskRecord,
    *,
    full: bool = False,
    progress: TaskProgress | None = None,
    earlier: Sequence[AttemptError] = (),
) -> None:
    """``show ID``: every field; payload, result and errors cut to SHOWN_CHARS each unless
    ``full``, with a note naming what prints them whole; the latest progress report; how
    each earlier attempt ended (``earlier``, as stored), then the task's own error."""
    out = _console()
    data = task_detail(task)
    for key in ("id", "handler", "category", "state", "reason", "attempts", "max_attempts", "timeout",
                "dedup_key", "created_at", "run_at", "started_at", "finished_at"):  # fmt: skip
        if data.get(key) is not None:
            out.print(_text(f"{key:>12}: {visible(data[key])}"))
    if progress is not None:
        line = f"{progress.describe()} (attempt {progress.attempt}, at {iso(progress.at)})"
        out.print(_text(f"{'progress':>12}: {visible(line)}"))
    see_all = f"`jobsched show {task.id} --full` or `--json` prints all of it"

    def long(value: str) -> Text:
        return Text(value if full else shorten(value, SHOWN_CHARS, see_all))

    out.print(long(f"{'payload':>12}: {json_text(data['payload'], indent=None)}"))
    if task.result is not None:
        out.print(long(f"{'result':>12}: {json_text(data['result'], indent=None)}"))
    entries = attempt_history(task, earlier)
    if entries and task.error is not None and entries[-1].error == task.error:
        entries.pop()  # printed below as the task's error
    for entry in entries:
        how = ", ".join(x for x in (entry.reason, iso(entry.ended_at)) if x)
        out.print(_text(f"{f'attempt {entry.number}':>12}: ended with an error ({how})"))
        out.print(long(visible((entry.error or "-").rstrip(), multiline=True)))
    if task.error:
        out.print(Text(f"{'error':>12}:"))
        out.print(long(visible(task.error.rstrip(), multiline=True)))
