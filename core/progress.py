"""How far a running task got: ``current_task().progress(0.4)`` or
``current_task().progress(done=40, total=100, note="pages")``.

:class:`TaskProgress` is what the store keeps per task (its latest report, with the
attempt that made it). :class:`ProgressReporter` is one attempt's throttle, owned by the
worker running it: a report is written at once when the last write is at least
:data:`PROGRESS_EVERY` seconds old, otherwise kept; the attempt's last report is always
written when the handler returns (so a failed task shows how far it got). A store error
is told to the workers' outage tracker, never raised into the handler.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError, StorageError

if TYPE_CHECKING:
    from .outage import OutageTracker
    from .store import TaskStore

log = logging.getLogger("jobsched")

#: At most one progress write per task per this many seconds (the last one is kept).
PROGRESS_EVERY = 0.25
#: Longest note kept, in characters.
NOTE_LIMIT = 200
_COUNT_LIMIT = 2**63 - 1


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """A task's latest progress report. ``fraction`` is 0..1 (from ``done / total`` when
    counts were given); ``at`` is the wall-clock time of the report."""

    attempt: int
    fraction: float | None
    done: int | None = None
    total: int | None = None
    note: str | None = None
    at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "fraction": self.fraction,
            "done": self.done,
            "total": self.total,
            "note": self.note,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: object) -> TaskProgress | None:
        """Read a report another node wrote into its heartbeat; anything malformed is
        None, never raised."""
        if not isinstance(data, dict):
            return None
        try:
            return make_progress(
                int(data.get("attempt", 0)), data.get("fraction"), data.get("done"),
                data.get("total"), data.get("note"), float(data.get("at", 0.0)),
            )  # fmt: skip
        except (InvalidInputError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        """``40% (40/100 pages)``, ``40%``, ``12 pages``: one short line for tables."""
        parts = []
        if self.fraction is not None:
            parts.append(f"{self.fraction * 100:.0f}%")
        counts = ""
        if self.done is not None:
            counts = f"{self.done}/{self.total}" if self.total is not None else str(self.done)
        detail = " ".join(p for p in (counts, self.note or "") if p)
        if detail:
            parts.append(f"({detail})" if parts else detail)
        return " ".join(parts)


def make_progress(
    attempt: int,
    fraction: object,
    done: object,
    total: object,
    note: object,
    at: float,
) -> TaskProgress:
    """Validate one ``progress()`` call; raise :class:`InvalidInputError` naming the value."""
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise _bad("progress fraction", fraction, "must be a number from 0 to 1")
        if not math.isfinite(fraction) or not 0.0 <= fraction <= 1.0:
            raise _bad("progress fraction", fraction, "must be a number from 0 to 1")
    for name, value in (("done", done), ("total", total)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _COUNT_LIMIT
        ):
            raise _bad(f"progress {name}", value, "must be a whole number, 0 or more")
    if total is not None and done is None:
        raise _bad("progress total", total, "needs done=", "Pass done=N with total=")
    if isinstance(done, int) and isinstance(total, int):
        if done > total or total == 0:
            raise _bad("progress done", done, f"must be at most total ({total}), and total above 0")
        if fraction is None:
            fraction = done / total
    if note is not None and not isinstance(note, str):
        raise _bad("progress note", note, "must be a string")
    if fraction is None and done is None and note is None:
        raise _bad("progress", None, "says nothing", "Pass a fraction, done= (and total=) or note=")
    text = note[:NOTE_LIMIT] if isinstance(note, str) else None
    value = float(fraction) if fraction is not None else None
    return TaskProgress(attempt, value, done, total, text, at)  # type: ignore[arg-type]


def _bad(what: str, value: object, why: str, hint: str = "") -> InvalidInputError:
    return InvalidInputError(
        what, value, why, hint or "e.g. progress(0.4) or progress(done=40, total=100)"
    )


class ProgressReporter:
    """One attempt's progress: the latest report (snapshots read it) and the throttle.

    Called from the handler's thread (or threads it starts); the lock only guards the
    pending report and the time of the last write, never a store call.
    """

    __slots__ = ("_store", "task_id", "attempt", "_now", "_monotonic", "_outage", "_every",
                 "_lock", "_next_write", "_pending", "latest", "writes")  # fmt: skip

    def __init__(
        self,
        store: TaskStore,
        task_id: int,
        attempt: int,
        now: Callable[[], float],
        monotonic: Callable[[], float],
        outage: OutageTracker | None = None,
        every: float = PROGRESS_EVERY,
    ) -> None:
        self._store = store
        self.task_id = task_id
        self.attempt = attempt
        self._now = now
        self._monotonic = monotonic
        self._outage = outage
        self._every = every
        self._lock = threading.Lock()
        self._next_write = 0.0
        self._pending: TaskProgress | None = None
        #: the latest report, written or not
        self.latest: TaskProgress | None = None
        #: store writes made (what the throttle lets through)
        self.writes = 0

    def report(self, fraction: object, done: object, total: object, note: object) -> None:
        progress = make_progress(self.attempt, fraction, done, total, note, self._now())
        mono = self._monotonic()
        with self._lock:
            self.latest = progress
            if mono < self._next_write:
                self._pending = progress
                return
            self._pending = None
            self._next_write = mono + self._every
        self._write(progress)

    def flush(self) -> None:
        """Write the report the throttle held back, if any (the worker calls this when
        the handler returns, before the outcome is handed on)."""
        if self._pending is None:  # the common case (no report held back): no lock
            return
        with self._lock:
            progress, self._pending = self._pending, None
        if progress is not None:
            self._write(progress)

    def _write(self, progress: TaskProgress) -> None:
        try:
            self._store.set_progress(self.task_id, progress)
            self.writes += 1
            if self._outage is not None:
                self._outage.ok()
        except StorageError as exc:  # progress is a courtesy: the task runs on
            if self._outage is not None:
                self._outage.failed(exc)
        except Exception:
            log.exception("could not store the progress of task %d", self.task_id)
