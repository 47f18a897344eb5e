"""The task list's reads from the store, apart from the snapshot's.

A key that moves the window (a filter, a page, the order, go-to-id, a resize) starts a
read of the new page at once, in a thread worker: it does not wait for the next timer
tick, nor for a snapshot read in flight. One read runs at a time; a move during a read
makes the page read again as soon as it returns, and a read of a window that has moved
since is never shown. The timer re-reads the page now and then through the same path.

A filter the store evaluates row by row (text, handler, key, creation time: no index
serves them) is read in slices of ids, from the window's start on, until the page is
full: between two slices a read of a window that has moved is given up. So typing a
filter, whose every key moves the window (``s``, ``st``, ... are free words, each
reading the whole table for nothing), never makes the last key wait for a whole read of
an earlier one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from jobsched.core.query import Page, TaskQuery
from jobsched.core.task import TaskRecord

if TYPE_CHECKING:
    from .app import JobschedApp

#: Ids in the first slice of a read row by row; each next slice is twice as wide, up to
#: MAX_SLICE (a few tens of milliseconds of SQLite's time at most).
SLICE = 16_384
MAX_SLICE = 65_536


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
    find: Callable[[Page], list[TaskRecord]], page: Page, moved: Callable[[], bool]
) -> list[TaskRecord] | None:
    """``page`` (by ``find``, a store's ``find_tasks``) slice by slice of ids from the
    page's start: the same rows as ``find(page)``; None as soon as ``moved()`` says the
    window has moved since."""
    ends = [find(Page(TaskQuery(), order, 1)) for order in ("oldest", "newest")]
    if not ends[0] or not ends[1]:
        return []
    low, high = ends[0][0].id, ends[1][0].id
    newest = page.order == "newest"
    if page.after is not None:
        low, high = (low, min(high, page.after - 1)) if newest else (max(low, page.after + 1), high)
    rows: list[TaskRecord] = []
    width = SLICE
    while low <= high and len(rows) < page.limit:
        span = (max(low, high - width + 1), high) if newest else (low, min(high, low + width - 1))
        query = replace(page.query, id_ranges=(span,))
        rows += find(Page(query, page.order, page.limit - len(rows)))
        low, high = (low, span[0] - 1) if newest else (span[1] + 1, high)
        width = min(2 * width, MAX_SLICE)
        if moved():
            return None
    return rows


class ListReads:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app
        self.version = 0  # bumped on every move of the window
        self.shown = 0  # reads shown, for tests and the benchmark
        self._reading = False
        self._again = False

    def moved(self) -> None:
        """The window moved: what is read from now on is of the new window."""
        self.version += 1

    def request(self) -> None:
        """Read the page in a thread worker now, or right after the read in flight."""
        if self._reading:
            self._again = True
            return
        self._reading, self._again = True, False
        read = partial(self._read, self.app.window.page, self.version)
        self.app.run_worker(read, thread=True, exit_on_error=False, group="task-list")

    def _read(self, page: Page, version: int) -> None:
        """In the worker thread: the page's rows (None: given up), to the UI thread."""
        rows: list[TaskRecord] | None = None
        error: Exception | None = None
        try:
            if row_by_row(page.query):
                moved = partial(self._moved_since, version)
                rows = read_in_slices(self.app.source.find_tasks, page, moved)
            else:
                rows = self.app.source.find_tasks(page)
        except Exception as exc:
            error = exc
        with contextlib.suppress(Exception):  # the app is closing
            self.app.call_from_thread(self._done, rows, error, version)

    def _moved_since(self, version: int) -> bool:
        return version != self.version

    def _done(self, rows: list[TaskRecord] | None, error: Exception | None, version: int) -> None:
        self._reading = False
        if error is not None:
            self.app.read_failed(error)
        elif rows is not None and version == self.version:
            self.app.show_tasks(rows)
        if self._again or version != self.version:
            self.request()
