"""The console's one data seam: what the app and its screens may ask of a node.

Two implementations, chosen by the composition root (:mod:`console.compose`):
:class:`~console.local.LocalNode` wraps a :class:`~core.Scheduler` that runs in this
process, and :class:`~console.view.AttachedView` watches a node that runs in another
process through the shared store. Tests drive the app with either over a stepped
scheduler, or with a fake of their own. The app, its screens and widgets call nothing
else: no store, no scheduler internals.

Every method may block on the store (a lock, a slow disk or network): the app calls them
from thread workers, never from engine threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from jobsched.core import Clock, Snapshot
from jobsched.core.bulk import BulkResult
from jobsched.core.config import CategoryConfig, SchedulerConfig
from jobsched.core.history import History
from jobsched.core.limits import RateLimit
from jobsched.core.progress import TaskProgress
from jobsched.core.query import Page, TaskQuery
from jobsched.core.schedule_book import ScheduleInfo
from jobsched.core.task import AttemptError, NodeInfo, TaskRecord

from . import reports

#: The ``state`` of a source that runs the node's workers in this process (its tasks are
#: lost to the queue, released, if the console quits without waiting).
RUNNING = "running"


@runtime_checkable
class Source(Protocol):
    """A node the console shows and steers.

    Reading: :meth:`snapshot` (polled about four times a second), :meth:`find_tasks`,
    :meth:`count_tasks`, :meth:`queue_heads`, :meth:`history` (every few seconds),
    :meth:`list_tasks`, :meth:`get`, :meth:`progress`, :meth:`attempt_errors`,
    :meth:`nodes`, :meth:`is_paused`, :meth:`known_categories`,
    :meth:`category_config`, :meth:`schedule_infos`. Steering:
    every change is validated (a typed error for bad input, nothing written) and written to
    the store, so every node sharing it picks the change up. Lifecycle: the composition
    root calls :meth:`start` before the app runs and :meth:`stop` after it ends; the app
    calls :meth:`stop` itself only when the operator quits while :attr:`state` is
    :data:`RUNNING` and tasks are held.
    """

    @property
    def config(self) -> SchedulerConfig:
        """The configuration the node was built from (categories, intervals, grace)."""
        ...

    @property
    def clock(self) -> Clock:
        """The clock that ages heartbeats and times refreshes (a fake one in tests)."""
        ...

    @property
    def location(self) -> str:
        """Where the store lives, for the status line."""
        ...

    @property
    def state(self) -> str:
        """``new``, ``running`` (workers run here), ``stopping``, ``stopped`` or
        ``attached`` (watching a node elsewhere)."""
        ...

    def start(self) -> None:
        """Open the store (and, for a local node, start its threads)."""
        ...

    def stop(self, grace: float | None = None) -> list[int]:
        """Stop what :meth:`start` began; return the ids of tasks released unfinished
        (``grace`` None: the configured grace period; 0: release at once)."""
        ...

    def snapshot(self) -> Snapshot:
        """An immutable picture of the node: categories, workers, decisions, rates."""
        ...

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Tasks newest first, of one state and one category when given."""
        ...

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        """A page of the tasks a filter matches, over the whole store (keyset-paged)."""
        ...

    def count_tasks(self, query: TaskQuery) -> int:
        """How many tasks a filter matches."""
        ...

    def queue_heads(self) -> dict[str, float]:
        """category -> ``run_at`` of the queued task it claims next (nothing queued: absent)."""
        ...

    def history(self, minutes: int = 60) -> History:
        """Per category, the last ``minutes`` full minutes as the store keeps them, summed
        over every node that wrote them (see ``core/history.py``): what survives restarts."""
        ...

    def get(self, task_id: int) -> TaskRecord:
        """One task; raises :class:`~core.errors.TaskNotFoundError` for an unknown id."""
        ...

    def progress(self, task_id: int) -> TaskProgress | None:
        """The task's latest progress report as stored (None: it made none)."""
        ...

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        """How the task's earlier attempts ended, oldest first, as stored (the final
        attempt's error is the task's own)."""
        ...

    def known_categories(self) -> frozenset[str]:
        """The categories a filter's ``cat:`` may name: configured, or holding tasks."""
        ...

    def nodes(self) -> list[NodeInfo]:
        """Every node that heartbeats into the store: alive, silent or stopped."""
        ...

    def is_paused(self, category: str) -> bool:
        """Whether ``category`` is paused, as stored now (not as of the last snapshot)."""
        ...

    def category_config(self, name: str) -> CategoryConfig:
        """The configured category with the stored operator changes applied."""
        ...

    def set_priority(self, category: str, priority: object) -> float:
        """Store a new priority weight; returns it as validated."""
        ...

    def set_rate(
        self, category: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        """Store a category's rate limit ("20/s"; None or "none" lifts it) for every node;
        returns the limit now in force."""
        ...

    def set_paused(self, category: str, paused: bool) -> None: ...

    def pin(self, category: str, workers: int | None) -> None:
        """Fix the category's worker count (None unpins)."""
        ...

    def rebalance(self) -> None:
        """Ask every node's balancer to run now."""
        ...

    def inject(
        self,
        category: str,
        count: int = 1,
        duration_ms: float = 50.0,
        fail_rate: float = 0.0,
        priority: int = 0,
    ) -> list[int]:
        """Submit ``count`` synthetic tasks into ``category`` at task ``priority`` (0-9);
        returns their ids."""
        ...

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        """Cancel tasks; per id: ``cancelled``, ``requested``, ``terminal`` or ``missing``."""
        ...

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        """Queue failed or cancelled tasks again (None: every failed one); returns the ids
        that were queued."""
        ...

    def retry_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        """Queue again every failed or cancelled task ``query`` matches (``dry_run``: only
        count them)."""
        ...

    def cancel_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        """Cancel every waiting task ``query`` matches; flag the running ones."""
        ...

    def delete_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        """Delete every finished task ``query`` matches; never a live one."""
        ...

    def schedule_infos(self) -> list[ScheduleInfo]:
        """Every recurring schedule, sorted by name: spec, next run, last run and its
        outcome, paused (what ``jobsched schedules`` lists)."""
        ...

    def pause_schedule(self, name: str) -> None:
        """Pause schedule ``name`` for every node on the store (its ticks do not run)."""
        ...

    def resume_schedule(self, name: str) -> None:
        """Resume schedule ``name`` from its next tick, for every node on the store."""
        ...

    def run_schedule_now(self, name: str) -> int:
        """Insert one run of schedule ``name`` now, beside its ticks; returns its task id."""
        ...


NODE_STATE_ORDER = {"alive": 0, "stale": 1, "stopped": 2}


def nodes_of(source: Source, now: float) -> list[dict[str, Any]]:
    """Every node of the source's store, as ``status`` reports it
    (:func:`~console.reports.node_report`, same liveness rule): live nodes first, then by
    host and pid. The nodes screen calls it from a thread worker: it reads the store."""
    interval = source.config.heartbeat_interval
    rows = [reports.node_report(node, now, interval) for node in source.nodes()]
    return sorted(
        rows, key=lambda r: (NODE_STATE_ORDER[r["state"]], r["host"], r["pid"], r["node_id"])
    )
