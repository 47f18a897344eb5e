"""Which window of the store the task list shows: the filter, the order and the page.

Pure state, kept by the app and read by its refresh: a keyset :class:`~core.query.Page`
over every task the filter matches (not over the newest rows), newest or oldest first,
with a stack of the pages before so that ``[`` goes back exactly. A page is as many rows
as the task list shows at once (:meth:`TaskWindow.resize`): only what is seen is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobsched.core.errors import QueryError
from jobsched.core.query import Order, Page, TaskQuery, parse

#: Rows per page until the task list has a size (then: the rows it shows at once).
PAGE_SIZE = 50


@dataclass
class TaskWindow:
    text: str = ""
    query: TaskQuery = TaskQuery()
    order: Order = "newest"
    after: int | None = None  # the page starts after this id (in ``order``)
    before: list[int | None] = field(default_factory=list)  # ``after`` of earlier pages
    error: str | None = None  # the filter text does not parse: the list keeps the last query
    size: int = PAGE_SIZE
    #: The categories ``cat:`` may name (configured, or holding tasks), as last read from
    #: the source; None until then (no ``cat:`` value is refused).
    categories: frozenset[str] | None = None

    @property
    def page(self) -> Page:
        return Page(self.query, self.order, self.size, self.after)

    @property
    def number(self) -> int:
        return len(self.before) + 1

    def set_filter(self, text: str, now: float) -> bool:
        """Parse ``text``; on success start at the first page. Returns whether the query
        changed; a bad filter keeps the current query and sets :attr:`error`."""
        try:
            query = parse(text, now, self.categories)
        except QueryError as exc:
            self.text, self.error = text, exc.message
            return False
        self.text, self.error = text, None
        if query == self.query:
            return False
        self.query = query
        self._first()
        return True

    def know_categories(self, categories: frozenset[str], now: float) -> bool:
        """Take the categories read from the source. A filter refused meanwhile is parsed
        again (a category may have come to hold tasks); one in force is left as it is.
        Returns whether the filter's query or error changed."""
        if categories == self.categories:
            return False
        self.categories = categories
        if self.error is None:
            return False
        error = self.error
        return self.set_filter(self.text, now) or self.error != error

    def resize(self, rows: int) -> bool:
        """Make a page ``rows`` long (at least one), starting where it starts; returns
        whether that changed the page."""
        rows = max(1, rows)
        if rows == self.size:
            return False
        self.size = rows
        return True

    def toggle_order(self) -> Order:
        self.order = "oldest" if self.order == "newest" else "newest"
        self._first()
        return self.order

    def next_page(self, shown: list[int]) -> bool:
        """Move past the last of ``shown`` (the ids on screen, in order) if the page is full."""
        if len(shown) < self.size:
            return False
        self.before.append(self.after)
        self.after = shown[-1]
        return True

    def previous_page(self) -> bool:
        if not self.before:
            return False
        self.after = self.before.pop()
        return True

    def go_to(self, task_id: int) -> None:
        """Start the page at ``task_id`` (it comes first, if the filter matches it)."""
        self.before = [None] if task_id else []
        self.after = self.page_at(task_id).after

    def page_at(self, task_id: int) -> Page:
        """The page :meth:`go_to` moves to (read before moving there)."""
        after = task_id + 1 if self.order == "newest" else task_id - 1
        return Page(self.query, self.order, self.size, after)

    def _first(self) -> None:
        self.after = None
        self.before = []

    def describe(self) -> str:
        """The task panel's title: order and page."""
        order = "newest first" if self.order == "newest" else "oldest first"
        return f"Tasks · {order} · page {self.number}"
