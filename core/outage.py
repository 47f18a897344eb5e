"""Store outages, told once per change of state, and store calls bounded by a deadline.

- :class:`OutageTracker`: a thread loop that calls the store (the dispatcher, the
  completer, the housekeeper, the workers' start journal, the console's refresh) reports
  each failure and each success to its own tracker, which logs only the changes:
  ``<component>: connection to <location> lost: <reason>``, then at most one
  ``still down after N s (K failed attempts)`` every ``every`` seconds, then
  ``back after N s (K failed attempts)``. Each failure's traceback goes to DEBUG only, so
  a ten-second outage is a few lines at WARNING, not one traceback per retry.
- :func:`call_within`: runs one store call on a daemon thread and waits for it at most a
  given time. A stop uses it for its last writes (releases, outcomes, the final heartbeat,
  closing the store): a connection to a server that does not answer blocks a call with
  no client-side limit, and a stop must end at its deadline even then. A call that does
  not finish in time is left running on its thread (it ends when the process does, or
  when the connection fails) and :class:`CallTimedOutError` is raised.

Standard library only; the clock is injected (tests use a fake one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import JobschedError, StoreUnavailableError

__all__ = ["CallTimedOutError", "OutageTracker", "call_within", "reason_of"]

T = TypeVar("T")

#: Seconds between two "still down" lines of one component.
STILL_DOWN_EVERY = 10.0
_REASON_LIMIT = 300


def reason_of(exc: BaseException) -> str:
    """One line saying why a store call failed: a jobsched error's reason, else the
    exception's type and text."""
    if isinstance(exc, JobschedError) and exc.why:
        text = exc.why
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 3] + "..."


class OutageTracker:
    """Logs the state changes of one component's access to the store.

    Call :meth:`failed` after each failed store call and :meth:`ok` after each one that
    worked; both return the line they logged (for a UI that shows it too), or None.
    Thread-safe: the workers of a node share one tracker.
    """

    def __init__(
        self,
        component: str,
        location: str,
        *,
        logger: logging.Logger | None = None,
        every: float = STILL_DOWN_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
        level: int = logging.WARNING,
    ) -> None:
        self.component = component
        self.location = location
        self.every = every
        self.level = level
        self._log = logger or logging.getLogger("jobsched")
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.attempts = 0  # failed calls in the current outage
        self.failures = 0  # failed calls ever: a caller can tell whether a step failed
        self._next_report = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> str | None:
        """A store call failed: log "lost" the first time, "still down" now and then."""
        now = self._monotonic()
        with self._lock:
            self.attempts += 1
            self.failures += 1
            if self.down_since is None:
                self.down_since = now
                self._next_report = now + self.every
                line = f"connection to {self.location} lost: {reason_of(exc)}"
            elif now >= self._next_report:
                self._next_report = now + self.every
                line = (
                    f"still down after {now - self.down_since:.0f} s "
                    f"({self.attempts} failed attempts): {reason_of(exc)}"
                )
            else:
                line = None
        self._log.debug("%s: store call failed", self.component, exc_info=exc)
        if line is not None:
            self._log.log(self.level, "%s: %s", self.component, line)
        return line

    def ok(self) -> str | None:
        """A store call worked: log "back" if the component was down."""
        if self.down_since is None:  # the common case, without the lock
            return None
        now = self._monotonic()
        with self._lock:
            if self.down_since is None:
                return None
            line = (
                f"connection to {self.location} back after {now - self.down_since:.1f} s "
                f"({self.attempts} failed attempts)"
            )
            self.down_since = None
            self.attempts = 0
        self._log.log(self.level, "%s: %s", self.component, line)
        return line


class CallTimedOutError(StoreUnavailableError):
    """A store call did not return within the time it was given (the server does not
    answer); it may still complete later on its own thread."""


def call_within(fn: Callable[[], T], seconds: float, what: str, location: str) -> T:
    """``fn()``, or :class:`CallTimedOutError` if it has not returned after ``seconds``.

    ``fn`` runs on a new daemon thread, so a call blocked on a silent connection cannot
    hold the caller past its deadline; its exception, if it raises in time, is re-raised.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def body() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=body, name=f"jobsched-bounded-{what}", daemon=True).start()
    if not done.wait(max(0.0, seconds)):
        raise CallTimedOutError(
            what,
            None,
            f"got no answer from {location} within {seconds:.1f} s",
            "It stays undone; the next start, or another node, recovers what it concerned",
        )
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
