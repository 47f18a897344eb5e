"""A real store with storage errors injected at the N-th write.

``FaultyStore(inner, fail_at=N, forever=False, after=False)`` counts calls to the
methods that write; the N-th (and, with ``forever``, every later one until ``clear()``)
raises ``StoreFullError``. With ``after=True`` the write happens first and the error is
raised afterwards, as when a connection drops right after COMMIT.
"""

from __future__ import annotations

import threading
from typing import Any

from jobsched.core.errors import StoreFullError

WRITES = frozenset(
    {
        "recover",
        "insert",
        "insert_claimed",
        "promote_due",
        "claim",
        "finish",
        "release",
        "cancel",
        "retry",
        "save_settings",
        "request_rebalance",
        "add_decision",
        "heartbeat",
    }
)


class FaultyStore:
    def __init__(
        self, inner: Any, fail_at: int, forever: bool = False, after: bool = False
    ) -> None:
        self._inner = inner
        self.fail_at = fail_at
        self.forever = forever
        self.after = after
        self.writes = 0
        self.injected = 0
        self._lock = threading.Lock()
        self._cleared = False

    def clear(self) -> None:
        with self._lock:
            self._cleared = True

    def _should_fail(self) -> bool:
        with self._lock:
            self.writes += 1
            if self._cleared:
                return False
            hit = self.writes == self.fail_at or (self.forever and self.writes > self.fail_at)
            if hit:
                self.injected += 1
            return hit

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            fail = self._should_fail()
            if fail and not self.after:
                raise StoreFullError(
                    "database", self._inner.location, "is full (injected)", "Free some space"
                )
            result = attr(*args, **kwargs)
            if fail:
                raise StoreFullError(
                    "database", self._inner.location, "is full (injected)", "Free some space"
                )
            return result

        return write
