"""What the nodes and schedules screens share: a list read from the source off the UI
thread, on opening, on the app's refresh interval and on demand, one read at a time.

A screen subclasses :class:`PolledScreen`, defines its own ``Read`` and ``ReadFailed``
messages (each screen's are distinct types, so the app tells them apart) and handles its
``Read`` by calling :meth:`PolledScreen.finish_read`, which does the bookkeeping and
reports a failure once per distinct error; the screen shows what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..escape import visible

T = TypeVar("T")


class PolledScreen(ModalScreen[None], Generic[T]):
    #: what the screen lists, in messages ("nodes", "schedules"); its box is
    #: ``#<what>-box``, titled ``box_title``, with ``box_keys`` under it
    what = "items"
    box_title = "Items"
    box_keys = "esc to close"
    #: the screen's own messages (set by each subclass)
    Read: Callable[[Sequence[Any] | None, BaseException | None], Message]
    ReadFailed: Callable[[BaseException], Message]

    def __init__(
        self,
        read: Callable[[], Sequence[T]],
        refresh_interval: float | None,
        table: DataTable[Any],
        note: Static,
    ) -> None:
        super().__init__()
        self.read = read
        self.refresh_interval = refresh_interval
        self.table = table
        self.note = note
        self.reads = 0  # finished reads, shown or failed (tests wait on it)
        self._reading = False
        self._again = False
        self._error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id=f"{self.what}-box", classes="dialog") as box:
            box.border_title = self.box_title
            box.border_subtitle = self.box_keys
            yield self.table
            yield self.note

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # not a task: the app's task detail must not see it

    def on_mount(self) -> None:
        self.note.update(Text(f"reading the {self.what}…", style="dim"))
        self.table.focus()
        self.reload()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.reload)

    @property
    def reading(self) -> bool:
        """A read is in flight (or another is due once it ends)."""
        return self._reading or self._again

    def reload(self, changed: bool = False) -> None:
        """Read again, off the UI thread, unless a read is in flight; after a change
        (``changed``) read once more when it ends, so that a read begun before the change
        does not have the last word."""
        if self._reading:
            self._again = self._again or changed
            return
        self._reading = True
        self._read()

    @work(thread=True, exit_on_error=False)
    def _read(self) -> None:
        # post_message is thread-safe and never waits on the UI, unlike call_from_thread.
        try:
            items = self.read()
        except Exception as exc:
            self.post_message(self.Read(None, exc))
        else:
            self.post_message(self.Read(items, None))

    def finish_read(
        self, items: Sequence[T] | None, error: BaseException | None
    ) -> Sequence[T] | None:
        """A read ended: the items to show, or None after a failure (reported to the app
        once per distinct error, and shown in the note)."""
        self._reading = False
        self.reads += 1
        if self._again:
            self._again = False
            self.reload()
        if items is None:
            error = error or RuntimeError(f"no {self.what}")
            if str(error) != self._error:
                self._error = str(error)
                self.post_message(self.ReadFailed(error))
            self.note.update(Text(visible(f"cannot read the {self.what}: {error}"), style="red"))
            return None
        self._error = None
        return items
