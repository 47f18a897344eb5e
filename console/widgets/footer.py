"""The dashboard's footer: Textual's, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class SteadyFooter(Footer):
    """``Footer`` rebuilds every key it shows (a widget each, then a layout of the whole
    screen) whenever the screen's bindings may have changed: on every focus change, and
    when a dialog closes. This one keeps its keys when they would come back the same.

    ``Footer`` also shows nothing while the app does not have the focus, until it gets
    it: a browser page that has not been clicked yet (``jobsched console --web``) showed
    an empty footer. This one shows the keys whether or not the app has the focus."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[tuple[Any, ...], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not (self.is_attached and screen is self.screen):
            super().bindings_changed(screen)
            return
        shown = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for _, binding, enabled, tooltip in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown:
            return
        self._shown = shown
        self._bindings_ready = True
        self.call_after_refresh(self.recompose)
