"""The snapshot's reads from the source, apart from the task list's
(:mod:`console.listreads`).

With the timer on, every tick reads the snapshot in a thread worker unless a read is in
flight; every TASKS_EVERY-th tick also the queue heads (and the task list re-reads its
page), and every HISTORY_EVERY-th tick, or at once in a new minute, the history and the
categories a filter may name. An operator change that lands during a read makes the
snapshot read again once it returns (the read in flight may predate the change). What
is read is shown by the app on the UI thread.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import TYPE_CHECKING

from jobsched.core import Snapshot
from jobsched.core.history import History, minute_of

if TYPE_CHECKING:
    from .app import JobschedApp

TASKS_EVERY = 4  # the task list and queue heads are store queries: every 4th tick only
#: The history (a store query; nodes write it once a minute) is read on every 20th tick,
#: and on the first tick of a new minute.
HISTORY_EVERY = 20
#: Minutes of history the charts show: the last four hours.
HISTORY_MINUTES = 240


class SnapshotReads:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app
        self._ticks = 0
        self._history_read: tuple[int, int] | None = None  # (tick, minute) of the last read
        self._fetching = False
        self._fetch_again = False  # an operator change landed during a snapshot read

    def tick(self) -> None:
        """Timer callback: read the snapshot in a thread worker unless a read is in flight;
        every few ticks also the queue heads and the task list."""
        if self._fetching:
            return
        self._ticks += 1
        periodic = self._ticks % TASKS_EVERY == 0
        if periodic:
            self.app.list_reads.periodic()
        self._start_fetch(periodic)

    def request(self) -> None:
        """Read again after an operator change: now, or after the read in flight."""
        if self._fetching:
            self._fetch_again = True
        else:
            self._start_fetch(True)

    def history_shown(self) -> None:
        """A history was read and shown (here or by the app's own read): the next is due
        HISTORY_EVERY ticks from now, or in the next minute."""
        self._history_read = (self._ticks, minute_of(self.app.clock.now()))

    def _start_fetch(self, with_heads: bool) -> None:
        self._fetching, self._fetch_again = True, False
        self.app.run_worker(
            partial(self._fetch, with_heads, self._history_due()),
            thread=True,
            exit_on_error=False,
            group="refresh",
        )

    def _history_due(self) -> bool:
        """Whether this tick reads the history: every HISTORY_EVERY ticks, and at once
        when a new minute began (the nodes write the one that ended)."""
        last = self._history_read
        if last is None or minute_of(self.app.clock.now()) != last[1]:
            return True
        return self._ticks - last[0] >= HISTORY_EVERY

    def _fetch(self, with_heads: bool, with_history: bool = False) -> None:
        source = self.app.source
        snap = heads = history = known = error = None
        try:
            snap = source.snapshot()
            heads = source.queue_heads() if with_heads else None
            if with_history:  # the categories a filter may name change as seldom
                history = source.history(HISTORY_MINUTES)
                known = source.known_categories()
        except Exception as exc:
            error = exc
        with contextlib.suppress(Exception):  # the app is closing
            self.app.call_from_thread(self._fetched, snap, heads, error, history, known)

    def _fetched(
        self,
        snap: Snapshot | None,
        heads: dict[str, float] | None,
        error: Exception | None,
        history: History | None = None,
        known: frozenset[str] | None = None,
    ) -> None:
        self._fetching = False
        if snap is None:
            self.app.read_failed(error or RuntimeError("no snapshot"))
        else:
            self.app.show_snapshot(snap, heads, history, known)
        if self._fetch_again:
            self._start_fetch(True)
