"""The dashboard: categories, workers, balancer decisions, history and the task list.

Dumb like its widgets: the app hands it a snapshot and a task list through
:meth:`MainScreen.show`. Below the minimum size it shows a message instead.
"""

from __future__ import annotations

from jobsched.core import Snapshot
from jobsched.core.history import History
from jobsched.core.task import TaskRecord
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Static

from ..widgets.categories import CategoryTable, Health
from ..widgets.decisions import DecisionLog
from ..widgets.filter import FilterInput
from ..widgets.footer import SteadyFooter
from ..widgets.history import HistoryPanel
from ..widgets.status import StatusLine
from ..widgets.tasks import TaskTable
from ..widgets.workers import WorkerTable

MIN_WIDTH, MIN_HEIGHT = 80, 24
#: Seconds after the last key typed into the filter that the task panel shows it (or
#: what is wrong with it) under the list.
SUBTITLE_AFTER = 0.08
FILTER_HINT = "filter: state:failed cat:email error:timeout since:2h words  (enter, esc)"


class MainScreen(Screen[None]):
    class Ready(Message):
        """The panels are mounted: the app may start feeding them."""

    class FilterChanged(Message):
        """The operator typed in the task filter."""

        def __init__(self, text: str, submitted: bool = False) -> None:
            super().__init__()
            self.text = text
            self.submitted = submitted  # enter: a bad filter is reported, not only shown

    def __init__(self) -> None:
        super().__init__()
        self.cat_table = CategoryTable(id="categories")
        self.worker_table = WorkerTable(id="workers")
        self.decision_log = DecisionLog(id="decisions")
        self.history_panel = HistoryPanel(id="history")
        self.task_table = TaskTable(id="tasks")
        self.filter_input = FilterInput(placeholder=FILTER_HINT, id="filter")
        self.status_line = StatusLine(id="status")
        self._filter: tuple[str, str | None] = ("", None)  # the filter's text, its error
        self._search = ""  # how far a search of the task list has got
        self._subtitle_timer: Timer | None = None
        #: the task panel's subtitle as last set (its text, and whether it was an error):
        #: set again only when that changes (setting it repaints the whole panel)
        self._subtitle_set: tuple[str, bool] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        yield self.status_line
        with Vertical(id="dashboard"):
            yield self.cat_table
            with Horizontal(id="middle"):
                yield self.worker_table
                yield self.decision_log
            yield self.history_panel
            with Vertical(id="task-panel"):
                yield self.filter_input
                yield self.task_table
        yield Static(id="too-small")
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for panel, title in (
            (self.cat_table, "Categories"),
            (self.worker_table, "Workers"),
            (self.decision_log, "Balancer decisions"),
            (self.query_one("#task-panel"), "Tasks"),
        ):
            panel.border_title = title
        self.filter_input.display = False
        self.filter_input.cursor_blink = False
        self.cat_table.focus()
        self.post_message(self.Ready())

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                Text(
                    f"Terminal too small: need at least {MIN_WIDTH}x{MIN_HEIGHT}, have {width}x{height}",
                    justify="center",
                )
            )

    def show(
        self,
        snap: Snapshot,
        status: tuple[str, float | None, str | None],
        health: dict[str, Health],
        history: History | None = None,
    ) -> None:
        """Update every panel but the task list from one snapshot (and the history when
        it was read)."""
        with self.app.batch_update():
            self.cat_table.update_categories(snap.categories, health)
            self.worker_table.update_workers(snap.workers)
            self.decision_log.update_decisions(snap.decisions)
            live = {
                c.name: (
                    health.get(c.name, Health()).finished_minute or 0,
                    health.get(c.name, Health()).failed_minute or 0,
                    c.queued,
                )
                for c in snap.categories
            }
            self.history_panel.show(history, self.cat_table.selected_key, live)
            self.status_line.update_status(snap, *status)

    def show_tasks(self, tasks: list[TaskRecord], snap: Snapshot | None) -> None:
        """Show a page of the task list; ``snap`` tells which tasks the workers run."""
        owners = snap.owners if snap is not None else frozenset[str]()
        workers = snap.workers if snap is not None else ()
        busy = frozenset(w.task_id for w in workers if w.task_id is not None)
        self.task_table.update_tasks(tasks, owners, busy)

    def open_filter(self) -> None:
        """Show the filter and give it the focus now, not after this key's turn: keys typed
        in the same burst as ``/`` (a paste, fast typing over SSH) go into the filter."""
        self.filter_input.display = True
        self.set_focus(self.filter_input)

    @property
    def typing(self) -> bool:
        """Whether an input of this screen has the focus (dashboard keys are text then)."""
        return isinstance(self.focused, Input)

    def set_list_title(self, title: str) -> None:
        # Set on every refresh: a title set, even to the same text, repaints the panel
        # and the task list in it. No panel while the app closes and removes its
        # widgets: a resize of the task table can still be queued then.
        for panel in self.query("#task-panel"):
            if panel.border_title != title:
                panel.border_title = title

    def show_filter(self, text: str, error: str | None, at_once: bool = True) -> None:
        """The filter under the task panel, or what is wrong with it (no panel: closing);
        not ``at_once`` (a key typed), once no key has come for SUBTITLE_AFTER seconds:
        the subtitle is the task panel's, and setting it repaints the whole task list."""
        self._filter = (text, error)
        if self._subtitle_timer is not None:
            self._subtitle_timer.stop()
            self._subtitle_timer = None
        if at_once:
            self._show_subtitle()
        else:
            self._subtitle_timer = self.set_timer(SUBTITLE_AFTER, self._show_subtitle)

    def show_search(self, searching: str) -> None:
        """How far a search of the task list has got ('' once it is done), after the filter."""
        if searching != self._search:
            self._search = searching
            self._show_subtitle()

    def _show_subtitle(self) -> None:
        self._subtitle_timer = None
        text, error = self._filter
        if error:
            subtitle: str | Text = Text(f"filter error: {error}", style="bold red")
        elif text.strip():
            search = f" · {self._search}" if self._search else ""
            subtitle = Text(f"filter: {text.strip()}{search}")
        else:
            subtitle = ""
        key = (str(subtitle), bool(error))
        for panel in self.query("#task-panel"):  # none while the app closes
            if key != self._subtitle_set:
                panel.border_subtitle = subtitle
                self._subtitle_set = key

    def clear_filter(self) -> None:
        """Empty and hide the filter (escape); the task list shows everything again."""
        self.filter_input.value = ""
        self.filter_input.display = False
        self.set_focus(self.task_table)

    @on(DataTable.RowHighlighted, "#categories")
    def _category_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The history follows the category under the cursor."""
        self.history_panel.show(None, event.row_key.value)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.FilterChanged(event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            event.input.display = False
        self.set_focus(self.task_table)
        self.post_message(self.FilterChanged(event.value, submitted=True))
