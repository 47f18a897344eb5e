"""The :class:`~.client.Client`'s API on the :class:`~.scheduler.Scheduler`, delegated.

A node is used like a client (``sched.submit(...)``, ``sched.pin(...)``); every call here
goes to the client it composes, which validates, writes and tells the engine through its
hooks. Nothing here overrides anything: the scheduler's own operations live beside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .bulk import BulkResult
from .client import Client, SubmitItem
from .clock import Clock
from .config import CategoryConfig, SchedulerConfig
from .handle import TaskHandle
from .handlers import HandlerFn, HandlerSpec
from .history import History
from .limits import RateLimit
from .progress import TaskProgress
from .query import Page, TaskQuery
from .schedule_book import ScheduleBook, ScheduleMethods
from .store import TaskStore
from .task import AttemptError, CategorySettings, NewTask, NodeInfo, TaskRecord


class ClientAPI(ScheduleMethods):
    client: Client

    @property
    def schedules(self) -> ScheduleBook:
        return self.client.schedules

    @property
    def config(self) -> SchedulerConfig:
        return self.client.config

    @property
    def store(self) -> TaskStore:
        return self.client.store

    @property
    def clock(self) -> Clock:
        return self.client.clock

    @property
    def handlers(self) -> dict[str, HandlerSpec]:
        return self.client.handlers

    @property
    def budget(self) -> int:
        """The node's worker budget (see :meth:`set_workers`)."""
        return self.client.budget

    def handler(
        self,
        name: str,
        *,
        category: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        rate: str | None = None,
        burst: int | None = None,
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Register ``fn`` under ``name`` for this scheduler only; ``rate`` (e.g. "5/s")
        and ``burst`` limit how fast its tasks start, on every node together."""
        return self.client.handler(
            name,
            category=category,
            max_attempts=max_attempts,
            timeout=timeout,
            rate=rate,
            burst=burst,
        )

    def submit(self, handler: str, payload: Any = None, **options: Any) -> TaskHandle:
        """Validate, insert (committed) and return a handle. Options: category, delay,
        run_at, key, max_attempts, timeout, priority (0-9, higher first in its category)."""
        return self.client.submit(handler, payload, **options)

    def submit_many(self, items: Sequence[SubmitItem]) -> list[int]:
        """Validate all, then insert all in one transaction; returns the ids."""
        return self.client.submit_many(items)

    def build_task(self, handler: str, payload: Any = None, **options: Any) -> NewTask:
        return self.client.build_task(handler, payload, **options)

    def insert(self, rows: Sequence[NewTask]) -> list[int]:
        return self.client.insert(rows)

    def inject(
        self,
        category: str,
        count: int = 1,
        duration_ms: float = 50.0,
        fail_rate: float = 0.0,
        priority: int = 0,
    ) -> list[int]:
        return self.client.inject(category, count, duration_ms, fail_rate, priority)

    def get(self, task_id: int) -> TaskRecord:
        return self.client.get(task_id)

    def wait(self, task_id: int, timeout: float | None = None) -> TaskRecord:
        return self.client.wait(task_id, timeout)

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        return self.client.cancel(ids)

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        return self.client.retry(ids)

    def retry_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.client.retry_matching(query, dry_run)

    def cancel_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.client.cancel_matching(query, dry_run)

    def delete_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.client.delete_matching(query, dry_run)

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        return self.client.find_tasks(page)

    def count_tasks(self, query: TaskQuery) -> int:
        return self.client.count_tasks(query)

    def queue_heads(self) -> dict[str, float]:
        return self.client.queue_heads()

    def progress(self, task_id: int) -> TaskProgress | None:
        return self.client.progress(task_id)

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        return self.client.attempt_errors(task_id)

    def known_categories(self) -> frozenset[str]:
        return self.client.known_categories()

    def category_config(self, name: str, settings: Any = None) -> CategoryConfig:
        return self.client.category_config(name, settings)

    # --- reading what the store holds --------------------------------------------------
    @property
    def location(self) -> str:
        return self.client.location

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        return self.client.list_tasks(state, category, limit)

    def counts(self) -> dict[str, dict[str, int]]:
        return self.client.counts()

    def load_settings(self) -> dict[str, CategorySettings]:
        return self.client.load_settings()

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.client.recent_decisions(limit)

    def nodes(self) -> list[NodeInfo]:
        return self.client.nodes()

    def history(self, minutes: int = 60) -> History:
        return self.client.history(minutes)

    # --- operator changes: the client writes, the engine reloads once and rebalances ---
    def set_priority(self, category: str, priority: object) -> float:
        return self.client.set_priority(category, priority)

    def set_paused(self, category: str, paused: bool) -> None:
        self.client.set_paused(category, paused)

    def set_rate(
        self, category: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        """Limit how fast a category's tasks start (see ``Client.set_rate``)."""
        return self.client.set_rate(category, rate, burst)

    def set_handler_rate(
        self, handler: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        """Limit how fast a handler's tasks start (see ``Client.set_handler_rate``)."""
        return self.client.set_handler_rate(handler, rate, burst)

    def handler_rates(self) -> dict[str, RateLimit | None]:
        return self.client.handler_rates()

    def pin(self, category: str, workers: int | None) -> None:
        self.client.pin(category, workers)

    def set_limits(
        self, category: str, min_workers: int | None = None, max_workers: int | None = None
    ) -> CategoryConfig:
        return self.client.set_limits(category, min_workers, max_workers)
