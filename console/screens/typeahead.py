"""Dialogs the operator types into, and the keys typed ahead of them.

A key that opens such a dialog (``g``, ``e``, ``P``, ``L``) is a priority binding: it
runs as the key arrives, so the dialog is on the screen stack before the keys queued
behind it are handed out. Its input exists only once the dialog is mounted, a moment
later, and the keys of the same burst (a paste, fast typing over SSH) would reach the
bare dialog and be lost. The app holds them instead (:meth:`InputScreen.hold`); once
the input has the focus the dialog says so (:class:`InputScreen.Ready`), and the app
hands them on in the order they came, before any key that comes after.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input

T = TypeVar("T")


class InputScreen(ModalScreen[T]):
    """A dialog whose first :class:`Input` has the focus once it is mounted, and which
    takes the keys typed before that."""

    class Ready(Message):
        """The dialog's input has the focus: the keys held for it can be handed on."""

        def __init__(self, screen: InputScreen[object]) -> None:
            super().__init__()
            self.screen = screen

    def __init__(self) -> None:
        super().__init__()
        self.held: list[events.Key] = []
        self.ready = False  # set by the app once it handed the held keys on

    def on_mount(self) -> None:
        self.set_focus(self.query_one(Input))
        self.app.post_message(self.Ready(self))

    def hold(self, event: events.Event) -> bool:
        """Keep ``event`` if it is a key that came before the input had the focus."""
        if self.ready or not isinstance(event, events.Key) or event.is_forwarded:
            return False
        self.held.append(event)
        return True

    def take_held(self) -> list[events.Key]:
        """The keys held so far, in order; from now on keys go to the input directly."""
        held, self.held = self.held, []
        self.ready = True
        return held
