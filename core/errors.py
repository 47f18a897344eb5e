"""One error hierarchy for the library, the CLI and the console.

Every error says what was wrong, which value, why, and what to do. The CLI prints
``Error: <message>`` on one line and exits with ``exit_code`` (listed in the README).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "ForeignDatabaseError",
    "InvalidInputError",
    "InvalidNameError",
    "JobschedError",
    "NodeLockedError",
    "PayloadError",
    "PriorityError",
    "ScheduleError",
    "SchedulerStateError",
    "SchemaTooNewError",
    "StorageError",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreFullError",
    "StoreMissingError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "TaskCancelledError",
    "TaskFailedError",
    "TaskNotFoundError",
    "UnknownCategoryError",
    "UnknownFilterCategoryError",
    "UnknownHandlerError",
    "WaitTimeoutError",
    "QueryError",
]


class JobschedError(Exception):
    """Base of every error jobsched raises on purpose."""

    exit_code = 1

    def __init__(self, what: str, value: object = None, why: str = "", hint: str = "") -> None:
        self.what = what
        self.value = value
        self.why = why
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.what
        if self.value is not None:
            text += f" {_short(self.value)}"
        if self.why:
            text += f": {self.why}"
        text = text.rstrip(".") + "."
        if self.hint:
            text += " " + self.hint.rstrip(".") + "."
        return text

    def __str__(self) -> str:
        return self.message


def _short(value: object, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


# --- bad input: exit 2 -------------------------------------------------------------


class InvalidInputError(JobschedError, ValueError):
    """The caller passed something jobsched cannot accept. Nothing was stored."""

    exit_code = 2


class ConfigError(InvalidInputError):
    """A configuration value (budget, category, priority, ...) is not valid."""


class InvalidNameError(InvalidInputError):
    """A category or handler name does not match ``[A-Za-z0-9_.-]{1,64}``."""


class _UnknownNameError(InvalidInputError):
    """A name that is not among the known ones: lists them and suggests the closest."""

    def __init__(self, what: str, plural: str, name: str, known: Iterable[str], why: str) -> None:
        names = sorted(known)
        hint = f"Known {plural}: {', '.join(names) or '(none)'}"
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            hint = f"Did you mean {close[0]!r}? " + hint
        super().__init__(f"unknown {what}", name, why, hint)
        self.name = name


class UnknownCategoryError(_UnknownNameError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__("category", "categories", name, known, "no such category is configured")


class UnknownHandlerError(_UnknownNameError):
    def __init__(
        self, name: str, known: Iterable[str], why: str = "no handler is registered under this name"
    ) -> None:
        super().__init__("handler", "handlers", name, known, why)


class PayloadError(InvalidInputError):
    """The payload is not plain JSON, changes on a round trip, or is too large."""


class QueryError(InvalidInputError):
    """A task filter names a field or a value that does not exist, or does not parse."""


class UnknownFilterCategoryError(UnknownCategoryError, QueryError):
    """A filter's ``cat:`` names a category that is neither configured nor holds tasks in
    the store: the same message as an unknown ``--category``, and a :class:`QueryError`
    (shown where a filter that does not parse is)."""


class ScheduleError(InvalidInputError):
    """A delay or run_at that cannot be honoured."""


class PriorityError(ConfigError):
    """A priority weight that is not a finite number above zero."""


class TaskPriorityError(InvalidInputError):
    """A task's priority that is not a whole number from 0 to 9."""


class TaskNotFoundError(InvalidInputError):
    def __init__(self, task_id: object) -> None:
        super().__init__(
            "unknown task", task_id, "no task has this id", "List tasks with `jobsched tasks`"
        )


# --- storage: exit 3 ---------------------------------------------------------------


class StorageError(JobschedError):
    """The store cannot be used: locked, read-only, full, corrupt or foreign."""

    exit_code = 3


class StoreReadOnlyError(StorageError):
    pass


class StoreFullError(StorageError):
    pass


class StoreCorruptError(StorageError):
    pass


class ForeignDatabaseError(StorageError):
    pass


class SchemaTooNewError(StorageError):
    pass


class StoreMissingError(StorageError):
    pass


class StoreBusyError(StorageError):
    pass


class StoreUnavailableError(StorageError):
    pass


# --- node lock: exit 4 -------------------------------------------------------------


class NodeLockedError(JobschedError):
    """Another node already runs on this SQLite database."""

    exit_code = 4


# --- outcomes of awaited tasks -------------------------------------------------------


class TaskFailedError(JobschedError):
    """The awaited task ended ``failed``; carries its error text and reason."""

    exit_code = 1

    def __init__(self, task_id: int, error: str | None, reason: str | None = None) -> None:
        last = (error or "").strip().splitlines()
        detail = last[-1] if last else "no error text"
        why = f"{reason}: {detail}" if reason else detail
        super().__init__("task", task_id, f"failed ({why})", f"See `jobsched show {task_id}`")
        self.task_id = task_id
        self.error = error
        self.reason = reason


class TaskCancelledError(JobschedError):
    exit_code = 1

    def __init__(self, task_id: int) -> None:
        super().__init__("task", task_id, "was cancelled", "Submit it again if it is still needed")
        self.task_id = task_id


class WaitTimeoutError(JobschedError, TimeoutError):
    exit_code = 5

    def __init__(self, task_id: int, timeout: float) -> None:
        super().__init__(
            "task",
            task_id,
            f"did not finish within {timeout:g} s",
            "Wait longer or check the node with `jobsched status`",
        )
        self.task_id = task_id


class SchedulerStateError(JobschedError):
    """An operation that needs a started (or stopped) scheduler was called at the wrong time."""

    exit_code = 2
