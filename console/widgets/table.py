"""A DataTable that is kept in sync with keyed rows, touching only what changed."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey

from ..escape import visible

Cell = str | Text
SegmentLines = list[list[Segment]]  # a rendered cell, a list of segments a line
Row = Sequence[Cell]


#: The most characters one cell keeps (a name read from a foreign store may be huge).
CELL_CHARS = 500
#: Rendered cells a table keeps (a few screens' worth) before it forgets them all.
RENDERED_CELLS = 4096


def cell(value: object, style: str = "") -> Text:
    """Any value as a cell. Plain text is never read as markup (names, errors, payloads),
    and its control characters are shown escaped, never sent to the terminal."""
    if isinstance(value, Text):
        safe = visible(value.plain)[:CELL_CHARS]
        if safe == value.plain:
            return value
        return Text(safe, style=value.style, no_wrap=True, overflow="ellipsis")
    text = "" if value is None else visible(value)[:CELL_CHARS]
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


class KeyedTable(DataTable[Text]):
    """Rows and columns have keys; ``sync`` adds, removes and updates only changed cells.

    ``COLUMNS`` is a sequence of ``(key, label, width)``: every column a row carries, in
    display order, at its narrowest useful width. The table fits them to its own width
    whenever it is resized: ``IMPORTANCE`` lists the keys from the one to give up last to
    the first; ``FLEX`` gives columns that use spare room (long text) a share of it and,
    optionally, a widest width. Subclasses set ``order`` to keep rows sorted when new ones
    arrive.
    """

    COLUMNS: Sequence[tuple[str, str, int]] = ()
    IMPORTANCE: Sequence[str] = ()
    FLEX: Mapping[str, tuple[int, int | None]] = {}  # key -> (share, widest or None)
    RESERVED = 2  # cells kept for a vertical scrollbar
    BINDINGS = [Binding("enter", "select_cursor", "Detail", key_display="⏎")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._rows: dict[str, tuple[Text, ...]] = {}  # every column, shown or not
        # (place and style of a cell) -> (its value, rendered): see _render_cell
        self._rendered: dict[tuple[Any, ...], tuple[object, SegmentLines]] = {}
        self.order: Callable[[str], Any] | None = None
        self.order_reverse = False
        self.column_layout: tuple[tuple[str, int], ...] = ()
        self._set_columns(tuple((key, width) for key, _, width in self.COLUMNS))

    def _set_columns(self, layout: tuple[tuple[str, int], ...]) -> None:
        labels = {key: label for key, label, _ in self.COLUMNS}
        self.column_layout = layout
        for key, width in layout:
            self.add_column(labels[key], width=width, key=key)

    def fit(self, width: int) -> None:
        """Show the columns that fit ``width`` cells, the most important first, and spread
        the room left over the flexible ones. Rebuilds the columns only when that changes."""
        layout = fit_columns(
            self.COLUMNS, self.IMPORTANCE, self.FLEX, width - self.RESERVED, 2 * self.cell_padding
        )
        if layout == self.column_layout or not layout:
            return
        selected = self.selected_key
        self.clear(columns=True)
        self._cells = {}
        self._set_columns(layout)
        rows, self._rows = self._rows, {}
        self._sync_cells(rows)
        self._restore(selected)

    def on_resize(self, event: events.Resize) -> None:
        self.fit(self.size.width)  # the event's size counts the border

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def cell_text(self, row_key: str, column: str) -> str:
        """The plain text of one cell, shown or not ('' if there is no such row)."""
        cells = self._rows.get(row_key)
        if cells is None:
            return ""
        return cells[[c[0] for c in self.COLUMNS].index(column)].plain

    def keys_in_order(self) -> list[str]:
        """Row keys from top to bottom."""
        return [str(row.key.value) for row in self.ordered_rows]

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row ``key``; False if there is no such row."""
        if key not in self._cells:
            return False
        self.move_cursor(row=self.get_row_index(RowKey(key)))
        return True

    def reset(self) -> None:
        """Forget every row (the next ``sync`` adds them again in order)."""
        self.clear()
        self._cells = {}
        self._rows = {}

    def sync(self, rows: Mapping[Hashable, Row]) -> None:
        """Make the table show exactly ``rows`` (key -> a cell per column of ``COLUMNS``),
        keeping the selection."""
        self._sync_cells({str(k): tuple(cell(v) for v in cells) for k, cells in rows.items()})

    def _sync_cells(self, full: dict[str, tuple[Text, ...]]) -> None:
        self._rows = full
        index = {c[0]: n for n, c in enumerate(self.COLUMNS)}
        picks = [index[key] for key, _ in self.column_layout]
        wanted = {k: tuple(cells[n] for n in picks) for k, cells in full.items()}
        selected = self.selected_key
        at_top = self.cursor_row == 0  # then follow the first row (the newest task)
        if any(k not in wanted for k in self._cells):
            # Every row goes and the wanted ones come back: DataTable.remove_row lays
            # out the whole screen again, clear() only repaints the table (a new page
            # of the task list removes every row).
            self.clear()
            self._cells = {}
        added = False
        columns = [key for key, _ in self.column_layout]
        for key, cells in wanted.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                added = True
            elif old != cells:
                for column, before, after in zip(columns, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, column, after)
            self._cells[key] = cells
        if added and self.order is not None:
            order = self.order
            self.sort(key=lambda row: order(self._key_of(row)), reverse=self.order_reverse)
        if (added or selected not in wanted) and not at_top:
            self._restore(selected)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """DataTable keys its cache of rendered cells by a count of every change to the
        table: one changed cell (a count, four times a second) renders every cell again.
        Here a cell whose value (the same object: ``sync`` keeps unchanged cells), place,
        width and style are the same is not rendered again."""
        render = super()._render_cell
        if row_index < 0 or column_index < 0:  # the header, row labels
            return render(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        value = self._data[row_key][column_key]
        key = (row_key, column_key, row_index, base_style, width, cursor, hover,
               self._show_hover_cursor, self._pseudo_class_state)  # fmt: skip
        kept = self._rendered.get(key)
        if kept is not None and kept[0] is value:
            return kept[1]
        if len(self._rendered) > RENDERED_CELLS:
            self._rendered.clear()
        lines = render(row_index, column_index, base_style, width, cursor, hover)
        self._rendered[key] = (value, lines)
        return lines

    def notify_style_update(self) -> None:
        self._rendered.clear()
        super().notify_style_update()

    def _key_of(self, row: Any) -> str:
        # DataTable.sort passes the row's cells; the first column always holds the key.
        return row[0].plain if isinstance(row, (list, tuple)) else row.plain

    def _restore(self, key: str | None) -> None:
        if key is not None and key in self._cells:
            self.move_cursor(row=self.get_row_index(RowKey(key)), scroll=False)


def fit_columns(
    columns: Sequence[tuple[str, str, int]],
    importance: Sequence[str],
    flex: Mapping[str, tuple[int, int | None]],
    room: int,
    padding: int,
) -> tuple[tuple[str, int], ...]:
    """``(key, width)`` of the columns to show in ``room`` cells (each costs its width plus
    ``padding``), in display order: the most important that fit, then the room left shared
    by the flexible ones in proportion to their share, none past its widest."""
    widths = {key: width for key, _, width in columns}
    order = list(importance) + [k for k in widths if k not in importance]
    shown: set[str] = set()
    used = 0
    for key in order:
        if used + widths[key] + padding <= room:
            shown.add(key)
            used += widths[key] + padding
    spare = room - used
    growing = [k for k in order if k in shown and k in flex]
    while spare > 0 and growing:
        total = sum(flex[k][0] for k in growing)
        given = 0
        for key in list(growing):
            share, widest = flex[key]
            extra = max(1, spare * share // total)
            if widest is not None:
                extra = min(extra, widest - widths[key])
            extra = min(extra, spare - given)
            widths[key] += extra
            given += extra
            if widest is not None and widths[key] >= widest:
                growing.remove(key)
        spare -= given
        if not given:
            break
    return tuple((key, widths[key]) for key, _, _ in columns if key in shown)
