"""Throughput and queue-depth history as sparklines."""

from __future__ import annotations

from collections import deque
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from . import format as fmt


class HistoryPanel(Vertical):
    """Keeps the last ``size`` samples; one sample per console refresh."""

    def __init__(self, size: int = 240, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.throughput: deque[float] = deque([0.0], maxlen=size)
        self.depth: deque[float] = deque([0.0], maxlen=size)
        self._throughput_line = Sparkline([0.0], summary_function=max, id="throughput")
        self._depth_line = Sparkline([0.0], summary_function=max, id="depth")
        self._throughput_label = Label("throughput", classes="history-label")
        self._depth_label = Label("queue depth", classes="history-label")

    def compose(self) -> ComposeResult:
        with Horizontal(classes="history-row"):
            yield self._throughput_label
            yield self._throughput_line
        with Horizontal(classes="history-row"):
            yield self._depth_label
            yield self._depth_line

    def add_sample(self, throughput: float, depth: int) -> None:
        self.throughput.append(throughput)
        self.depth.append(float(depth))
        self._throughput_line.data = list(self.throughput)
        self._depth_line.data = list(self.depth)
        # Fixed-width labels: no layout pass needed.
        self._throughput_label.update(f"throughput {fmt.rate(throughput)}/s", layout=False)
        self._depth_label.update(f"queue depth {fmt.count(depth)}", layout=False)
