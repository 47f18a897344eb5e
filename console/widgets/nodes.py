"""The nodes table: one row per node that heartbeats into the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding

from . import format as fmt
from .table import KeyedTable, Row

STATE_STYLES = {"alive": "bold green", "stale": "yellow", "stopped": "dim"}


class NodeTable(KeyedTable):
    """Takes the node reports of :func:`console.view.nodes_of`; rows are keyed by node id."""

    # A node has no detail view: enter selects the row and nothing more.
    BINDINGS = [Binding("enter", "select_cursor", "Select", show=False)]

    COLUMNS = (
        ("host", "host", 20),
        ("pid", "pid", 8),
        ("state", "state", 7),
        ("heartbeat", "heartbeat", 10),
        ("workers", "workers", 28),
        ("busy", "busy", 5),
        ("done", "done", 8),
        ("rate", "rate/s", 7),
    )
    IMPORTANCE = ("host", "pid", "state", "heartbeat", "busy", "workers", "rate", "done")
    FLEX = {"workers": (3, None), "host": (1, 40)}

    def update_nodes(self, nodes: Sequence[Mapping[str, Any]]) -> None:
        self.sync({n["node_id"]: node_row(n) for n in nodes})


def node_row(node: Mapping[str, Any]) -> Row:
    state = str(node["state"])
    threads = sum(node["workers"].values())
    return (
        Text(str(node["host"])),  # a host name is whatever the machine says: never markup
        str(node["pid"]),
        Text(state, style=STATE_STYLES.get(state, "")),
        f"{fmt.duration(node['heartbeat_age'])} ago",
        Text(fmt.per_category(node["targets"])),
        f"{sum(node['busy'].values())}/{threads}",
        fmt.count(int(node["done"])),
        fmt.rate(float(node["rate"])),
    )
