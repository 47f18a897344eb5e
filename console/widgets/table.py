"""A DataTable that is kept in sync with keyed rows, touching only what changed."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey

Cell = str | Text
Row = Sequence[Cell]


def cell(value: object, style: str = "") -> Text:
    """Any value as a cell. Plain text is never read as markup (names, errors, payloads)."""
    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value), style=style, no_wrap=True, overflow="ellipsis")


class KeyedTable(DataTable[Text]):
    """Rows and columns have keys; ``sync`` adds, removes and updates only changed cells.

    ``COLUMNS`` is a sequence of ``(key, label, width)``; a width of None fits the content.
    Subclasses set ``order`` to keep rows sorted when new ones arrive.
    """

    COLUMNS: Sequence[tuple[str, str, int | None]] = ()
    BINDINGS = [Binding("enter", "select_cursor", "Detail", key_display="⏎")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[str, tuple[Text, ...]] = {}
        self.order: Callable[[str], Any] | None = None
        self.order_reverse = False
        for key, label, width in self.COLUMNS:
            self.add_column(label, width=width, key=key)

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
        """The plain text shown in one cell ('' if there is no such row)."""
        cells = self._cells.get(row_key)
        if cells is None:
            return ""
        return cells[[c[0] for c in self.COLUMNS].index(column)].plain

    def sync(self, rows: Mapping[Hashable, Row]) -> None:
        """Make the table show exactly ``rows`` (key -> cells), keeping the selection."""
        wanted = {str(k): tuple(cell(v) for v in cells) for k, cells in rows.items()}
        selected = self.selected_key
        at_top = self.cursor_row == 0  # then follow the first row (the newest task)
        for key in [k for k in self._cells if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
        added = False
        columns = [c[0] for c in self.COLUMNS]
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

    def _key_of(self, row: Any) -> str:
        # DataTable.sort passes the row's cells; the first column always holds the key.
        return row[0].plain if isinstance(row, (list, tuple)) else row.plain

    def _restore(self, key: str | None) -> None:
        if key is not None and key in self._cells:
            self.move_cursor(row=self.get_row_index(RowKey(key)), scroll=False)
