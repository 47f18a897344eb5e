"""Operator calls run off the UI thread, one at a time and in order.

A store write may wait on a lock (SQLite busy timeout, a PostgreSQL row lock), so the
console never makes it on the event loop. One thread worker drains the queue; when it is
empty the worker ends and the next call starts a new one. Serial order matters: two
quick ``+`` presses must compound, not race.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Operation:
    label: str
    call: Callable[[], Any]
    done: Callable[[Any], None] | None = None


class Host(Protocol):
    """The App side: runs a thread worker, and receives each result on the UI thread."""

    def run_worker(self, work: Callable[[], Any], **kwargs: Any) -> Any: ...
    def call_from_thread(self, callback: Callable[..., Any], *args: Any) -> Any: ...
    def operation_finished(
        self, op: Operation, result: Any, error: BaseException | None
    ) -> None: ...


class OperationQueue:
    def __init__(self, host: Host) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._pending: deque[Operation] = deque()
        self._draining = False

    def submit(
        self, label: str, call: Callable[[], Any], done: Callable[[Any], None] | None = None
    ) -> None:
        """Queue ``call``; ``done(result)`` runs on the UI thread if it succeeded."""
        with self._lock:
            self._pending.append(Operation(label, call, done))
            if self._draining:
                return
            self._draining = True
        self.host.run_worker(
            self._drain, thread=True, group="operations", exit_on_error=False, name="operations"
        )

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._draining = False
                    return
                op = self._pending.popleft()
            result: Any = None
            error: BaseException | None = None
            try:
                result = op.call()
            except Exception as exc:  # reported on the UI thread, never raised here
                error = exc
            try:
                self.host.call_from_thread(self.host.operation_finished, op, result, error)
            except Exception:  # the app has exited; nothing is left to tell
                with self._lock:
                    self._pending.clear()
                    self._draining = False
                return
