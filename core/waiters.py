"""Threads waiting for tasks to end, and the completer's way to wake them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from .clock import Clock
from .errors import TaskNotFoundError, WaitTimeoutError
from .store import TaskStore
from .task import TERMINAL, TaskRecord


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[int, list[threading.Event]] = {}

    def notify(self, task_ids: Iterable[int]) -> None:
        """Wake whoever waits for these tasks: they read the store again."""
        if not self._events:  # nobody waits (bulk work): no lock, no pass over the ids
            return
        with self._lock:
            events = [e for i in task_ids for e in self._events.get(i, ())]
        for event in events:
            event.set()

    def waited(self) -> frozenset[int]:
        """Ids some thread of this process is waiting on (retention leaves them)."""
        with self._lock:
            return frozenset(self._events)

    def notify_all(self) -> None:
        with self._lock:
            events = [e for per in self._events.values() for e in per]
        for event in events:
            event.set()

    def wait(
        self,
        store: TaskStore,
        clock: Clock,
        task_id: int,
        timeout: float | None,
        poll: Callable[[], float | None],
    ) -> TaskRecord:
        """Block until the task is terminal; read the store on every wake-up, and every
        ``poll()`` seconds (None: only when notified, while a node that runs every task
        of the store is running; asked again on every wake-up, as that may change)."""
        event = threading.Event()
        with self._lock:
            self._events.setdefault(task_id, []).append(event)
        try:
            deadline = None if timeout is None else clock.monotonic() + timeout
            while True:
                record = store.get(task_id)
                if record is None:
                    raise TaskNotFoundError(task_id)
                if record.state in TERMINAL:
                    return record
                left = None if deadline is None else deadline - clock.monotonic()
                if left is not None and left <= 0:
                    raise WaitTimeoutError(task_id, timeout or 0.0)
                slice_ = poll()
                event.wait(
                    left if slice_ is None else (slice_ if left is None else min(slice_, left))
                )
                event.clear()
        finally:
            with self._lock:
                events = self._events.get(task_id, [])
                if event in events:
                    events.remove(event)
                if not events:
                    self._events.pop(task_id, None)
