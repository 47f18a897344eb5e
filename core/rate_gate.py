"""The engine's side of rate limits: which categories are limited (by their own limit or
a limited handler's), the claim through the store's buckets, and the categories held back
until their next token (the dispatcher sleeps until then and claims again; nothing spins).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .claim_plan import ClaimLimits
from .limits import handler_key, limiter_key

if TYPE_CHECKING:
    from .limits import RateLimit
    from .live_settings import LiveSettings
    from .store import TaskStore
    from .task import TaskRecord


class RateGate:
    def __init__(
        self,
        settings: LiveSettings,
        monotonic: Callable[[], float],
        wake_at: Callable[[float], None],
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self._wake_at = wake_at  # the dispatcher's timer: wake at this monotonic time
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # category -> monotonic time of its next token
        self._cache: tuple[object, dict[str, ClaimLimits]] = (None, {})

    def limits_for(self, category: str) -> ClaimLimits | None:
        """The buckets a claim of ``category`` draws on; None when it is not limited."""
        return self._all().get(category)

    def is_limited(self, category: str) -> bool:
        return category in self._all()

    def limited(self) -> set[str]:
        return set(self._all())

    def _all(self) -> dict[str, ClaimLimits]:
        """Per limited category, its buckets: worked out again when the settings are read
        again or a handler is registered (the dispatcher asks on every claim). A handler's
        limit is the operator's (stored as ``handler:NAME``) if there is one."""
        settings = self._settings
        specs = settings.handlers
        key = (settings.version, id(settings.limits), len(specs))
        if self._cache[0] == key:
            return self._cache[1]
        handlers: dict[str, tuple[str | None, RateLimit]] = {}
        for name, spec in specs.items():
            limit = settings.handler_limit(name)
            if limit is not None:
                handlers[name] = (spec.category, limit)
        found: dict[str, ClaimLimits] = {}
        for category, limit in settings.limits.items():
            own = {h: (handler_key(h), lim) for h, (c, lim) in handlers.items() if c == category}
            if limit is not None or own:
                bucket = None if limit is None else (limiter_key(category), limit)
                found[category] = ClaimLimits(bucket, own)
        self._cache = (key, found)
        return found

    def claim(
        self, store: TaskStore, category: str, room: int, owner: str, now: float
    ) -> list[TaskRecord]:
        """Claim up to ``room`` tasks of a limited category through the store's buckets;
        if some were held back, wake the dispatcher when the next token comes."""
        limits = self.limits_for(category)
        assert limits is not None
        claimed = store.claim_limited(category, room, owner, now, limits)
        with self._lock:
            if claimed.wait is None:
                self._held.pop(category, None)
                return claimed.tasks
            until = self._held[category] = self._monotonic() + claimed.wait
        self._wake_at(until)
        return claimed.tasks

    def due(self) -> set[str]:
        """Categories whose next token has come: claim for them again."""
        mono = self._monotonic()
        with self._lock:
            return {c for c, until in self._held.items() if until <= mono}

    def held(self) -> frozenset[str]:
        """The categories whose limits hold back waiting tasks now (for the console)."""
        limited = self.limited()
        with self._lock:
            return frozenset(c for c in self._held if c in limited)
