"""The balancer panel: its latest decisions, newest first, each with its reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..escape import visible
from . import format as fmt

SHOWN = 30
#: A decision is read from the store (another program may have written it): each of its
#: lines is shown escaped and cut to this many characters.
LINE_CHARS = 500


def decision_text(decisions: Sequence[Mapping[str, Any]]) -> Group:
    """Each decision: a heading line, then its reasons indented by two cells, and a reason
    that wraps keeps that indent."""
    parts: list[RenderableType] = []
    if not decisions:
        parts.append(Text("no decision yet", style="dim"))
    for d in decisions[:SHOWN]:
        targets = " ".join(f"{k}={v}" for k, v in sorted(d.get("targets", {}).items()))
        targets = visible(targets)[:LINE_CHARS]
        head = Text()
        head.append(fmt.clock_time(d.get("at")), style="bold")
        head.append(f" {visible(d.get('trigger', ''))[:LINE_CHARS]}", style="cyan")
        head.append(f"  {targets}", style="dim")
        parts.append(head)
        for line in d.get("changes") or ["no change"]:
            parts.append(Padding(Text(visible(str(line))[:LINE_CHARS]), (0, 0, 0, 2)))
    return Group(*parts)


class DecisionLog(VerticalScroll):
    """Re-renders only when a new decision arrived."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: tuple[Any, ...] | None = None
        self._body = Static(decision_text(()), id="decision-text")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def update_decisions(self, decisions: Sequence[Mapping[str, Any]]) -> None:
        seen = tuple(
            (d.get("at"), d.get("trigger"), len(d.get("changes") or ())) for d in decisions[:SHOWN]
        )
        if seen == self._seen:
            return
        self._seen = seen
        self._body.update(decision_text(decisions))
