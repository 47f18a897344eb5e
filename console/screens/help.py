"""The help screen: every key of the console, grouped."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KeyGroup = tuple[str, Sequence[tuple[str, str]]]


def two_columns(left: Sequence[KeyGroup], right: Sequence[KeyGroup]) -> Table:
    """Two groups side by side, so every key fits on one screen."""
    table = Table.grid(padding=(0, 3))
    table.add_column(ratio=1)
    table.add_column(ratio=1)
    table.add_row(keys_table(left), keys_table(right))
    return table


def keys_table(groups: Sequence[KeyGroup]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", justify="right", min_width=6)
    table.add_column()
    for n, (title, keys) in enumerate(groups):
        if n:
            table.add_row("", "")
        table.add_row("", Text(title, style="bold underline"))
        for key, description in keys:
            table.add_row(Text(key), Text(description))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss(None)", "Close", show=True),
    ]

    def __init__(self, groups: Sequence[KeyGroup]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc to close · ctrl+p for every command"
            half = (len(self.groups) + 1) // 2
            yield Static(two_columns(self.groups[:half], self.groups[half:]))
