"""The task list's reads from the store, apart from the snapshot's.

A key that moves the window (a filter, a page, the order, go-to-id, a resize) starts a
read of the new page at once, in a thread worker: it does not wait for the next timer
tick, nor for a snapshot read in flight. One read runs at a time; a move during a read
makes the page read again as soon as it returns, and a read of a window that has moved
since is never shown. The timer re-reads the page now and then through the same path.

Keys typed into the filter come faster than they can be read: a typed filter that is read
row by row is read once no key has come for SETTLE seconds (enter reads it at once), so
typing ``state:failed`` does not scan the table for ``s``, ``st``, ... ``state`` (free
words); a filter an index serves is read at once.

A filter the store evaluates row by row (text, handler, key, creation time: no index
serves them) is read in slices of ids, from the window's start on, until the page is
full: between two slices a read of a window that has moved is given up, and the rows
found so far are shown with how much of the ids is read ("searching… 8 % of the ids"),
so the first matches show after the first slice, however long the whole read takes. The
timer's re-read of such a filter shows only whole results, and waits at least
COST_RATIO times as long as the last read took: a filter that scans the whole table
uses a bounded share of a core, not one read a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from jobsched.core.query import Page, TaskQuery
from jobsched.core.task import TaskRecord

if TYPE_CHECKING:
    from textual.timer import Timer

    from .app import JobschedApp

#: Ids in the first slice of a read row by row; each next slice is twice as wide, up to
#: MAX_SLICE: a few milliseconds of SQLite's time on a quiet machine, tens on a busy one,
#: so that a read of a window that has moved is given up soon, and the last key typed
#: does not wait behind a wide slice of an earlier one.
SLICE = 16_384
MAX_SLICE = 16_384
#: Seconds a typed filter waits for the next key before it is read: longer than the gap
#: between the keys of fast typing or a held key, short enough that a page read by an
#: index shows well within 0.2 s of the last key.
SETTLE = 0.08
#: The timer re-reads the page only after COST_RATIO times the last read's time has
#: passed since it ended (at most 1 / (1 + COST_RATIO) of the time spent reading).
COST_RATIO = 4.0

#: Seconds between two reports of a search's progress that found nothing new.
PROGRESS_EVERY = 0.25
#: What a read in slices reports after each slice: the rows found so far, and the share
#: of the ids it has read (0 to 1).
Progress = Callable[[list[TaskRecord], float], None]


def row_by_row(query: TaskQuery) -> bool:
    """Whether the store reads ``query`` row by row: it names something no index serves,
    and neither states, categories nor ids, which bound the rows it passes."""
    bounded = query.states or query.categories or query.id_ranges
    return not bounded and (
        bool(query.words or query.errors or query.payloads or query.handlers)
        or bool(query.handler_prefixes or query.keys)
        or query.created_since is not None
        or query.created_before is not None
    )


def read_in_slices(
    find: Callable[[Page], list[TaskRecord]],
    page: Page,
    moved: Callable[[], bool],
    progress: Progress | None = None,
) -> list[TaskRecord] | None:
    """``page`` (by ``find``, a store's ``find_tasks``) slice by slice of ids from the
    page's start: the same rows as ``find(page)``; None as soon as ``moved()`` says the
    window has moved since. ``progress`` hears after a slice (not the last) that found
    rows, and every PROGRESS_EVERY seconds: each time, the UI shows them again."""
    ends = [find(Page(TaskQuery(), order, 1)) for order in ("oldest", "newest")]
    if not ends[0] or not ends[1]:
        return []
    low, high = ends[0][0].id, ends[1][0].id
    newest = page.order == "newest"
    if page.after is not None:
        low, high = (low, min(high, page.after - 1)) if newest else (max(low, page.after + 1), high)
    rows: list[TaskRecord] = []
    width = SLICE
    total = max(1, high - low + 1)
    told, told_at = -1, 0.0  # rows found when progress last heard, and when
    while low <= high and len(rows) < page.limit:
        span = (max(low, high - width + 1), high) if newest else (low, min(high, low + width - 1))
        query = replace(page.query, id_ranges=(span,))
        rows += find(Page(query, page.order, page.limit - len(rows)))
        low, high = (low, span[0] - 1) if newest else (span[1] + 1, high)
        width = min(2 * width, MAX_SLICE)
        if moved():
            return None
        if progress is not None and low <= high and len(rows) < page.limit:
            at = time.monotonic()
            if len(rows) != told or at - told_at >= PROGRESS_EVERY:
                progress(list(rows), 1 - (high - low + 1) / total)
                told, told_at = len(rows), at
    return rows


class ListReads:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app
        self.version = 0  # bumped on every move of the window
        self.shown = 0  # reads shown, for tests and the benchmark
        self.started = 0  # reads started, for tests
        #: Whether the rows shown are the whole page (False while a search goes on).
        self.complete = True
        self._reading = False
        self._again = False
        self._settle: Timer | None = None
        self._shown_version = -1  # the window of the last whole page shown
        #: seconds the last read took, and when it ended (time.monotonic): the timer's
        #: re-reads wait COST_RATIO times that long (see periodic)
        self.last_cost = 0.0
        self.last_ended = 0.0

    def moved(self) -> None:
        """The window moved: what is read from now on is of the new window."""
        self.version += 1

    def settle(self) -> None:
        """A key was typed into the filter: read the page once no key has come for SETTLE
        seconds (each key puts the read off again)."""
        if self._settle is not None:
            self._settle.stop()
        self._settle = self.app.set_timer(SETTLE, self._settled, name="filter-settle")

    def flush(self) -> None:
        """Read the page now if a typed filter waits to be read (enter)."""
        if self._settle is not None:
            self.request()

    def postpone(self) -> None:
        """A key was typed that left the filter's query as it was (``state:`` has no value
        yet): a read waiting for the keys to stop waits on."""
        if self._settle is not None:
            self.settle()

    def _settled(self) -> None:
        self._settle = None
        self.request()

    def periodic(self) -> None:
        """The timer's re-read: none while a read is due or in flight, nor until the last
        read's time COST_RATIO times over has passed since it ended."""
        if self._reading or self._settle is not None:
            return
        if time.monotonic() - self.last_ended < COST_RATIO * self.last_cost:
            return
        self.request()

    def request(self) -> None:
        """Read the page in a thread worker now, or right after the read in flight."""
        if self._settle is not None:
            self._settle.stop()
            self._settle = None
        if self._reading:
            self._again = True
            return
        self._reading, self._again = True, False
        self.started += 1
        read = partial(self._read, self.app.window.page, self.version, asyncio.get_running_loop())
        self.app.run_worker(read, thread=True, exit_on_error=False, group="task-list")

    def _read(self, page: Page, version: int, loop: asyncio.AbstractEventLoop) -> None:
        """In the worker thread: the page's rows (None: given up), to the UI thread."""
        rows: list[TaskRecord] | None = None
        error: Exception | None = None
        began = time.monotonic()
        try:
            if row_by_row(page.query):
                moved = partial(self._moved_since, version)
                # a new window's rows show as they are found; a re-read shows whole pages
                new = version != self._shown_version
                found = partial(self._found, loop, version) if new else None
                rows = read_in_slices(self.app.source.find_tasks, page, moved, found)
            else:
                rows = self.app.source.find_tasks(page)
        except Exception as exc:
            error = exc
        self.last_cost = time.monotonic() - began
        with contextlib.suppress(Exception):  # the app is closing
            self.app.call_from_thread(self._done, rows, error, version)

    def _moved_since(self, version: int) -> bool:
        return version != self.version

    def _found(
        self, loop: asyncio.AbstractEventLoop, version: int, rows: list[TaskRecord], share: float
    ) -> None:
        # Not call_from_thread, which waits for the UI to have shown them: the search
        # goes on meanwhile.
        with contextlib.suppress(RuntimeError):  # the app is closing
            loop.call_soon_threadsafe(self._show_part, rows, share, version)

    def _show_part(self, rows: list[TaskRecord], share: float, version: int) -> None:
        """On the UI thread: the rows a search found so far, if its window still shows."""
        if version == self.version:
            self.complete = False
            self.app.show_tasks(rows, f"searching… {share:.0%} of the ids read")

    def _done(self, rows: list[TaskRecord] | None, error: Exception | None, version: int) -> None:
        self._reading = False
        self.last_ended = time.monotonic()
        if error is not None:
            self.app.read_failed(error)
        elif rows is not None and version == self.version:
            self.complete, self._shown_version = True, version
            self.app.show_tasks(rows)
        if (self._again or version != self.version) and self._settle is None:
            self.request()
