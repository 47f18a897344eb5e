"""The memory store's operator settings, balancer decisions and node heartbeats: the
bookkeeping beside its tasks (:class:`~.memory_store.MemoryStore` inherits it)."""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from typing import Any

from .store import CountDifference
from .task import CategorySettings, NodeInfo

DECISIONS_KEPT = 500


class MemoryBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # shared with the tasks' methods of the store
        self._settings: dict[str, CategorySettings] = {}
        self._version = 0
        self._decisions: list[dict[str, Any]] = []
        self._nodes: dict[str, NodeInfo] = {}
        self._commits = CommitCounter()

    def watch_commits(self) -> CommitCounter.Watch:
        """A watch woken when outcomes or cancellations are written (see TaskStore)."""
        return self._commits.watch()

    # --- settings, decisions, nodes ------------------------------------------------
    def load_settings(self) -> dict[str, CategorySettings]:
        with self._lock:
            return {k: replace(v) for k, v in self._settings.items()}

    def save_settings(self, category: str, settings: CategorySettings) -> None:
        with self._lock:
            self._settings[category] = replace(settings)
            self._version += 1

    def settings_version(self) -> int:
        with self._lock:
            return self._version

    def request_rebalance(self) -> None:
        with self._lock:
            self._version += 1

    def add_decision(self, at: float, decision: dict[str, Any]) -> None:
        with self._lock:
            self._decisions.append(copy.deepcopy(dict(decision, at=at)))
            del self._decisions[:-DECISIONS_KEPT]

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        with self._lock:
            return [copy.deepcopy(d) for d in reversed(self._decisions[-limit:])]

    def heartbeat(self, node: NodeInfo) -> None:
        with self._lock:
            self._nodes[node.node_id] = replace(node)

    def check_counts(self, repair: bool = False) -> list[CountDifference]:
        """Always consistent: the memory store's counts() is a full count."""
        return []

    def compact_counts(self) -> None:
        """Nothing to fold."""

    def nodes(self) -> list[NodeInfo]:
        with self._lock:
            return [replace(n) for n in self._nodes.values()]


class CommitCounter:
    """Counts the memory store's writes that may end tasks; watches wait for the count to
    move (the in-process stand-in for PostgreSQL's NOTIFY or SQLite's data_version)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def committed(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def watch(self) -> CommitCounter.Watch:
        return CommitCounter.Watch(self)

    class Watch:
        def __init__(self, counter: CommitCounter) -> None:
            self._counter = counter
            self._seen = counter.count

        def changed(self, timeout: float) -> bool:
            counter = self._counter
            with counter._cond:
                moved = counter._cond.wait_for(lambda: counter.count != self._seen, timeout)
                self._seen = counter.count
            return moved

        def close(self) -> None:
            pass
