"""History by the minute, per category: what survives a restart of every node.

Each node's housekeeper folds what it sees into the minute under way (:class:`Recorder`):
the tasks this node saw succeed and fail (failed for good, whatever the reason: an error
or a timeout on the last attempt, a result too large, no handler, or orphaned by a crash
in a recovery this node made), and, at each count refresh (about once a second), the
category's queued depth and queue latency (the age of the oldest due waiting task); the
most of each sampled in the minute is kept. When the minute is over it hands the store
one row per category that had anything to say (``TaskStore.add_history``): one write per
minute, off the path of every task. A stopping node writes the minute under way.

Rows are keyed by minute, category and node, so nodes sharing a store never write over
each other; reads (``TaskStore.history``) add up the counts of every node and take the
largest depth and latency (each node samples the same store-wide queue). Retention
deletes rows older than ``retention.history`` (``core/retention.py``).

Standard library only; time is the caller's (wall clock, epoch seconds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .errors import InvalidInputError

if TYPE_CHECKING:
    from .store import TaskStore

log = logging.getLogger("jobsched")

#: Seconds in a minute: rows are kept per minute of the wall clock.
MINUTE = 60
#: The longest window a history read may ask for: a year of minutes.
MAX_MINUTES = 366 * 24 * 60
#: Rows a node keeps while the store cannot take them (about two hours of ten busy
#: categories); older ones are dropped, with a warning.
MAX_PENDING = 1200
#: The Metrics counters a minute's ``succeeded`` and ``failed`` add up.
SUCCEEDED_KEYS = ("succeeded",)
FAILED_KEYS = ("failed", "orphaned")


def minute_of(at: float) -> int:
    """The start (epoch seconds, a multiple of 60) of the minute ``at`` falls in."""
    return int(at // MINUTE) * MINUTE


@dataclass(frozen=True, slots=True)
class MinuteStats:
    """One category in one minute: tasks that succeeded and failed, and the deepest queue
    and longest queue latency (seconds; None: nothing waited) sampled in it."""

    category: str
    minute: int
    succeeded: int = 0
    failed: int = 0
    queued: int = 0
    latency: float | None = None

    def merged(self, other: MinuteStats) -> MinuteStats:
        """Two nodes' figures of the same minute: counts added, depth and latency the
        largest."""
        latencies = [x for x in (self.latency, other.latency) if x is not None]
        return replace(
            self,
            succeeded=self.succeeded + other.succeeded,
            failed=self.failed + other.failed,
            queued=max(self.queued, other.queued),
            latency=max(latencies) if latencies else None,
        )

    @property
    def empty(self) -> bool:
        return not (self.succeeded or self.failed or self.queued) and self.latency is None


def combine(rows: Iterable[MinuteStats]) -> list[MinuteStats]:
    """Rows of the same minute and category merged (see :meth:`MinuteStats.merged`),
    ordered by minute, then category: what ``TaskStore.history`` returns."""
    merged: dict[tuple[int, str], MinuteStats] = {}
    for row in rows:
        key = (row.minute, row.category)
        merged[key] = row if key not in merged else merged[key].merged(row)
    return [merged[key] for key in sorted(merged)]


@dataclass(frozen=True)
class History:
    """The minutes from ``start`` (included) to ``end`` (excluded) of every category that
    had anything to say, summed over the nodes: what ``Client.history`` returns."""

    start: int
    end: int
    rows: tuple[MinuteStats, ...] = ()

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // MINUTE

    def series(self, category: str) -> list[MinuteStats]:
        """Every minute of the window for ``category``, oldest first (zeros where no node
        wrote a row)."""
        found = {r.minute: r for r in self.rows if r.category == category}
        return [
            found.get(minute, MinuteStats(category, minute))
            for minute in range(self.start, self.end, MINUTE)
        ]

    def totals(self, category: str, minutes: int | None = None) -> tuple[int, int]:
        """``(succeeded, failed)`` of ``category`` over the window's last ``minutes``
        (None: all of it)."""
        since = self.start if minutes is None else self.end - minutes * MINUTE
        rows = [r for r in self.rows if r.category == category and r.minute >= since]
        return sum(r.succeeded for r in rows), sum(r.failed for r in rows)


def window(now: float, minutes: object) -> tuple[int, int]:
    """``(start, end)`` of the ``minutes`` full minutes before the one ``now`` falls in
    (the minute under way is still being counted: no node has written it yet)."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= MAX_MINUTES:
        raise InvalidInputError(
            "minutes of history",
            minutes,
            f"must be a whole number from 1 to {MAX_MINUTES} (a year)",
            "Ask for e.g. 60, the last hour",
        )
    end = minute_of(now)
    return end - minutes * MINUTE, end


class _Minute:
    """What a node has counted of one category in the minute under way."""

    __slots__ = ("succeeded", "failed", "queued", "latency")

    def __init__(self) -> None:
        self.succeeded = 0
        self.failed = 0
        self.queued = 0
        self.latency: float | None = None


class Recorder:
    """The housekeeper's part of the history: :meth:`sample` at each count refresh,
    :meth:`flush` after it (writes only once a minute is over), :meth:`close` at stop.

    ``totals`` are the node's Metrics counters since it started (category -> counter ->
    number); what moved since the previous sample counts in the minute under way.
    """

    def __init__(self, store: TaskStore, node_id: str, max_pending: int = MAX_PENDING) -> None:
        self._store = store
        self._node_id = node_id
        self._max_pending = max_pending
        self._lock = threading.Lock()  # the housekeeper's thread, and the stop's
        self._minute: int | None = None
        self._closed = False  # by the stop: later samples are left out
        self._current: dict[str, _Minute] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        #: finished minutes not yet written, oldest first
        self.pending: list[MinuteStats] = []
        self.dropped = 0  # rows given up while the store could not take them
        self.written = 0  # rows written since the start

    def sample(
        self,
        now: float,
        totals: Mapping[str, Mapping[str, int]],
        waiting: Mapping[str, tuple[int, float | None]],
    ) -> None:
        """Count what moved in ``totals`` since the last sample, and ``waiting``
        (category -> (queued depth, queue latency or None)), in the minute of ``now``;
        a new minute closes the previous one."""
        minute = minute_of(now)
        with self._lock:
            if self._closed:
                return
            if self._minute is not None and minute > self._minute:
                self._close()
            if self._minute is None or minute > self._minute:
                self._minute = minute  # a clock that stepped back counts on in this one
            for category, per in totals.items():
                done = sum(per.get(key, 0) for key in SUCCEEDED_KEYS)
                failed = sum(per.get(key, 0) for key in FAILED_KEYS)
                before = self._seen.get(category, (0, 0))
                self._seen[category] = (done, failed)
                entry = self._current.setdefault(category, _Minute())
                entry.succeeded += max(0, done - before[0])
                entry.failed += max(0, failed - before[1])
            for category, (depth, latency) in waiting.items():
                entry = self._current.setdefault(category, _Minute())
                entry.queued = max(entry.queued, depth)
                if latency is not None:
                    entry.latency = max(entry.latency or 0.0, latency)

    def close(self) -> None:
        """End the minute under way now, and take no more samples: a stopping node writes
        what it counted, once (a housekeeper step still under way cannot write its minute
        again, with less in it)."""
        with self._lock:
            self._close()
            self._closed = True

    def _close(self) -> None:
        minute, self._minute = self._minute, None
        current, self._current = self._current, {}
        if minute is None:
            return
        for category, m in sorted(current.items()):
            row = MinuteStats(category, minute, m.succeeded, m.failed, m.queued, m.latency)
            if not row.empty:
                self.pending.append(row)
        excess = len(self.pending) - self._max_pending
        if excess > 0:
            del self.pending[:excess]
            self.dropped += excess
            log.warning("history: the store took no rows for a while; dropped %d", excess)

    def flush(self) -> int:
        """Write the finished minutes not yet written, in one store call; return how many
        rows. A store error propagates and the rows are kept for the next try (writing a
        row again replaces it: a retry after a doubtful commit counts nothing twice)."""
        with self._lock:
            rows = list(self.pending)
        if not rows:
            return 0
        self._store.add_history(self._node_id, rows)
        written = set(rows)
        with self._lock:  # by identity: the stop may have closed a minute meanwhile
            self.pending = [row for row in self.pending if row not in written]
            self.written += len(rows)
        return len(rows)
