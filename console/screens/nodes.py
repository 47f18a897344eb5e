"""The nodes screen: every node that heartbeats into the store, whether alive, stale or
stopped, with its host, pid, heartbeat age, workers per category, busy workers and rate.

The screen does not know the source: the app hands it ``read``, a callable that returns
node reports (:func:`console.view.nodes_of`). Reads run in a thread worker, on opening and
then on the app's refresh interval; a failed read bubbles up as :class:`NodesScreen.ReadFailed`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..escape import visible
from ..widgets import format as fmt
from ..widgets.nodes import NodeTable

NodeReport = Mapping[str, Any]


def summary(nodes: Sequence[NodeReport]) -> Text:
    """'3 nodes: 1 alive, 1 stale, 1 stopped · 7 workers on live nodes · 12.5 tasks/s'."""
    states = [n["state"] for n in nodes]
    live = [n for n in nodes if n["state"] == "alive"]
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("alive", "stale", "stopped"))
    workers = sum(sum(n["targets"].values()) for n in live)
    rate = sum(float(n["rate"]) for n in live)
    plural = "" if len(nodes) == 1 else "s"
    return Text(
        f"{len(nodes)} node{plural}: {counts} · {workers} workers on live nodes · "
        f"{fmt.rate(rate)} tasks/s"
    )


class NodesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,n", "dismiss(None)", "Close", show=True)]

    class Read(Message):
        """A read of the nodes finished: ``nodes`` or the ``error`` it raised."""

        def __init__(self, nodes: Sequence[NodeReport] | None, error: BaseException | None) -> None:
            super().__init__()
            self.nodes = nodes
            self.error = error

    class ReadFailed(Message):
        """The nodes could not be read; bubbles to the app (once per distinct error)."""

        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    def __init__(
        self, read: Callable[[], Sequence[NodeReport]], refresh_interval: float | None
    ) -> None:
        super().__init__()
        self.read = read
        self.refresh_interval = refresh_interval
        self.table = NodeTable(id="nodes-table")
        self.note = Static(id="nodes-note")
        self.reads = 0  # finished reads, shown or failed (tests wait on it)
        self._reading = False
        self._error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="nodes-box", classes="dialog") as box:
            box.border_title = "Nodes"
            box.border_subtitle = "esc to close"
            yield self.table
            yield self.note

    def on_mount(self) -> None:
        self.note.update(Text("reading the nodes…", style="dim"))
        self.table.focus()
        self.reload()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.reload)

    def reload(self) -> None:
        """Read the nodes again, off the UI thread, unless a read is in flight."""
        if self._reading:
            return
        self._reading = True
        self._read()

    @work(thread=True, exit_on_error=False, group="nodes")
    def _read(self) -> None:
        # post_message is thread-safe and never waits on the UI, unlike call_from_thread.
        try:
            nodes = self.read()
        except Exception as exc:
            self.post_message(self.Read(None, exc))
        else:
            self.post_message(self.Read(nodes, None))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # not a task: the app's task detail must not see it

    @on(Read)
    def _show(self, event: Read) -> None:
        event.stop()
        self._reading = False
        self.reads += 1
        if event.nodes is None:
            error = event.error or RuntimeError("no nodes")
            if str(error) != self._error:
                self._error = str(error)
                self.post_message(self.ReadFailed(error))
            self.note.update(Text(visible(f"cannot read the nodes: {error}"), style="red"))
            return
        self._error = None
        self.table.update_nodes(event.nodes)
        if event.nodes:
            self.note.update(summary(event.nodes))
        else:
            self.note.update(Text("no node has written a heartbeat to this store yet", style="dim"))
