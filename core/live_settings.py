"""The operator's persisted category changes, as this node last read them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

from .config import CategoryConfig
from .handlers import HandlerSpec
from .limits import NO_LIMIT, RateLimit, handler_key, handler_override
from .store import TaskStore
from .task import CategorySettings


def effective_category(cat: CategoryConfig, stored: CategorySettings | None) -> CategoryConfig:
    """The configured category with persisted operator changes applied."""
    if stored is None:
        return cat
    rate, burst = cat.rate, cat.burst
    if stored.rate is not None:  # the operator's limit replaces the configured one
        rate, burst = (None, None) if stored.rate == NO_LIMIT else (stored.rate, stored.burst)
    return replace(
        cat,
        priority=stored.priority if stored.priority is not None else cat.priority,
        min_workers=stored.min_workers if stored.min_workers is not None else cat.min_workers,
        max_workers=stored.max_workers if stored.max_workers is not None else cat.max_workers,
        rate=rate,
        burst=burst,
    )


class LiveSettings:
    """A cache of the store's category settings, read again by :meth:`reload` when an
    operator changes them here or the store's settings version moves."""

    def __init__(
        self,
        store: TaskStore,
        categories: Mapping[str, CategoryConfig],
        handlers: Mapping[str, HandlerSpec] | None = None,
    ) -> None:
        self._store = store
        self._categories = categories
        self._lock = threading.Lock()
        self.by_category: dict[str, CategorySettings] = {}
        self.version = -1
        #: category -> its rate limit now (configured, or as the operator changed it)
        self.limits: dict[str, RateLimit | None] = {
            name: cat.rate_limit() for name, cat in categories.items()
        }
        #: the handlers registered now (the client's live dict): their rate limits
        self.handlers: Mapping[str, HandlerSpec] = handlers if handlers is not None else {}

    def get(self, category: str) -> CategorySettings:
        return self.by_category.get(category) or CategorySettings()

    def paused(self, category: str) -> bool:
        settings = self.by_category.get(category)
        return bool(settings and settings.paused)

    def handler_limit(self, name: str) -> RateLimit | None:
        """A registered handler's limit now: the operator's, else its own."""
        spec = self.handlers[name]
        return handler_override(spec.rate_limit, self.by_category.get(handler_key(name)))

    def category(self, name: str) -> CategoryConfig:
        return effective_category(self._categories[name], self.by_category.get(name))

    def reload(self) -> tuple[set[str], set[str]]:
        """Read the settings again; return (categories just paused, just resumed)."""
        version = self._store.settings_version()
        settings = self._store.load_settings()
        with self._lock:
            was = {c for c in self._categories if self.paused(c)}
            self.by_category = settings
            self.version = version
            now = {c for c in self._categories if self.paused(c)}
            self.limits = {name: self.category(name).rate_limit() for name in self._categories}
        return now - was, was - now
