"""Retention for the in-memory store: :class:`MemoryPrune` gives
:class:`~.memory_store.MemoryStore` the store's ``prune`` and ``count_prunable`` over its
rows (see :class:`~.retention.PruneRule` for what a rule matches)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

from .retention import PruneRule
from .task import TERMINAL, TaskRecord


class MemoryPrune:
    """Mixed into the memory store, which owns these attributes."""

    _lock: threading.Lock
    _rows: dict[int, TaskRecord]

    _forget_notes: Callable[[int], None]  # MemoryNotes's

    def _prunable(self, rule: PruneRule) -> list[int]:
        """Ids ``rule`` matches, oldest finished first (the caller holds the lock)."""
        if rule.state not in TERMINAL:
            return []
        finished = sorted(
            (row.finished_at, row.id)
            for row in self._rows.values()
            if row.state == rule.state and row.finished_at is not None
        )
        if rule.keep is not None:
            finished = finished[: max(0, len(finished) - rule.keep)]
        return [task_id for at, task_id in finished if at < rule.finished_before]

    def prune(self, rule: PruneRule, limit: int, spare: Collection[int] = ()) -> int:
        """Delete at most ``limit`` tasks ``rule`` matches, with their progress reports
        and earlier attempts."""
        with self._lock:
            victims = [i for i in self._prunable(rule) if i not in spare][: max(0, limit)]
            for task_id in victims:
                del self._rows[task_id]
                self._forget_notes(task_id)
        return len(victims)

    def count_prunable(self, rule: PruneRule) -> int:
        with self._lock:
            return len(self._prunable(rule))
