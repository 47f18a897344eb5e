"""What ``submit()`` returns: a task id and a way to wait for the task's result."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from .errors import TaskCancelledError, TaskFailedError
from .task import CANCELLED, SUCCEEDED, TaskRecord


class _Waits(Protocol):
    def wait(self, task_id: int, timeout: float | None = None) -> TaskRecord: ...

    def get(self, task_id: int) -> TaskRecord: ...

    def cancel(self, ids: Iterable[int]) -> dict[int, str]: ...


class TaskHandle:
    """What ``submit()`` returns: the task id, and a way to wait for its result."""

    __slots__ = ("id", "_sched")

    def __init__(self, sched: _Waits, task_id: int) -> None:
        self.id = task_id
        self._sched = sched

    def wait(self, timeout: float | None = None) -> TaskRecord:
        """Block until the task is terminal; return its record (any terminal state)."""
        return self._sched.wait(self.id, timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The handler's return value; raises TaskFailedError / TaskCancelledError /
        WaitTimeoutError."""
        record = self.wait(timeout)
        if record.state == SUCCEEDED:
            return record.result_value()
        if record.state == CANCELLED:
            raise TaskCancelledError(record.id)
        raise TaskFailedError(record.id, record.error, record.reason)

    def state(self) -> str:
        return self._sched.get(self.id).state

    def cancel(self) -> str:
        return self._sched.cancel([self.id])[self.id]

    def __int__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"TaskHandle({self.id})"
