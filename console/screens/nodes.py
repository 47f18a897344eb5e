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
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from ..widgets import format as fmt
from ..widgets.nodes import NodeTable
from .polled import PolledScreen

NodeReport = Mapping[str, Any]


def summary(nodes: Sequence[NodeReport]) -> Text:
    """'3 nodes: 1 alive, 1 stale, 1 stopped · 7 workers on live nodes · 12.5 tasks/s'."""
    states = [n["state"] for n in nodes]
    live = [n for n in nodes if n["state"] == "alive"]
    counts = ", ".join(f"{states.count(s)} {s}" for s in ("alive", "stale", "stopped"))
    workers = sum(sum(n["targets"].values()) for n in live)
    rate = sum(float(n["rate"]) for n in live)
    return Text(
        f"{fmt.counted(len(nodes), 'node')}: {counts} · {workers} workers on live nodes · "
        f"{fmt.rate(rate)} tasks/s"
    )


class NodesScreen(PolledScreen[NodeReport]):
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

    what = "nodes"
    box_title = "Nodes"

    def __init__(
        self, read: Callable[[], Sequence[NodeReport]], refresh_interval: float | None
    ) -> None:
        self.table: NodeTable
        table = NodeTable(id="nodes-table")
        super().__init__(read, refresh_interval, table, Static(id="nodes-note"))

    @on(Read)
    def _show(self, event: Read) -> None:
        event.stop()
        nodes = self.finish_read(event.nodes, event.error)
        if nodes is None:
            return
        self.table.update_nodes(nodes)
        if nodes:
            self.note.update(summary(nodes))
        else:
            self.note.update(Text("no node has written a heartbeat to this store yet", style="dim"))
