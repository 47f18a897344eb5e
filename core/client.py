"""Submitting and steering through the store, without running any worker.

The CLI uses a :class:`Client` in processes that are not the node; the
:class:`~jobsched.core.scheduler.Scheduler` composes one and tells it, through the
:class:`EngineHooks` it injects, about nothing but what the engine must react to. Everything
written here is validated first: a rejected input raises a typed error and stores nothing.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import bulk, synthetic
from .clock import Clock, SystemClock
from .config import (
    CategoryConfig,
    SchedulerConfig,
    check_capacity,
    check_name,
    check_priority,
    check_seconds,
)
from .engine_hooks import Detached, EngineHooks
from .errors import ConfigError, TaskNotFoundError, UnknownCategoryError, UnknownHandlerError
from .handle import TaskHandle
from .handlers import HandlerFn, HandlerSpec, registered_in
from .live_settings import effective_category
from .payload import check_dedup_key, check_submit_item, encode_payload, resolve_run_at
from .query import Page, TaskQuery
from .store import TaskStore
from .task import CategorySettings, NewTask, NodeInfo, TaskRecord
from .waiters import Waiters

log = logging.getLogger("jobsched")

#: One item of ``submit_many``: ``(handler, payload)`` or ``(handler, payload, options)``.
SubmitItem = tuple[str, Any] | tuple[str, Any, Mapping[str, Any]]


def import_handler_modules(modules: Iterable[str]) -> None:
    """Import the configured handler modules; any way one fails to import (an ImportError,
    a SyntaxError, an exception it raises, even ``sys.exit()``) is a ConfigError naming
    the module and what went wrong."""
    for module in modules:
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a module may raise anything
            raise ConfigError(
                "handlers module",
                module,
                f"cannot be imported ({type(exc).__name__}: {exc})",
                "Fix the module or check the [scheduler] handlers list",
            ) from exc


class Client:
    """Validates and writes tasks and operator changes to a store."""

    def __init__(
        self,
        config: SchedulerConfig,
        store: TaskStore,
        clock: Clock | None = None,
        *,
        engine: EngineHooks | None = None,
        waiters: Waiters | None = None,
    ) -> None:
        self.config = config.validate()
        #: The node's worker budget; starts as ``config.workers``, see ``set_workers``.
        self.budget = config.workers
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self._engine: EngineHooks = engine or Detached(self.config.poll_interval)
        self._waiters = waiters or Waiters()
        self.handlers: dict[str, HandlerSpec] = {}
        import_handler_modules(config.handlers)
        for spec in registered_in(config.handlers):
            self._add_handler(spec)
        first = next(iter(self.config.categories))
        self.handlers[synthetic.NAME] = synthetic.spec(first)

    # --- handlers --------------------------------------------------------------------
    def handler(
        self,
        name: str,
        *,
        category: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Register ``fn`` under ``name`` for this scheduler only."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            self._add_handler(HandlerSpec.of(name, fn, category, max_attempts, timeout))
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
        self.handlers[spec.name] = replace(spec, category=category)

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
    ) -> NewTask:
        """Validate one submit and return the row to insert (raises, storing nothing)."""
        spec = self.handlers.get(handler) if isinstance(handler, str) else None
        if spec is None:
            check_name("handler", handler)
            raise UnknownHandlerError(handler, self.handlers)
        category = category if category is not None else spec.category
        assert category is not None
        cat = self._category(category)
        text = encode_payload(payload)
        when = resolve_run_at(self.clock.now(), delay, run_at)
        key = check_dedup_key(key)
        attempts = (
            max_attempts if max_attempts is not None else spec.max_attempts or cat.max_attempts
        )
        limit = (
            timeout
            if timeout is not None
            else spec.timeout
            if spec.timeout is not None
            else cat.timeout
        )
        if max_attempts is not None or timeout is not None:
            # Only the caller's own values need checking: the handler's and the
            # category's were checked when they were registered and configured.
            HandlerSpec(handler, spec.fn, category, attempts, limit).validate()
        return NewTask(handler, category, text, when, attempts, limit, key)

    def submit(self, handler: str, payload: Any = None, **options: Any) -> TaskHandle:
        """Validate, insert (committed) and return a handle. Options: category, delay,
        run_at, key, max_attempts, timeout."""
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
        raises WaitTimeoutError after ``timeout`` seconds."""
        check_seconds("timeout", timeout, allow_none=True, allow_zero=True)
        return self._waiters.wait(self.store, self.clock, task_id, timeout, self._engine.wait_poll)

    # --- operator changes (persisted; every node picks them up) ------------------------
    def _settings_of(self, category: str) -> tuple[dict[str, CategorySettings], CategorySettings]:
        """Every category's stored settings (one read) and ``category``'s own."""
        self._category(category)
        settings = self.store.load_settings()
        return settings, settings.get(category) or CategorySettings()

    def _save(self, category: str, changed: CategorySettings) -> None:
        """The one way an operator change is written: save, then let the engine reload
        its settings once and rebalance."""
        self.store.save_settings(category, changed)
        self._engine.settings_changed()

    def set_priority(self, category: str, priority: object) -> float:
        weight = check_priority(priority, category)
        _, current = self._settings_of(category)
        self._save(category, replace(current, priority=weight))
        return weight

    def set_paused(self, category: str, paused: bool) -> None:
        _, current = self._settings_of(category)
        self._save(category, replace(current, paused=paused))

    def pin(self, category: str, workers: int | None) -> None:
        """Fix a category's worker count (None unpins). Rejected if the budget cannot fit it."""
        settings, current = self._settings_of(category)
        if workers is not None:
            if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
                raise ConfigError("pin", workers, "must be a whole number >= 0", "Use e.g. 2")
            pins = {n: s.pinned for n, s in settings.items() if s.pinned is not None}
            pins[category] = workers
            cats = {n: self.category_config(n, settings) for n in self.config.categories}
            check_capacity(self.budget, cats, pins)
        self._save(category, replace(current, pinned=workers))

    def set_limits(
        self, category: str, min_workers: int | None = None, max_workers: int | None = None
    ) -> CategoryConfig:
        """Change a category's minimum and maximum workers at run time (None: as
        configured). Persisted; rejected, keeping the old limits, if they are not valid or
        the budget cannot fit them. Returns the category as it now is."""
        settings, stored = self._settings_of(category)
        changed = replace(stored, min_workers=min_workers, max_workers=max_workers)
        settings[category] = changed
        cats = {n: self.category_config(n, settings) for n in self.config.categories}
        cats[category].validate(category, self.budget)
        pins = {n: s.pinned for n, s in settings.items() if s.pinned is not None}
        check_capacity(self.budget, cats, pins)
        self._save(category, changed)
        return cats[category]

    def rebalance(self) -> None:
        """Ask every node of the store to run its balancer now."""
        self.store.request_rebalance()

    def inject(
        self, category: str, count: int = 1, duration_ms: float = 50.0, fail_rate: float = 0.0
    ) -> list[int]:
        """Submit ``count`` synthetic jobs into ``category`` in one transaction."""
        self._category(category)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1_000_000:
            raise ConfigError(
                "count", count, "must be a whole number from 1 to 1,000,000", "Use e.g. 100"
            )
        if not isinstance(duration_ms, (int, float)) or not 0 <= duration_ms <= 3_600_000:
            raise ConfigError(
                "duration_ms", duration_ms, "must be 0 to 3,600,000 ms", "Use e.g. 50"
            )
        if not isinstance(fail_rate, (int, float)) or not 0 <= fail_rate <= 1:
            raise ConfigError("fail_rate", fail_rate, "must be between 0 and 1", "Use e.g. 0.1")
        payload = {"duration_ms": duration_ms, "fail_rate": fail_rate}
        row = self.build_task(synthetic.NAME, payload, category=category)
        return self.insert([row] * count)

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        # Once per id: a repeat would overwrite the first answer ("cancelled") with
        # "terminal", and waiters would not be woken.
        answers = self.store.cancel(list(dict.fromkeys(ids)), self.clock.now())
        self._engine.cancel_answered(answers)
        return answers

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        done = self.store.retry(None if ids is None else list(ids), self.clock.now())
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

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        """A page of the tasks a filter matches, over the whole store."""
        return self.store.find_tasks(page)

    def count_tasks(self, query: TaskQuery) -> int:
        return self.store.count_tasks(query)

    def queue_heads(self) -> dict[str, float]:
        """category -> ``run_at`` of the next task it claims, for every configured one."""
        return self.store.queue_heads(list(self.config.categories))

    def get(self, task_id: int) -> TaskRecord:
        row = self.store.get(task_id)
        if row is None:
            raise TaskNotFoundError(task_id)
        return row

    # --- reading what the store holds (for the CLI and the console) --------------------
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
        return self.store.load_settings()

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        """The balancer's decisions of every node, newest first."""
        return self.store.recent_decisions(limit)

    def nodes(self) -> list[NodeInfo]:
        """Every node's latest heartbeat, alive, silent or stopped."""
        return self.store.nodes()
