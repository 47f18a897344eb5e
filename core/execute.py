"""Running one handler and turning whatever happens into an :class:`Outcome`.

Failures (any exception, SystemExit and KeyboardInterrupt included) become a retry with
exponential backoff and jitter, or ``failed`` once attempts are spent; a result that is
not JSON is stored as a placeholder (the task ran: it is never run again for that).

An ``async def`` handler's coroutine is run to completion on the worker thread's event
loop (:mod:`core.asyncrun`), and so is an awaitable that a plain handler returns (a
``functools.partial`` of an async function, a lambda returning a coroutine): a task is
recorded ``succeeded`` only with the value its handler finally produced. An async handler
past its timeout is cancelled and ends ``failed`` (``timed_out``), as a sync one does.
"""

from __future__ import annotations

import inspect
import json
import logging
import random
import traceback

from .asyncrun import HandlerTimedOut, run_awaitable
from .clock import Clock
from .config import MAX_RESULT_BYTES
from .handlers import CURRENT_TASK, CancelFlag, HandlerSpec, TaskContext
from .progress import ProgressReporter
from .signals import TaskSignals
from .task import (
    CANCELLED,
    FAILED,
    REASON_CANCELLED,
    REASON_ERROR,
    REASON_HANDLER_MISSING,
    REASON_RESULT_TOO_LARGE,
    REASON_TIMED_OUT,
    SCHEDULED,
    SUCCEEDED,
    Outcome,
    TaskRecord,
    bound_error_text,
)

log = logging.getLogger("jobsched")

#: An async handler cancels itself at its timeout; the dispatcher abandons its thread
#: only this much later, if the coroutine blocked the loop and could not be cancelled.
ASYNC_CANCEL_GRACE = 1.0
# Results that are certainly not awaitable: skips the isawaitable check on the hot path.
_PLAIN = (type(None), str, int, float, bool, dict, list, tuple)


class Executor:
    """Runs handlers for one node; the outcome's fence carries this node's id."""

    def __init__(
        self,
        clock: Clock,
        node_id: str,
        retry_base: float,
        retry_max: float,
        rng: random.Random | None = None,
        signals: TaskSignals | None = None,
        max_result_bytes: int = MAX_RESULT_BYTES,
    ) -> None:
        self.max_result_bytes = max_result_bytes
        self.signals = signals
        self.clock = clock
        self.node_id = node_id
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.rng = rng or random.Random()

    def run(
        self,
        task: TaskRecord,
        spec: HandlerSpec | None,
        cancel: CancelFlag,
        progress: ProgressReporter | None = None,
    ) -> Outcome:
        """Run the handler and turn whatever happens into an outcome. Never raises.
        ``progress`` receives the handler's ``current_task().progress(...)`` reports."""
        fence = (task.id, self.node_id, task.attempts)
        if spec is None:
            return Outcome(
                *fence,
                FAILED,
                self.clock.now(),
                reason=REASON_HANDLER_MISSING,
                error=f"no handler named {task.handler!r} is registered in this process",
            )
        if cancel.is_set():
            return Outcome(*fence, CANCELLED, self.clock.now(), reason=REASON_CANCELLED)
        CURRENT_TASK.set(TaskContext(task.id, task.handler, task.category, task.attempts,
                                 task.max_attempts, cancel, progress))  # fmt: skip
        signals = self.signals
        if signals is not None and signals.hooks.active:  # (checked here: the hot path)
            signals.started(task, self.clock.now())
        try:
            value = self._call(task, spec, cancel)
        except HandlerTimedOut:
            return Outcome(
                *fence, FAILED, self.clock.now(), error=_error_text(), reason=REASON_TIMED_OUT
            )
        except BaseException:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are failures too
            return self._raised(task, cancel)
        finally:
            CURRENT_TASK.set(None)
        return self._returned(task, value, cancel, fence)

    def _returned(
        self, task: TaskRecord, value: object, cancel: CancelFlag, fence: tuple[int, str, int]
    ) -> Outcome:
        """The outcome of a handler that returned ``value``: its result stored, unless
        it is over ``max_result_bytes`` (then the task fails, and is not retried: it
        would be as large again)."""
        now = self.clock.now()
        result = "null" if value is None else _result_text(task, value)
        # The encoder escapes every non-ASCII character, so characters are bytes here.
        if len(result) > self.max_result_bytes:
            return Outcome(
                *fence, FAILED, now, reason=REASON_RESULT_TOO_LARGE,
                error=_too_large(len(result), self.max_result_bytes),
            )  # fmt: skip
        if cancel.is_set():
            return Outcome(*fence, CANCELLED, now, result=result, reason=REASON_CANCELLED)
        return Outcome(*fence, SUCCEEDED, now, result)

    def _raised(self, task: TaskRecord, cancel: CancelFlag) -> Outcome:
        """The outcome of a handler that raised: cancelled, a retry with backoff, or failed."""
        fence = (task.id, self.node_id, task.attempts)
        error = _error_text()
        now = self.clock.now()
        if cancel.is_set():
            return Outcome(*fence, CANCELLED, now, error=error, reason=REASON_CANCELLED)
        if task.attempts < task.max_attempts:
            return Outcome(
                *fence,
                SCHEDULED,
                now,
                error=error,
                reason=REASON_ERROR,
                run_at=now + self.backoff(task.attempts),
            )
        return Outcome(*fence, FAILED, now, error=error, reason=REASON_ERROR)

    def _call(self, task: TaskRecord, spec: HandlerSpec, cancel: CancelFlag) -> object:
        """The handler's value: an async handler's coroutine, or an awaitable a sync one
        returned, is awaited (with what is left of the timeout) and its value returned."""
        if spec.is_async:
            return run_awaitable(spec.fn(task.payload_value()), task.timeout, cancel)
        began = self.clock.monotonic() if task.timeout else 0.0
        value = spec.fn(task.payload_value())
        if isinstance(value, _PLAIN) or not inspect.isawaitable(value):
            return value
        left = None
        if task.timeout:
            left = max(0.0, task.timeout - (self.clock.monotonic() - began))
        return run_awaitable(value, left, cancel, task.timeout)

    def deadline_slack(self, spec: HandlerSpec | None) -> float:
        """Seconds past a task's timeout before the dispatcher abandons its worker: an
        async handler is cancelled at its timeout by its own loop, so the dispatcher
        steps in only if that failed (a coroutine that blocks the loop)."""
        return ASYNC_CANCEL_GRACE if spec is not None and spec.is_async else 0.0

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt``: exponential, capped, with jitter in
        [50%, 100%] so that failures of one burst do not retry in lockstep."""
        base = min(self.retry_max, self.retry_base * 2.0 ** (attempt - 1))
        return base * (0.5 + 0.5 * self.rng.random())


# One encoder for every result: json.dumps with options builds a new one per call.
_RESULT_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def _result_text(task: TaskRecord, value: object) -> str:
    """The result as stored: JSON, or a placeholder when it is not JSON (the task ran:
    it is never run again for that)."""
    try:
        return "null" if value is None else _RESULT_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        log.warning(
            "task %d (%s) returned a value that is not JSON (%s); stored a placeholder",
            task.id,
            task.handler,
            exc,
        )
        return json.dumps({"unserialisable_result": _short_repr(value)})


def _too_large(size: int, limit: int) -> str:
    return (
        f"the result of {size:,} bytes (as JSON) is over the limit of {limit:,} bytes"
        " (max_result_bytes); it was not stored. Store large data elsewhere and return a"
        " reference (a path or URL)"
    )


def _short_repr(value: object) -> str:
    """``repr(value)`` cut to 500 characters; a type name when even repr fails (an int
    too long for str, a structure nested too deep, a ``__repr__`` that raises)."""
    try:
        return repr(value)[:500]
    except Exception:  # noqa: BLE001 - the task ran: its outcome must still be written
        return f"<{type(value).__name__} object>"


def _error_text() -> str:
    return bound_error_text(traceback.format_exc())
