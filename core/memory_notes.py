"""What the memory store keeps beside each task (:class:`~.memory_store.MemoryStore`
inherits it): its latest progress report, and how its earlier attempts ended, under the
store's lock. Both go when their task is deleted or pruned."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .progress import TaskProgress
from .task import (
    ATTEMPTS_KEPT,
    ORPHANED_ATTEMPT_ERROR,
    REASON_ORPHANED,
    AttemptError,
    TaskRecord,
)


class MemoryNotes:
    """Mixed into the memory store, which owns these attributes."""

    _lock: threading.Lock
    _rows: dict[int, TaskRecord]
    _progress: dict[int, TaskProgress]
    #: task id -> its earlier attempts, oldest first, at most ATTEMPTS_KEPT
    _attempts: dict[int, list[AttemptError]]

    def set_progress(self, task_id: int, progress: TaskProgress) -> None:
        with self._lock:
            if task_id in self._rows:
                self._progress[task_id] = progress

    def get_progress(self, ids: Iterable[int]) -> dict[int, TaskProgress]:
        with self._lock:
            return {i: self._progress[i] for i in ids if i in self._progress}

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        with self._lock:
            return list(self._attempts.get(task_id, []))

    def _keep_attempt(self, task_id: int, attempt: AttemptError) -> None:
        """Keep how an attempt ended (the caller holds the lock), the newest
        :data:`ATTEMPTS_KEPT` per task."""
        kept = [a for a in self._attempts.get(task_id, []) if a.number != attempt.number]
        kept.append(attempt)
        self._attempts[task_id] = kept[-ATTEMPTS_KEPT:]

    def _keep_interrupted(self, task_id: int, attempt: int, now: float) -> None:
        """Keep a run a dead node left unfinished, queued again by recovery."""
        ended = AttemptError(attempt, ORPHANED_ATTEMPT_ERROR, REASON_ORPHANED, now)
        self._keep_attempt(task_id, ended)

    def _forget_notes(self, task_id: int) -> None:
        """Drop what is kept beside a deleted task (the caller holds the lock)."""
        self._progress.pop(task_id, None)
        self._attempts.pop(task_id, None)
