"""What happens to tasks, told once: a record on the ``jobsched`` logger and an event for
the hooks (:mod:`core.hooks`).

Every outcome passes through :meth:`TaskSignals.emit` exactly once, where it is decided
(the worker that ran the attempt, the dispatcher that timed it out, the recovery that
orphaned it), before it is queued for the store: one record per event, however many
times the write is tried. Levels: a success at DEBUG, a cancellation at INFO, a failed
attempt that will be retried at WARNING, a task failed for good (an error, a timeout, an
orphaned run, a missing handler) at ERROR. Each record carries, for structured handlers,
``extra`` fields: ``task_id``, ``handler``, ``category``, ``attempt``, ``max_attempts``,
``event`` (the hook kind), ``reason`` and ``error`` (the stored error text).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from .hooks import CANCELLED, FAILED, RETRYING, STARTED, SUBMITTED, SUCCEEDED, Hooks, TaskEvent
from .task import (
    CANCELLED as STATE_CANCELLED,
)
from .task import (
    FAILED as STATE_FAILED,
)
from .task import (
    SCHEDULED,
    NewTask,
    Outcome,
    RecoveryReport,
    TaskRecord,
)

log = logging.getLogger("jobsched")

LEVELS = {
    SUBMITTED: logging.DEBUG,
    STARTED: logging.DEBUG,
    SUCCEEDED: logging.DEBUG,
    CANCELLED: logging.INFO,
    RETRYING: logging.WARNING,
    FAILED: logging.ERROR,
}
#: Characters of a result or of an error's one-line summary that an event carries.
SUMMARY_CHARS = 500
#: Records logged about one recovery at most: the rest are counted in one line.
MAX_ORPHAN_RECORDS = 200


class TaskSignals:
    """Logs task events and hands them to the hooks. One per scheduler."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks

    # --- the seam ----------------------------------------------------------------------
    def emit(
        self,
        kind: str,
        task: TaskRecord,
        at: float,
        *,
        reason: str | None = None,
        error: str | None = None,
        result: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        """Log one event of ``task`` and queue it for the hooks (if any are registered)."""
        level = LEVELS[kind]
        if kind not in (SUBMITTED, STARTED) and log.isEnabledFor(level):
            _log(level, kind, task, at, reason, error, retry_at)
        if self.hooks.active:
            self.hooks.emit(
                TaskEvent(
                    kind,
                    task.id,
                    task.handler,
                    task.category,
                    task.attempts if kind != SUBMITTED else 0,
                    at,
                    reason,
                    summary(error),
                    error,
                    None if result is None else result[:SUMMARY_CHARS],
                    retry_at,
                )
            )

    # --- the engine's call sites -------------------------------------------------------
    def outcome(self, task: TaskRecord, outcome: Outcome) -> None:
        """The attempt of ``task`` ended with ``outcome`` (about to be written)."""
        if outcome.state == SCHEDULED:
            kind = RETRYING
        elif outcome.state == STATE_FAILED:
            kind = FAILED
        elif outcome.state == STATE_CANCELLED:
            kind = CANCELLED
        else:
            kind = SUCCEEDED
        if kind == SUCCEEDED and not self.hooks.active and not log.isEnabledFor(logging.DEBUG):
            return  # the hot path: nobody listens
        self.emit(
            kind,
            task,
            outcome.finished_at,
            reason=outcome.reason,
            error=outcome.error,
            result=outcome.result,
            retry_at=outcome.run_at if kind == RETRYING else None,
        )

    def started(self, task: TaskRecord, at: float) -> None:
        """A handler begins (its caller, the worker's hot path, checks ``hooks.active``)."""
        self.emit(STARTED, task, at)

    def submitted(self, rows: Sequence[NewTask], ids: Sequence[int], now: float) -> None:
        """Submits acknowledged (a submit joined to a live task by its dedup key, too)."""
        if not self.hooks.active:
            return
        for row, task_id in zip(rows, ids, strict=True):
            record = TaskRecord(
                task_id, row.handler, row.category, "", row.payload, row.run_at, now,
                row.max_attempts,
            )  # fmt: skip
            self.emit(SUBMITTED, record, now)

    def cancelled(self, records: Sequence[TaskRecord]) -> None:
        """Tasks cancelled before they ran (their rows, as now stored)."""
        for record in records:
            self.emit(CANCELLED, record, record.finished_at or 0.0, reason=record.reason)

    def recovered(
        self, what: str, report: RecoveryReport, get: Callable[[int], TaskRecord | None]
    ) -> bool:
        """Tell what a recovery did: one warning line with the tasks put back and those
        failed as orphaned, then a failure record per orphaned task. True if it did
        anything."""
        if not (report.requeued or report.orphaned):
            return False
        log.warning(
            "recovered %s: %d back to the queue %s, %d failed as orphaned %s",
            what,
            len(report.requeued),
            report.requeued[:50],
            len(report.orphaned),
            report.orphaned[:50],
        )
        for task_id in report.orphaned[:MAX_ORPHAN_RECORDS]:
            record = get(task_id)
            if record is not None:
                self.emit(
                    FAILED,
                    record,
                    record.finished_at or 0.0,
                    reason=record.reason,
                    error=record.error,
                )
        rest = report.orphaned[MAX_ORPHAN_RECORDS:]
        if rest:
            log.error("recovery also failed %d more orphaned tasks: %s", len(rest), rest[:50])
        return True


def summary(error: str | None) -> str | None:
    """The last line of an error text (``"ValueError: boom"`` for a traceback)."""
    if not error:
        return error
    lines = error.rstrip().splitlines()
    return lines[-1][:SUMMARY_CHARS] if lines else ""


def _log(
    level: int,
    kind: str,
    task: TaskRecord,
    at: float,
    reason: str | None,
    error: str | None,
    retry_at: float | None,
) -> None:
    head = f"task {task.id} ({task.handler}, {task.category})"
    turn = f"attempt {task.attempts}/{task.max_attempts}"
    if kind == RETRYING:
        wait = max(0.0, (retry_at or at) - at)
        text = f"{head} {turn} failed; retrying in {wait:.3g} s: {summary(error)}"
    elif kind == FAILED:
        text = f"{head} failed for good ({reason}) at {turn}: {summary(error)}"
        if error and "\n" in error.strip():
            text += "\n" + error.rstrip()
    elif kind == CANCELLED:
        text = f"{head} cancelled at {turn}"
    else:
        text = f"{head} {kind} at {turn}"
    log.log(
        level,
        "%s",
        text,
        extra={
            "task_id": task.id,
            "handler": task.handler,
            "category": task.category,
            "attempt": task.attempts,
            "max_attempts": task.max_attempts,
            "event": kind,
            "reason": reason,
            "error": error,
        },
    )
