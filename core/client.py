"""Submitting and steering through the store, without running any worker.

The CLI uses a :class:`Client` in processes that are not the node; the
:class:`~jobsched.core.scheduler.Scheduler` composes one and tells it, through the
:class:`EngineHooks` it injects, about nothing but what the engine must react to. Everything
written here is validated first: a rejected input raises a typed error and stores nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import bulk, synthetic
from .catalog import Catalog, Directory, Resolved
from .category_ops import CategoryOperations
from .client_reads import StoreReads
from .clock import Clock, SystemClock
from .commits import CommitFeed
from .config import (
    MAX_ATTEMPTS,
    CategoryConfig,
    SchedulerConfig,
    check_int,
    check_name,
    check_seconds,
)
from .engine_hooks import Detached, EngineHooks
from .errors import ConfigError, TaskNotFoundError, UnknownCategoryError, UnknownHandlerError
from .handle import TaskHandle
from .handlers import HandlerFn, HandlerSpec, import_handler_modules, registered_in
from .live_settings import effective_category
from .payload import (
    check_dedup_key,
    check_submit_item,
    check_task_id,
    check_task_priority,
    encode_payload,
    resolve_run_at,
)
from .query import TaskQuery
from .schedule_book import ScheduleBook, ScheduleMethods
from .store import TaskStore
from .task import CategorySettings, NewTask, TaskRecord
from .waiters import Waiters

log = logging.getLogger("jobsched")

#: One item of ``submit_many``: ``(handler, payload)`` or ``(handler, payload, options)``.
SubmitItem = tuple[str, Any] | tuple[str, Any, Mapping[str, Any]]


class Client(StoreReads, ScheduleMethods, CategoryOperations):
    """Validates and writes tasks and operator changes to a store.

    A node composes one; another process (a web app that only enqueues, the CLI) makes
    one with :meth:`connect`, which needs no handler code.
    """

    @classmethod
    def connect(
        cls,
        db: str | os.PathLike[str] | TaskStore,
        *,
        validate: str = "nodes",
        config: SchedulerConfig | None = None,
        clock: Clock | None = None,
    ) -> Client:
        """A producer's client: submits by handler name, waits for results, without
        importing any handler. ``db``: a path or URL (opened here, closed by
        :meth:`close`) or an open store. ``validate="nodes"`` accepts the handlers and
        categories the live nodes publish in their heartbeats; ``"none"`` accepts any
        well-formed name (category: the part before the dot). ``config`` is needed only
        for operator changes (priority, pause, pins, limits, inject)."""
        from .producer import connect

        return connect(cls, db, validate=validate, config=config, clock=clock)

    def close(self) -> None:
        """Close the commit watch, and the store if :meth:`connect` opened it."""
        if self._feed is not None:
            self._feed.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __init__(
        self,
        config: SchedulerConfig,
        store: TaskStore,
        clock: Clock | None = None,
        *,
        engine: EngineHooks | None = None,
        waiters: Waiters | None = None,
        directory: Directory | None = None,
        configured: bool = True,
        owns_store: bool = False,
    ) -> None:
        self.config = config.validate()
        #: The node's worker budget; starts as ``config.workers``, see ``set_workers``.
        self.budget = config.workers
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self._engine: EngineHooks = engine or Detached(self.config.poll_interval)
        self._waiters = waiters or Waiters()
        #: a producer's client (``connect``) resolves names here instead of its handlers
        self._directory = directory
        #: False for a producer's client connected without a config
        self._configured = configured
        self._owns_store = owns_store
        # No node in this process: the store's commits wake waiters.
        self._feed = CommitFeed(store) if engine is None else None
        self.handlers: dict[str, HandlerSpec] = {}
        import_handler_modules(config.handlers)
        for spec in registered_in(config.handlers):
            self._add_handler(spec)
        first = next(iter(self.config.categories))
        self.handlers[synthetic.NAME] = synthetic.spec(first)
        self._schedules = ScheduleBook(
            store, self.clock, self.handlers, lambda h, p, k: self.build_task(h, p, key=k),
            lambda rows, now: self._engine.tasks_inserted(rows, now),
        )  # fmt: skip
        for spec in config.schedules:
            self._schedules.add(spec)

    @property
    def schedules(self) -> ScheduleBook:
        """The recurring schedules this client knows (see core/schedule_book)."""
        return self._schedules

    # --- handlers --------------------------------------------------------------------
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
        """Register ``fn`` under ``name`` for this scheduler only (``rate``: its limit)."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            self._add_handler(
                HandlerSpec.of(name, fn, category, max_attempts, timeout, rate, burst)
            )
            return fn

        return decorate

    def _add_handler(self, spec: HandlerSpec) -> None:
        category = spec.category or spec.name.split(".")[0]
        if category not in self.config.categories:
            raise ConfigError(
                f"handler {spec.name!r}: category",
                category,
                "is not configured",
                f"Add [categories.{category}] or pass category= one of {', '.join(sorted(self.config.categories))}",
            )
        self.handlers[spec.name] = spec.placed(category, self.config.handler_limits.get(spec.name))

    # --- categories ------------------------------------------------------------------
    def category_config(
        self, name: str, settings: Mapping[str, CategorySettings] | None = None
    ) -> CategoryConfig:
        """The configured category with persisted operator changes applied (``settings``:
        as already read; default: read from the store)."""
        cat = self._category(name)
        stored = (settings if settings is not None else self.store.load_settings()).get(name)
        return effective_category(cat, stored)

    def _category(self, name: str) -> CategoryConfig:
        if not self._configured:
            raise ConfigError(
                "category",
                name,
                "is not configured in this client (it was connected without a config)",
                "Pass config= to Client.connect to change categories",
            )
        try:
            return self.config.categories[name]
        except KeyError:
            raise UnknownCategoryError(str(name), self.config.categories) from None

    # --- submitting ------------------------------------------------------------------
    def build_task(
        self,
        handler: str,
        payload: Any = None,
        *,
        category: str | None = None,
        delay: float = 0,
        run_at: Any = None,
        key: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        priority: int = 0,
    ) -> NewTask:
        """Validate one submit and return the row to insert (raises, storing nothing)."""
        where = self._resolve(handler, category)
        text = encode_payload(payload)
        when = resolve_run_at(self.clock.now(), delay, run_at)
        key = check_dedup_key(key)
        priority = check_task_priority(priority)
        attempts = max_attempts if max_attempts is not None else where.max_attempts
        limit = timeout if timeout is not None else where.timeout
        if max_attempts is not None:
            # Only the caller's own values need checking: the handler's and the
            # category's were checked when they were registered and configured.
            check_int(f"max_attempts of handler {handler!r}", attempts, 1, MAX_ATTEMPTS)
        if timeout is not None:
            check_seconds(f"timeout of handler {handler!r}", limit, allow_none=True)
        return NewTask(handler, where.category, text, when, attempts, limit, key, priority)

    def _resolve(self, handler: str, category: str | None) -> Resolved:
        """What submitting ``handler`` (into ``category``) means, or a typed refusal."""
        if self._directory is not None:
            return self._directory.resolve(handler, category)
        spec = self.handlers.get(handler) if isinstance(handler, str) else None
        if spec is None:
            check_name("handler", handler)
            raise UnknownHandlerError(handler, self.handlers)
        name = category if category is not None else spec.category
        assert name is not None
        cat = self._category(name)
        attempts = spec.max_attempts or cat.max_attempts
        return Resolved(name, attempts, spec.timeout if spec.timeout is not None else cat.timeout)

    def catalog(self) -> Catalog:
        """The handlers and categories this client knows, as a node's heartbeat publishes
        them for producers' clients."""
        return Catalog.of(self.handlers.values(), self.config.categories)

    def submit(self, handler: str, payload: Any = None, **options: Any) -> TaskHandle:
        """Validate, insert (committed) and return a handle. Options: category, delay,
        run_at, key, max_attempts, timeout, priority (0-9, higher is claimed first within
        the category)."""
        return TaskHandle(self, self.insert([self.build_task(handler, payload, **options)])[0])

    def submit_many(self, items: Sequence[SubmitItem]) -> list[int]:
        """Validate every item first, then insert all in one transaction; returns the ids."""
        rows = []
        # Items without options differ only in their payload: the handler, category,
        # attempts, timeout and (due now) run_at are worked out once per handler.
        plain: dict[str, NewTask] = {}
        for index, item in enumerate(items):
            check_submit_item(item, index)
            if len(item) == 2 and isinstance(item[0], str):
                row = plain.get(item[0])
                if row is None:
                    row = plain[item[0]] = self.build_task(item[0], None)
                payload = encode_payload(item[1])
                rows.append(NewTask(row.handler, row.category, payload, row.run_at,
                                    row.max_attempts, row.timeout))  # fmt: skip
                continue
            options: Mapping[str, Any] = item[2] if len(item) > 2 else {}
            rows.append(self.build_task(item[0], item[1], **options))
        return self.insert(rows)

    def insert(self, rows: Sequence[NewTask]) -> list[int]:
        """Insert validated rows in one transaction (or hand them to the engine)."""
        if not rows:
            return []
        ids = self._engine.insert_direct(rows)
        if ids is not None:
            return ids
        # One "now" for the store and the engine: a row the store made `scheduled` must
        # get a timer entry even if the clock moved past its run_at during the write.
        now = self.clock.now()
        ids = self._engine.insert_queued(rows, now, lambda: self.store.insert(rows, now))
        self._engine.tasks_inserted(rows, now)
        return ids

    def wait(self, task_id: int, timeout: float | None = None) -> TaskRecord:
        """Block until the task is terminal (any terminal state) and return its record;
        raises WaitTimeoutError after ``timeout`` seconds. With no node in this process,
        the store's commits wake the wait (see ``core/commits.py``)."""
        check_task_id(task_id)
        check_seconds("timeout", timeout, allow_none=True, allow_zero=True)
        if self._feed is not None:
            return self._feed.wait_terminal(self.clock, task_id, timeout)
        return self._waiters.wait(self.store, self.clock, task_id, timeout, self._engine.wait_poll)

    def result(self, task_id: int, timeout: float | None = None) -> Any:
        """The handler's return value of task ``task_id``, once it ends; raises
        TaskFailedError / TaskCancelledError / WaitTimeoutError."""
        return TaskHandle(self, check_task_id(task_id)).result(timeout)

    def rebalance(self) -> None:
        """Ask every node of the store to run its balancer now."""
        self.store.request_rebalance()

    def inject(
        self,
        category: str,
        count: int = 1,
        duration_ms: float = 50.0,
        fail_rate: float = 0.0,
        priority: int = 0,
    ) -> list[int]:
        """Submit ``count`` synthetic jobs into ``category`` in one transaction, at the
        task ``priority`` given (0-9)."""
        self._category(category)
        payload = synthetic.checked_payload(count, duration_ms, fail_rate)
        row = self.build_task(synthetic.NAME, payload, category=category, priority=priority)
        return self.insert([row] * count)

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        # Once per id: a repeat would overwrite the first answer ("cancelled") with
        # "terminal", and waiters would not be woken.
        wanted = [check_task_id(i) for i in dict.fromkeys(ids)]
        answers = self.store.cancel(wanted, self.clock.now())
        self._engine.cancel_answered(answers)
        return answers

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        wanted = None if ids is None else [check_task_id(i) for i in ids]
        done = self.store.retry(wanted, self.clock.now())
        if done:
            self._engine.tasks_requeued()
        return done

    # --- every task a filter matches (``--filter``, the console's bulk keys) -------------
    def retry_matching(self, query: TaskQuery, dry_run: bool = False) -> bulk.BulkResult:
        """Queue again the failed and cancelled tasks ``query`` matches, in batches through
        :meth:`retry` (so a running node wakes its dispatcher as for one task)."""
        return bulk.retry_matching(self.store, query, self.retry, dry_run)

    def cancel_matching(self, query: TaskQuery, dry_run: bool = False) -> bulk.BulkResult:
        """Cancel the waiting tasks ``query`` matches and flag its running ones, in batches
        through :meth:`cancel`."""
        return bulk.cancel_matching(self.store, query, self.cancel, dry_run)

    def delete_matching(self, query: TaskQuery, dry_run: bool = False) -> bulk.BulkResult:
        """Delete the finished tasks ``query`` matches; live ones are counted as skipped."""
        return bulk.delete_matching(self.store, query, dry_run)

    def get(self, task_id: int) -> TaskRecord:
        row = self.store.get(check_task_id(task_id))
        if row is None:
            raise TaskNotFoundError(task_id)
        return row
