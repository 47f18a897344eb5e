"""Quitting while tasks run: wait for them, or release them back to the queue."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..widgets.format import counted

WAIT = "wait"
RELEASE = "release"


class QuitScreen(ModalScreen[str | None]):
    """Dismisses with ``"wait"``, ``"release"`` or None (stay)."""

    BINDINGS = [
        Binding("w", "choose('wait')", "Wait, then quit"),
        Binding("r", "choose('release')", "Release and quit"),
        Binding("escape", "choose(None)", "Stay"),
    ]

    def __init__(self, running: int, grace: float) -> None:
        super().__init__()
        self.running = running
        self.grace = grace

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box", classes="dialog") as box:
            box.border_title = "Quit"
            yield Static(
                Text(
                    f"{counted(self.running, 'task')} {'is' if self.running == 1 else 'are'}"
                    " running or claimed on this node.\n"
                    f"Wait lets them finish (up to {self.grace:g} s), then releases the rest.\n"
                    "Release puts them back in the queue at once; they run again later."
                )
            )
            with Horizontal(id="quit-buttons"):
                yield Button("Wait (w)", id=WAIT, variant="primary")
                yield Button("Release and quit (r)", id=RELEASE, variant="warning")
                yield Button("Stay (esc)", id="stay")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(event.button.id if event.button.id in (WAIT, RELEASE) else None)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
