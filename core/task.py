"""Task states and the plain records that pass between the engine and its store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .counters import NodeCounters

SCHEDULED = "scheduled"
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"

STATES = (SCHEDULED, QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

# Reasons recorded with a failed or cancelled task (``show`` prints them).
REASON_ERROR = "error"
REASON_TIMED_OUT = "timed_out"
REASON_ORPHANED = "orphaned"
REASON_HANDLER_MISSING = "handler_missing"
REASON_CANCELLED = "cancelled"
REASON_RESULT_TOO_LARGE = "result_too_large"


@dataclass(slots=True)
class NewTask:
    """A validated task about to be inserted. ``payload`` is its JSON text."""

    handler: str
    category: str
    payload: str
    run_at: float
    max_attempts: int
    timeout: float | None = None
    dedup_key: str | None = None
    #: 0-9, higher first within the category (see ``config.check_task_priority``)
    priority: int = 0

    def claimed(self, task_id: int, now: float, owner: str) -> TaskRecord:
        """The row of this task inserted already claimed by ``owner`` at ``now``: what a
        claim would return for it (the direct hand-off, ``TaskStore.insert_claimed``)."""
        return TaskRecord(
            task_id, self.handler, self.category, RUNNING, self.payload, self.run_at, now,
            self.max_attempts, 1, self.timeout, started_at=now, owner=owner,
            priority=self.priority,
        )  # fmt: skip


def same_claim(a: TaskRecord, b: TaskRecord) -> bool:
    """Whether two records are one claim of one task: same owner, attempt and claim time.
    The attempt alone does not tell: a claim given back before its run began gets its
    attempt back, so the next claim has the same number."""
    return (a.id, a.owner, a.attempts, a.started_at) == (b.id, b.owner, b.attempts, b.started_at)


@dataclass(slots=True)
class TaskRecord:
    """One task row as the store returns it. ``payload``/``result`` are JSON text."""

    id: int
    handler: str
    category: str
    state: str
    payload: str
    run_at: float
    created_at: float
    max_attempts: int
    attempts: int = 0
    timeout: float | None = None
    dedup_key: str | None = None
    result: str | None = None
    error: str | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    owner: str | None = None
    cancel_requested: bool = False
    priority: int = 0

    def payload_value(self) -> Any:
        return None if self.payload == "null" else json.loads(self.payload)

    def result_value(self) -> Any:
        return None if self.result is None else json.loads(self.result)

    def to_dict(self) -> dict[str, Any]:
        """The public shape of a task (``show --json``), timestamps as epoch seconds."""
        return {
            "id": self.id,
            "handler": self.handler,
            "category": self.category,
            "state": self.state,
            "payload": self.payload_value(),
            "result": self.result_value(),
            "error": self.error,
            "reason": self.reason,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout,
            "dedup_key": self.dedup_key,
            "priority": self.priority,
            "created_at": self.created_at,
            "run_at": self.run_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def claim_order(task: TaskRecord) -> tuple[int, int]:
    """The order tasks of one category are claimed in: higher priority first, then lower
    id (first in, first out among equals)."""
    return (-task.priority, task.id)


@dataclass(slots=True)
class Outcome:
    """What a finished attempt wrote; applied only if the fence still holds.

    The fence is ``id``, ``owner`` and ``attempt``: an abandoned (timed-out) thread or a
    node whose tasks were recovered by another cannot overwrite a newer attempt.
    ``state`` is succeeded, failed, cancelled, or scheduled (a retry at ``run_at``).
    """

    id: int
    owner: str
    attempt: int
    state: str
    finished_at: float
    result: str | None = None
    error: str | None = None
    reason: str | None = None
    run_at: float | None = None

    def __post_init__(self) -> None:
        # Every path that stores an error builds an Outcome: the bound holds for all.
        if self.error is not None and len(self.error) > MAX_ERROR_TEXT:
            self.error = bound_error_text(self.error)


#: The most characters of error text (a traceback) stored with a task.
MAX_ERROR_TEXT = 8000
_CUT_NOTE = "... (truncated)\n"


def bound_error_text(text: str) -> str:
    """``text`` if it fits MAX_ERROR_TEXT, else its last part (where a traceback names
    the exception) after a note that it was cut; never longer than MAX_ERROR_TEXT."""
    if len(text) <= MAX_ERROR_TEXT:
        return text
    return _CUT_NOTE + text[-(MAX_ERROR_TEXT - len(_CUT_NOTE)) :]


#: How many earlier attempts' errors a task keeps (``TaskStore.attempt_errors``): the
#: oldest are dropped beyond it, so a task with a thousand attempts keeps a bounded list.
#: Its final attempt's error is the task's ``error`` and not counted here.
ATTEMPTS_KEPT = 20

#: The error recorded for a run a crashed (or killed) node left unfinished, when recovery
#: queues its task again.
ORPHANED_ATTEMPT_ERROR = "interrupted: the node running it stopped before it finished"


@dataclass(frozen=True, slots=True)
class AttemptError:
    """How one attempt of a task ended: its number, its error text (bounded like a task's,
    :data:`MAX_ERROR_TEXT`) and reason, and when it ended (epoch seconds)."""

    number: int
    error: str | None
    reason: str | None
    ended_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "error": self.error,
            "reason": self.reason,
            "ended_at": self.ended_at,
        }


def attempt_history(task: TaskRecord, earlier: Sequence[AttemptError]) -> list[AttemptError]:
    """Every attempt's error the store knows for ``task``, oldest first: the earlier
    attempts it kept (``TaskStore.attempt_errors``, at most :data:`ATTEMPTS_KEPT`), then
    the final one from the task's own ``error`` and ``reason`` once it has finished with
    one. A task waiting for its next attempt, or cancelled while waiting, already has its
    latest attempt among the earlier ones."""
    kept = sorted(earlier, key=lambda a: a.number)
    final = task.state in TERMINAL and (task.error is not None or task.reason is not None)
    if not final or task.attempts <= 0 or any(a.number == task.attempts for a in kept):
        return kept
    return [*kept, AttemptError(task.attempts, task.error, task.reason, task.finished_at)]


@dataclass(slots=True)
class RecoveryReport:
    """What :meth:`TaskStore.recover` did with the running rows of dead nodes."""

    requeued: list[int] = field(default_factory=list)
    orphaned: list[int] = field(default_factory=list)


@dataclass(slots=True)
class CategorySettings:
    """Operator changes to a category, persisted so every node and restart sees them.

    ``None`` means "as configured".
    """

    priority: float | None = None
    paused: bool = False
    pinned: int | None = None
    min_workers: int | None = None
    max_workers: int | None = None
    #: a rate limit ("20/s"), or "none" to lift a configured one
    rate: str | None = None
    burst: int | None = None


@dataclass(slots=True)
class NodeInfo:
    """A running node as its heartbeat describes it to other processes."""

    node_id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    budget: int
    workers: list[dict[str, Any]] = field(default_factory=list)
    counters: NodeCounters = field(default_factory=NodeCounters)
    stopped: bool = False
    #: Seconds after this heartbeat past which other nodes may give back the tasks this
    #: node claimed and has not begun (its starts are fenced, so it then runs none of
    #: them); None: only when the node is declared dead (``stale_after``).
    claim_lease: float | None = None
