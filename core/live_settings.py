"""The operator's persisted category changes, as this node last read them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

from .config import CategoryConfig
from .store import TaskStore
from .task import CategorySettings


def effective_category(cat: CategoryConfig, stored: CategorySettings | None) -> CategoryConfig:
    """The configured category with persisted operator changes applied."""
    if stored is None:
        return cat
    return replace(
        cat,
        priority=stored.priority if stored.priority is not None else cat.priority,
        min_workers=stored.min_workers if stored.min_workers is not None else cat.min_workers,
        max_workers=stored.max_workers if stored.max_workers is not None else cat.max_workers,
    )


class LiveSettings:
    """A cache of the store's category settings, read again by :meth:`reload` when an
    operator changes them here or the store's settings version moves."""

    def __init__(self, store: TaskStore, categories: Mapping[str, CategoryConfig]) -> None:
        self._store = store
        self._categories = categories
        self._lock = threading.Lock()
        self.by_category: dict[str, CategorySettings] = {}
        self.version = -1

    def get(self, category: str) -> CategorySettings:
        return self.by_category.get(category) or CategorySettings()

    def paused(self, category: str) -> bool:
        settings = self.by_category.get(category)
        return bool(settings and settings.paused)

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
        return now - was, was - now
