"""The task detail screen: payload, result or each attempt's error with traceback, times.

Everything from the task is shown with its control characters escaped, and a payload,
result or error longer than :data:`SHOWN_CHARS` is cut with a note naming the command
that prints it whole."""

from __future__ import annotations

import json
from collections.abc import Sequence

from jobsched.core.progress import TaskProgress
from jobsched.core.task import AttemptError, TaskRecord
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..escape import shorten, visible
from ..reports import attempt_errors
from ..widgets import format as fmt
from ..widgets.tasks import STATE_STYLES

#: How much of one payload, result or error the screen shows.
SHOWN_CHARS = 20_000


def pretty_json(text: str | None) -> str:
    if text is None:
        return "-"
    if len(text) > SHOWN_CHARS:  # cut anyway: not worth parsing and indenting whole
        return text
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _field(value: object) -> Text:
    return Text(visible(value)[:SHOWN_CHARS])


def detail_renderable(
    task: TaskRecord,
    progress: TaskProgress | None = None,
    earlier: Sequence[AttemptError] = (),
) -> RenderableType:
    """Everything about one task, with its latest progress report and the error of each
    attempt (``earlier``: the ones the store kept before the final); untrusted text
    (payload, result, errors, a progress note) is never markup and never reaches the
    terminal as control characters."""
    see_all = f"`jobsched show {task.id} --full` prints all of it"

    def long(text: str) -> Text:
        # Cut before escaping: a 50 MB result is not walked whole on every open.
        return Text(visible(shorten(text, SHOWN_CHARS, see_all), multiline=True))

    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", justify="right")
    fields.add_column()
    rows: list[tuple[str, Text]] = [
        ("id", Text(str(task.id))),
        ("handler", _field(task.handler)),
        ("category", _field(task.category)),
        ("state", Text(visible(task.state), style=STATE_STYLES.get(task.state, ""))),
        ("reason", _field(task.reason or "-")),
        ("attempts", Text(f"{task.attempts} of {task.max_attempts}")),
        ("timeout", Text("-" if task.timeout is None else f"{task.timeout:g} s")),
        ("dedup key", _field(task.dedup_key or "-")),
        ("created", Text(fmt.timestamp(task.created_at))),
        ("run at", Text(fmt.timestamp(task.run_at))),
        ("started", Text(fmt.timestamp(task.started_at))),
        ("finished", Text(fmt.timestamp(task.finished_at))),
        ("took", Text(run_time(task))),
    ]
    if progress is not None:
        when = f"attempt {progress.attempt}, {fmt.timestamp(progress.at)}"
        rows.append(("progress", _field(f"{progress.describe()} ({when})")))
    if task.cancel_requested:
        rows.append(("cancel", Text("requested", style="yellow")))
    for name, value in rows:
        fields.add_row(name, value)
    parts: list[RenderableType] = [
        fields,
        Text("\npayload", style="bold underline"),
        long(pretty_json(task.payload)),
    ]
    if task.result is not None:
        parts += [Text("\nresult", style="bold underline"), long(pretty_json(task.result))]
    for entry in attempt_errors(task, earlier):
        # Each attempt that ended with an error, oldest first: the store keeps the last
        # ATTEMPTS_KEPT before the final one, whose error is the task's own.
        how = ", ".join(x for x in (entry.reason, fmt.timestamp(entry.ended_at)) if x)
        heading = visible(f"error of attempt {entry.number} (of {task.max_attempts}) · {how}")
        parts += [Text("\n" + heading, style="bold underline red"), long(entry.error or "-")]
    return Group(*parts)


def run_time(task: TaskRecord) -> str:
    """How long the latest attempt ran, or has been running."""
    if task.started_at is None:
        return "-"
    if task.finished_at is None:
        return "running" if task.state == "running" else "-"
    return f"{max(0.0, task.finished_at - task.started_at):.3f} s"


class TaskDetailScreen(ModalScreen[str | None]):
    """Dismisses with ``"retry"`` or ``"cancel"`` (the app confirms and applies them) or
    None (closed)."""

    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Close", show=True),
        Binding("r", "dismiss('retry')", "Retry", show=True),
        Binding("c", "dismiss('cancel')", "Cancel task", show=True),
    ]

    def __init__(
        self,
        task: TaskRecord,
        progress: TaskProgress | None = None,
        earlier: Sequence[AttemptError] = (),
    ) -> None:
        super().__init__()
        self.task_record = task
        self.progress = progress
        self.earlier = list(earlier)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-box", classes="dialog") as box:
            box.border_title = f"Task {self.task_record.id}"
            box.border_subtitle = "r retry · c cancel · esc to close"
            body = detail_renderable(self.task_record, self.progress, self.earlier)
            yield Static(body, id="detail-body")
