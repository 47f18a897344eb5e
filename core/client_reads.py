"""What a :class:`~.client.Client` reads from its store, for the CLI and the console."""

from __future__ import annotations

from typing import Any

from .clock import Clock
from .config import SchedulerConfig
from .handlers import HandlerSpec
from .history import History, window
from .limits import RateLimit, handler_key, handler_override, is_handler_key
from .progress import TaskProgress
from .query import Page, TaskQuery
from .store import TaskStore
from .task import AttemptError, CategorySettings, NodeInfo, TaskRecord


class StoreReads:
    """Reads of the client's store: pages of tasks, counts, settings, decisions, nodes."""

    store: TaskStore
    config: SchedulerConfig
    clock: Clock
    handlers: dict[str, HandlerSpec]

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        """A page of the tasks a filter matches, over the whole store."""
        return self.store.find_tasks(page)

    def count_tasks(self, query: TaskQuery) -> int:
        return self.store.count_tasks(query)

    def known_categories(self) -> frozenset[str]:
        """The categories a filter or ``--category`` may name: the configured ones and any
        that holds tasks in the store (one removed from the config whose tasks remain)."""
        return frozenset(self.config.categories) | frozenset(self.store.counts())

    def queue_heads(self) -> dict[str, float]:
        """category -> ``run_at`` of the next task it claims, for every configured one."""
        return self.store.queue_heads(list(self.config.categories))

    def progress(self, task_id: int) -> TaskProgress | None:
        """The task's latest progress report as stored (None: it made none)."""
        return self.store.get_progress([task_id]).get(task_id)

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        """How the task's earlier attempts ended, oldest first, as stored (at most
        ``ATTEMPTS_KEPT``); with the task, :func:`.task.attempt_history` adds the final one."""
        return self.store.attempt_errors(task_id)

    @property
    def location(self) -> str:
        """Where the store lives (a path or URL), for status lines and reports."""
        return self.store.location

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Tasks, newest first, of one state and category when given."""
        return self.store.list_tasks(state, category, limit)

    def counts(self) -> dict[str, dict[str, int]]:
        """category -> state -> number of tasks, over every node of the store."""
        return self.store.counts()

    def load_settings(self) -> dict[str, CategorySettings]:
        """The operator changes persisted per category."""
        return {k: v for k, v in self.store.load_settings().items() if not is_handler_key(k)}

    def handler_rates(self) -> dict[str, RateLimit | None]:
        """Per registered handler, its rate limit in force: the operator's if one is
        stored (``set_handler_rate``), else the configured or registered one."""
        stored = self.store.load_settings()
        return {
            name: handler_override(spec.rate_limit, stored.get(handler_key(name)))
            for name, spec in sorted(self.handlers.items())
        }

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        """The balancer's decisions of every node, newest first."""
        return self.store.recent_decisions(limit)

    def nodes(self) -> list[NodeInfo]:
        """Every node's latest heartbeat, alive, silent or stopped."""
        return self.store.nodes()

    def history(self, minutes: int = 60) -> History:
        """Per category, the last ``minutes`` full minutes (the one under way is left
        out: no node has written it yet), summed over every node that wrote them;
        see ``core/history.py``. Raises InvalidInputError unless 1 <= minutes <= a year."""
        start, end = window(self.clock.now(), minutes)
        rows = [row for row in self.store.history(start) if row.minute < end]
        return History(start, end, tuple(rows))
