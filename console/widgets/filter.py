"""The task list's filter input: an ``Input`` whose typing repaints only itself."""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class FilterInput(Input):
    """``Input`` sets its virtual size (the text's width) on every key, and a widget's
    virtual size asks for a layout of the whole screen when it changes: each typed key
    laid out and repainted the dashboard. An input scrolls by its own virtual size (a
    ``ScrollView`` keeps it; the screen's layout does not set it), and this one's height
    and width are fixed by the stylesheet, so a change of it needs no layout."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)
