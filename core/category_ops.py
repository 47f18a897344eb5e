"""The operator's changes to categories, persisted so that every node and restart sees
them: priority weights, pauses, pins, worker limits and rate limits (also handlers' rate
limits, stored as a row of settings named ``handler:NAME``). :class:`~.client.Client`
inherits them; every change is validated first and written the one way :meth:`_save` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .config import CategoryConfig, SchedulerConfig, check_capacity, check_priority
from .engine_hooks import EngineHooks
from .errors import ConfigError, UnknownHandlerError
from .handlers import HandlerSpec
from .limits import NO_LIMIT, UNLIMITED, RateLimit, handler_key, handler_override, parse_rate
from .store import TaskStore
from .task import CategorySettings


class CategoryOperations:
    config: SchedulerConfig
    store: TaskStore
    budget: int
    handlers: dict[str, HandlerSpec]
    _engine: EngineHooks

    def _category(self, name: str) -> CategoryConfig:
        raise NotImplementedError

    def category_config(
        self, name: str, settings: Mapping[str, CategorySettings] | None = None
    ) -> CategoryConfig:
        raise NotImplementedError

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

    def set_rate(
        self, category: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        """Limit how fast ``category``'s tasks start on every node ("20/s", "90/min",
        "1000/h", with at most ``burst`` at once); None or "none" lifts any limit, also a
        configured one. Persisted; returns the limit now in force."""
        limit = parse_rate(rate, burst, f"rate of category {category!r}")
        _, current = self._settings_of(category)
        text, count = (NO_LIMIT, None) if limit is None else (limit.text, limit.burst)
        self._save(category, replace(current, rate=text, burst=count))
        return limit

    def set_handler_rate(
        self, handler: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        """Limit how fast ``handler``'s tasks start on every node, in place of its
        configured or registered limit; None or "none" lifts the operator's limit (the
        configured one applies again), "unlimited" lifts any limit, also the configured
        one. Persisted; returns the limit now in force."""
        spec = self.handlers.get(handler) if isinstance(handler, str) else None
        if spec is None:
            raise UnknownHandlerError(str(handler), self.handlers)
        where = f"rate of handler {handler!r}"
        if isinstance(rate, str) and rate.strip().lower() == UNLIMITED:
            stored = CategorySettings(rate=NO_LIMIT)
        else:
            limit = parse_rate(rate, burst, where)
            stored = CategorySettings(
                rate=None if limit is None else limit.text,
                burst=None if limit is None else limit.burst,
            )
        self._save(handler_key(handler), stored)
        return handler_override(spec.rate_limit, stored)

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
