"""The history panel: one category's last hours by the minute, as sparklines.

It shows what the store keeps (``core/history.py``, read through ``Source.history``):
tasks that succeeded and failed per minute, and the deepest queue each minute, summed
over every node, so a restarted node or an attached console shows the hours before it
started. The last bar is live: the last 60 seconds as the categories panel counts them
(``done/1m``, ``fail/1m``) and the queue now. It follows the category under the
categories panel's cursor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobsched.core.history import History
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

from . import format as fmt

#: (sparkline id, what it shows): each point is (done, failed, queued) of one minute
LINES = (("done", "done/min"), ("failed", "failed/min"), ("depth", "queued"))

#: A minute's figures as the panel draws them: (done, failed, queued)
Point = tuple[int, int, int]


class HistoryPanel(Vertical):
    """Shows :attr:`history` for :attr:`category`, then the live point; all three are
    set by the screen."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: History | None = None
        self.category: str | None = None
        self.live: dict[str, Point] = {}  # category -> the last 60 s, and the queue now
        self._lines = {key: Sparkline([0.0], summary_function=max, id=key) for key, _ in LINES}
        self._labels = {key: Label(label, classes="history-label") for key, label in LINES}
        self._texts: dict[str, str] = {}  # what each label shows

    def compose(self) -> ComposeResult:
        for key, _ in LINES:
            with Horizontal(classes="history-row"):
                yield self._labels[key]
                yield self._lines[key]

    def on_mount(self) -> None:
        self.border_title = "History"

    def show(
        self,
        history: History | None,
        category: str | None,
        live: Mapping[str, Point] | None = None,
    ) -> None:
        """Draw ``category``: the full minutes of ``history``, then its ``live`` point
        (any of them None: keep the one shown)."""
        if history is not None:
            self.history = history
        if category is not None:
            self.category = category
        if live is not None:
            self.live = dict(live)
        if self.category is None:
            return
        points = self.points(self.category)
        span = "" if self.history is None else f"the last {hours(self.history)}, "
        # Shown on every refresh, mostly as they were: a title or a label set, even to
        # the same text, repaints it (and the title, the whole panel).
        title = f"{self.category}: {span}a bar a minute"
        if self.border_title != title:
            self.border_title = title
        for n, (key, label) in enumerate(LINES):
            values = [point[n] for point in points]
            self._lines[key].data = [float(v) for v in values]
            # Now (as the columns show it), then the most in the window (the chart's top).
            # Fixed-width labels: no layout pass needed.
            text = f"{label} {fmt.count(values[-1])}, max {fmt.count(max(values))}"
            if self._texts.get(key) != text:
                self._texts[key] = text
                self._labels[key].update(text, layout=False)

    def points(self, category: str) -> list[Point]:
        """Oldest first: every full minute of the history but its oldest, then now."""
        stored = self.history.series(category)[1:] if self.history is not None else []
        now = self.live.get(category, (0, 0, 0))
        return [(m.succeeded, m.failed, m.queued) for m in stored] + [now]

    def data(self, key: str) -> list[float]:
        """What one sparkline draws, oldest minute first (``done``, ``failed``, ``depth``)."""
        return list(self._lines[key].data or [])


def hours(history: History) -> str:
    """``4 h``, ``90 min``: how far back the window reaches."""
    minutes = history.minutes
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
