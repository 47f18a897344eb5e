"""A node that runs in this process, seen through the console's :class:`~console.source.Source`.

The console's default: ``jobsched console`` builds a :class:`~core.Scheduler` in the
composition root and hands the app this wrapper, which passes every call on to the
scheduler's public API. Tests wrap a scheduler built with ``threaded=False`` and step it.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobsched.core import Clock, Scheduler, Snapshot
from jobsched.core.bulk import BulkResult
from jobsched.core.config import CategoryConfig, SchedulerConfig
from jobsched.core.limits import RateLimit
from jobsched.core.progress import TaskProgress
from jobsched.core.query import Page, TaskQuery
from jobsched.core.task import NodeInfo, TaskRecord


class LocalNode:
    """The :class:`~console.source.Source` of a scheduler running in this process."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    # --- what it is ----------------------------------------------------------------------
    @property
    def config(self) -> SchedulerConfig:
        return self.scheduler.config

    @property
    def clock(self) -> Clock:
        return self.scheduler.clock

    @property
    def location(self) -> str:
        return self.scheduler.location

    @property
    def state(self) -> str:
        return self.scheduler.state

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, grace: float | None = None) -> list[int]:
        return self.scheduler.stop(grace)

    # --- reading ---------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return self.scheduler.snapshot()

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        return self.scheduler.list_tasks(state, category, limit)

    def get(self, task_id: int) -> TaskRecord:
        return self.scheduler.get(task_id)

    def progress(self, task_id: int) -> TaskProgress | None:
        return self.scheduler.progress(task_id)

    def nodes(self) -> list[NodeInfo]:
        return self.scheduler.nodes()

    def is_paused(self, category: str) -> bool:
        stored = self.scheduler.load_settings().get(category)
        return bool(stored and stored.paused)

    def category_config(self, name: str) -> CategoryConfig:
        return self.scheduler.category_config(name)

    # --- steering ----------------------------------------------------------------------------
    def set_priority(self, category: str, priority: object) -> float:
        return self.scheduler.set_priority(category, priority)

    def set_rate(
        self, category: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        return self.scheduler.set_rate(category, rate, burst)

    def set_paused(self, category: str, paused: bool) -> None:
        self.scheduler.set_paused(category, paused)

    def pin(self, category: str, workers: int | None) -> None:
        self.scheduler.pin(category, workers)

    def rebalance(self) -> None:
        self.scheduler.rebalance()

    def inject(
        self,
        category: str,
        count: int = 1,
        duration_ms: float = 50.0,
        fail_rate: float = 0.0,
        priority: int = 0,
    ) -> list[int]:
        return self.scheduler.inject(category, count, duration_ms, fail_rate, priority)

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        return self.scheduler.cancel(ids)

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        return self.scheduler.retry(ids)

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        return self.scheduler.find_tasks(page)

    def count_tasks(self, query: TaskQuery) -> int:
        return self.scheduler.count_tasks(query)

    def queue_heads(self) -> dict[str, float]:
        return self.scheduler.queue_heads()

    def retry_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.scheduler.retry_matching(query, dry_run)

    def cancel_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.scheduler.cancel_matching(query, dry_run)

    def delete_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.scheduler.delete_matching(query, dry_run)
