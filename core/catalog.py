"""What a node runs, published in its heartbeat, and how a producer submits by name.

A node's heartbeat carries its :class:`Catalog` (every handler's name, category and own
limits, and every category's defaults) inside :class:`~.counters.NodeCounters`. A
:class:`~.client.Client` made with ``Client.connect`` has no handler code: it asks a
:class:`NodeDirectory` (``validate="nodes"``: the catalogs of the live nodes) or an
:class:`OpenDirectory` (``validate="none"``: any well-formed name) what a submit means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .config import CategoryConfig, check_name
from .errors import UnknownCategoryError, UnknownHandlerError

if TYPE_CHECKING:
    from .task import NodeInfo

#: A node counts as live while its heartbeat is at most this many heartbeat intervals old
#: (plus a second): the rule of ``status`` and the console, for the default interval.
LIVE_AFTER = 3 * 2.0 + 1.0


@dataclass(frozen=True)
class PublishedHandler:
    """A handler as a node publishes it: its category and its own limits (None: the
    category's)."""

    category: str
    max_attempts: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class PublishedCategory:
    """A category's defaults, as a node publishes them."""

    max_attempts: int
    timeout: float | None = None


@dataclass(frozen=True)
class Catalog:
    """What a node runs: handler name -> :class:`PublishedHandler`, category name ->
    :class:`PublishedCategory`."""

    handlers: dict[str, PublishedHandler] = field(default_factory=dict)
    categories: dict[str, PublishedCategory] = field(default_factory=dict)

    @classmethod
    def of(cls, handlers: Iterable[Any], categories: Mapping[str, CategoryConfig]) -> Catalog:
        """From ``HandlerSpec``s (category resolved) and the configured categories."""
        return cls(
            {h.name: PublishedHandler(h.category, h.max_attempts, h.timeout) for h in handlers},
            {n: PublishedCategory(c.max_attempts, c.timeout) for n, c in categories.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "handlers": {
                n: [h.category, h.max_attempts, h.timeout] for n, h in self.handlers.items()
            },
            "categories": {n: [c.max_attempts, c.timeout] for n, c in self.categories.items()},
        }

    @classmethod
    def from_dict(cls, data: object) -> Catalog:
        """Read what a node (maybe of another version) wrote; anything malformed is left
        out, never raised. A node older than the catalog publishes none."""
        if not isinstance(data, Mapping):
            return cls()
        handlers = {}
        for name, item in _mapping(data.get("handlers")).items():
            if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
                attempts = item[1] if _is_int(item[1]) else None
                timeout = float(item[2]) if _is_number(item[2]) else None
                handlers[str(name)] = PublishedHandler(item[0], attempts, timeout)
        categories = {}
        for name, item in _mapping(data.get("categories")).items():
            if isinstance(item, list) and len(item) == 2 and _is_int(item[0]):
                timeout = float(item[1]) if _is_number(item[1]) else None
                categories[str(name)] = PublishedCategory(item[0], timeout)
        return cls(handlers, categories)


def _mapping(value: object) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class Resolved:
    """What a submit by name means: its category and its default limits."""

    category: str
    max_attempts: int
    timeout: float | None


class Directory(Protocol):
    """Tells a producer's client what a handler name (and category) means, or refuses."""

    def resolve(self, handler: str, category: str | None) -> Resolved: ...


class OpenDirectory:
    """``validate="none"``: any well-formed name; the category defaults to the part of the
    handler's name before the dot, the limits to the caller's options or a category's
    defaults (``CategoryConfig()``)."""

    def resolve(self, handler: str, category: str | None) -> Resolved:
        check_name("handler", handler)
        category = category if category is not None else handler.split(".")[0]
        check_name("category", category)
        defaults = CategoryConfig()
        return Resolved(category, defaults.max_attempts, defaults.timeout)


class NodeDirectory:
    """``validate="nodes"``: the handlers and categories the live nodes publish.

    The live nodes' catalogs are read from the store at most once per ``refresh`` seconds,
    and again at once for a name they do not know (a node may have just started).
    """

    def __init__(
        self,
        nodes: Callable[[], list[NodeInfo]],
        now: Callable[[], float],
        monotonic: Callable[[], float],
        *,
        live_after: float = LIVE_AFTER,
        refresh: float = 2.0,
    ) -> None:
        self._nodes = nodes
        self._now = now
        self._monotonic = monotonic
        self._live_after = live_after
        self._refresh = refresh
        self._catalog = Catalog()
        self._live = 0
        self._read_at: float | None = None

    def catalog(self, fresh: bool = False) -> Catalog:
        """The union of the live nodes' catalogs (the freshest node wins a conflict)."""
        mono = self._monotonic()
        if fresh or self._read_at is None or mono - self._read_at >= self._refresh:
            now = self._now()
            live = [n for n in self._nodes() if not n.stopped
                    and now - n.heartbeat_at <= self._live_after]  # fmt: skip
            handlers: dict[str, PublishedHandler] = {}
            categories: dict[str, PublishedCategory] = {}
            for node in sorted(live, key=lambda n: n.heartbeat_at):
                handlers.update(node.counters.catalog.handlers)
                categories.update(node.counters.catalog.categories)
            self._catalog, self._live, self._read_at = (
                Catalog(handlers, categories),
                len(live),
                mono,
            )
        return self._catalog

    def resolve(self, handler: str, category: str | None) -> Resolved:
        check_name("handler", handler)
        catalog = self.catalog()
        if handler not in catalog.handlers or (
            category is not None and category not in catalog.categories
        ):
            catalog = self.catalog(fresh=True)
        spec = catalog.handlers.get(handler)
        if spec is None:
            raise UnknownHandlerError(handler, catalog.handlers, self._why())
        name = category if category is not None else spec.category
        cat = catalog.categories.get(name)
        if cat is None:
            raise UnknownCategoryError(name, catalog.categories)
        attempts = spec.max_attempts or cat.max_attempts
        timeout = spec.timeout if spec.timeout is not None else cat.timeout
        return Resolved(name, attempts, timeout)

    def _why(self) -> str:
        if not self._live:
            return (
                "no live node publishes its handlers (none is running, or only nodes of an "
                "older jobsched); start a node, or connect with validate='none'"
            )
        return f"none of the {self._live} live node(s) runs a handler of this name"
