"""The memory store's history by the minute (:mod:`.history`): one row per minute,
category and node in a dict, under the store's lock (:class:`~.memory_store.MemoryStore`
inherits it)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .history import MinuteStats, combine


class MemoryHistory:
    """Mixed into the memory store, which owns these attributes."""

    _lock: threading.Lock
    #: (minute, category, node id) -> that node's figures
    _history: dict[tuple[int, str, str], MinuteStats]

    def add_history(self, node_id: str, rows: Sequence[MinuteStats]) -> None:
        with self._lock:
            for row in rows:
                self._history[(row.minute, row.category, node_id)] = row

    def history(self, since: int) -> list[MinuteStats]:
        with self._lock:
            rows = [row for (minute, _, _), row in self._history.items() if minute >= since]
        return combine(rows)

    def prune_history(self, before: int, limit: int) -> int:
        with self._lock:
            old = sorted(key for key in self._history if key[0] < before)[: max(0, limit)]
            for key in old:
                del self._history[key]
        return len(old)
