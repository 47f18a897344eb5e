"""What both of the console's sources do the same way: pass the reads and the operator's
changes on to a client's public API (a running :class:`~jobsched.core.Scheduler` offers the
same calls as a :class:`~jobsched.core.Client`)."""

from __future__ import annotations

from collections.abc import Iterable

from jobsched.core import Client, Scheduler
from jobsched.core.bulk import BulkResult
from jobsched.core.config import CategoryConfig
from jobsched.core.history import History
from jobsched.core.limits import RateLimit
from jobsched.core.progress import TaskProgress
from jobsched.core.query import Page, TaskQuery
from jobsched.core.schedule_book import ScheduleInfo
from jobsched.core.task import AttemptError, NodeInfo, TaskRecord


class ClientCalls:
    """The part of :class:`~console.source.Source` that is one call on ``calls``."""

    calls: Client | Scheduler

    # --- reading ---------------------------------------------------------------------------
    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        return self.calls.list_tasks(state, category, limit)

    def get(self, task_id: int) -> TaskRecord:
        return self.calls.get(task_id)

    def progress(self, task_id: int) -> TaskProgress | None:
        return self.calls.progress(task_id)

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        return self.calls.attempt_errors(task_id)

    def known_categories(self) -> frozenset[str]:
        return self.calls.known_categories()

    def nodes(self) -> list[NodeInfo]:
        return self.calls.nodes()

    def is_paused(self, category: str) -> bool:
        stored = self.calls.load_settings().get(category)
        return bool(stored and stored.paused)

    def category_config(self, name: str) -> CategoryConfig:
        return self.calls.category_config(name)

    # --- steering: every change goes through the client, so to the store -----------------
    def set_priority(self, category: str, priority: object) -> float:
        return self.calls.set_priority(category, priority)

    def set_rate(
        self, category: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        return self.calls.set_rate(category, rate, burst)

    def set_paused(self, category: str, paused: bool) -> None:
        self.calls.set_paused(category, paused)

    def pin(self, category: str, workers: int | None) -> None:
        self.calls.pin(category, workers)

    def rebalance(self) -> None:
        self.calls.rebalance()

    def inject(
        self,
        category: str,
        count: int = 1,
        duration_ms: float = 50.0,
        fail_rate: float = 0.0,
        priority: int = 0,
    ) -> list[int]:
        return self.calls.inject(category, count, duration_ms, fail_rate, priority)

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        return self.calls.cancel(ids)

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        return self.calls.retry(ids)

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        return self.calls.find_tasks(page)

    def count_tasks(self, query: TaskQuery) -> int:
        return self.calls.count_tasks(query)

    def queue_heads(self) -> dict[str, float]:
        return self.calls.queue_heads()

    def history(self, minutes: int = 60) -> History:
        return self.calls.history(minutes)

    def retry_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.calls.retry_matching(query, dry_run)

    def cancel_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.calls.cancel_matching(query, dry_run)

    def delete_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self.calls.delete_matching(query, dry_run)

    # --- recurring schedules: the same book calls as ``jobsched schedules`` --------------
    def schedule_infos(self) -> list[ScheduleInfo]:
        return self.calls.schedule_infos()

    def pause_schedule(self, name: str) -> None:
        self.calls.pause_schedule(name)

    def resume_schedule(self, name: str) -> None:
        self.calls.resume_schedule(name)

    def run_schedule_now(self, name: str) -> int:
        return self.calls.run_schedule_now(name)
