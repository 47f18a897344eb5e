"""The console shows a task's progress: in the worker panel beside the handler, and in
the task detail; a note from a task is escaped, never markup."""

from __future__ import annotations

from jobsched.console.screens.detail import detail_renderable
from jobsched.console.widgets.workers import worker_row
from jobsched.core import WorkerSnapshot
from jobsched.core.progress import TaskProgress
from jobsched.core.task import TaskRecord
from rich.console import Console


def render(renderable: object) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_worker_row_shows_the_running_tasks_progress() -> None:
    report = TaskProgress(1, 0.4, 40, 100, "[bold]pages\x1b[2J", 0.0)
    busy = WorkerSnapshot("a-1", "a", "busy", 7, "a.pages", 0.0, 1.5, progress=report)
    handler = worker_row(busy)[4]
    assert render(handler).strip() == "a.pages 40% (40/100 [bold]pages\\x1b[2J)"
    idle = WorkerSnapshot("a-2", "a", "idle")
    assert worker_row(idle)[4] == ""


def test_the_task_detail_shows_the_latest_report() -> None:
    task = TaskRecord(7, "a.pages", "a", "running", "null", 0.0, 0.0, 3, attempts=2)
    text = render(detail_renderable(task, TaskProgress(2, 0.5, note="copying", at=0.0)))
    assert "progress  50% (copying) (attempt 2, 1970-01-01T00:00:00.000Z)" in text
    assert "progress" not in render(detail_renderable(task))
