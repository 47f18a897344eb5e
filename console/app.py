"""The Textual console: shows what a node does, live, and steers it.

``JobschedApp`` takes its :class:`~console.source.Source` from outside
(:func:`console.compose.build_app`): a node that runs inside the console, or a view of
one that runs elsewhere and shares the store. The UI polls ``source.snapshot()`` on an
interval and updates only the cells that changed; no engine thread ever calls into the
UI. Operator changes go through the source, which writes them to the store. With the
timer on, every store read runs in a thread worker, never on the UI thread
(:mod:`console.snapshotreads`); the task list has reads of its own
(:mod:`console.listreads`), started by the key that moved it. What the keys do lives in
controllers: :mod:`console.task_actions`, :mod:`console.category_actions`,
:mod:`console.schedule_actions`, :mod:`console.quit_flow`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from jobsched.core import Clock, Snapshot
from jobsched.core.errors import JobschedError
from jobsched.core.history import History
from jobsched.core.outage import OutageTracker
from jobsched.core.query import Page
from jobsched.core.task import TaskRecord
from textual import events, on
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import DataTable

from .category_actions import CategoryActions
from .escape import visible
from .health import HealthTracker
from .keys import (
    ALL_KEYS,
    DASHBOARD_ACTIONS,
    PALETTE_KEYS,
    help_groups,
    shown_key,
)
from .listreads import ListReads, row_by_row
from .operations import Operation, OperationQueue
from .quit_flow import QuitFlow
from .schedule_actions import ScheduleActions
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.nodes import NodesScreen
from .screens.schedules import SchedulesScreen
from .screens.typeahead import InputScreen
from .snapshotreads import HISTORY_MINUTES, SnapshotReads
from .source import Source, nodes_of
from .task_actions import TaskActions
from .tasklist import TaskWindow
from .widgets.tasks import TaskTable

log = logging.getLogger("jobsched.console")

REFRESH_INTERVAL = 0.25  # seconds: about 4 snapshots a second


class JobschedApp(App[list[int]]):
    """The console. Its result is the list of task ids released when it stopped the node
    itself (the quit choice); empty otherwise.

    ``refresh_interval=None`` turns the timer off: tests then call :meth:`refresh_now`.
    """

    CSS_PATH = "app.tcss"
    TITLE = "jobsched"
    BINDINGS = ALL_KEYS

    def __init__(
        self,
        source: Source,
        *,
        clock: Clock | None = None,
        demo: str | None = None,
        refresh_interval: float | None = REFRESH_INTERVAL,
        inject_duration_ms: float = 50.0,
        before_stop: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        #: Called when the operator quits, before the node stops (the demo workload's
        #: stop: nothing may submit to a node whose store is closing).
        self.before_stop = before_stop
        self.clock: Clock = clock or source.clock
        self.demo = demo
        self.refresh_interval = refresh_interval
        self.inject_duration_ms = inject_duration_ms
        self.main: MainScreen  # built with the default screen, once the app runs
        self.ops = OperationQueue(self)
        self.window = TaskWindow()
        self.list_reads = ListReads(self)
        self.snapshot_reads = SnapshotReads(self)
        # go-to-id: (id, its state) to select once the page that starts at it is shown
        self._select: tuple[int, str] | None = None
        self.health = HealthTracker()
        self.tasks = TaskActions(self)
        self.categories = CategoryActions(self)
        self.schedule_actions = ScheduleActions(self)
        self.quitting = QuitFlow(self)
        self.last_snapshot: Snapshot | None = None
        self.refreshes = 0  # panel updates from a snapshot (the refresh-rate figure)
        self._refresh_times: deque[float] = deque(maxlen=9)
        self._read_error: str | None = None
        # Reads that fail in a row are one outage: told when it begins, now and then
        # while it lasts, and when it ends (logged too), not on every refresh.
        self._outage = OutageTracker(
            "console", source.location, monotonic=self.clock.monotonic, level=logging.INFO
        )

    def get_default_screen(self) -> Screen[Any]:
        self.main = MainScreen()
        return self.main

    @on(MainScreen.Ready)
    def _start_refreshing(self) -> None:
        self.refresh_now()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.snapshot_reads.tick)

    # ------------------------------------------------------------------ reading the node
    # (the timer's reads live in console/snapshotreads.py, the task list's in listreads.py)
    def refresh_now(self) -> None:
        """Read the source and update every panel now, on the UI thread: at start, and in
        tests that drive a stepped scheduler (with the timer off, after every change)."""
        try:
            snap = self.source.snapshot()
            heads = self.source.queue_heads()
            rows = self.source.find_tasks(self.window.page)
            history = self.source.history(HISTORY_MINUTES)
            known = self.source.known_categories()
        except Exception as exc:
            self.read_failed(exc)
            return
        self.show_snapshot(snap, heads, history, known)
        self.show_tasks(rows)

    def request_refresh(self) -> None:
        """Read everything again after an operator change: in thread workers with the
        timer on (after the snapshot read in flight, which may predate the change)."""
        if not self.refresh_interval:
            self.refresh_now()
            return
        self.list_reads.request()
        self.snapshot_reads.request()

    def show_snapshot(
        self,
        snap: Snapshot,
        heads: dict[str, float] | None,
        history: History | None = None,
        known: frozenset[str] | None = None,
    ) -> None:
        self.last_snapshot = snap
        self.refreshes += 1
        mono = self.clock.monotonic()
        self._refresh_times.append(mono)
        self._read_error = None
        back = self._outage.ok()
        if back is not None:
            self.notify(back, title="The node can be read again", markup=False)
        self.health.add(mono, snap)
        if heads is not None:
            self.health.set_heads(heads)
        if history is not None:
            self.snapshot_reads.history_shown()
            self.health.set_history(history)
        if known is not None:
            self.tasks.categories_known(known)
        self.sub_title = self.demo or f"node {snap.node_id}"
        self.main.show(snap, self._status(), self.health.health(snap), history)
        self.main.set_list_title(self.window.describe())
        self.categories.report_decision(snap)

    def show_tasks(self, rows: list[TaskRecord], searching: str = "") -> None:
        """Show a page of the task list read for the current window; ``searching`` says
        how far a search still going has got (its rows are the first it found)."""
        self.list_reads.shown += 1
        self.main.task_table.set_order(self.window.order == "newest")
        self.main.show_tasks(rows, self.last_snapshot)
        self.main.show_search(searching)
        if searching:
            return
        if self._select is not None:
            (task_id, state), self._select = self._select, None
            table = self.main.task_table
            if table.select_key(str(task_id)):
                table.focus()
            else:
                self.say(f"Task {task_id} ({state}) does not match the filter", "warning")

    def _status(self) -> tuple[str, float | None, str | None]:
        rate = self.refresh_rate if self.refresh_interval else None
        return self.source.location, rate, self._read_error

    @property
    def refresh_rate(self) -> float | None:
        """Panel refreshes per second over the last few, by the app's clock."""
        times = self._refresh_times
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    def read_failed(self, exc: BaseException) -> None:
        self._read_error = str(exc)
        if self._outage.failed(exc) is not None:  # it began, or still lasts (now and then)
            self.report_error("Cannot read the node", exc)
            if self.last_snapshot is not None:
                self.main.status_line.update_status(self.last_snapshot, *self._status())

    # ------------------------------------------------------------------ errors: one place
    def report_error(self, what: str, exc: BaseException) -> None:
        """Every failed source call ends here: a notification, never a traceback."""
        if isinstance(exc, JobschedError):
            message = exc.message
        else:
            message = f"{type(exc).__name__}: {exc}"
            log.error("%s", what, exc_info=exc)
        self.notify(visible(message), title=what, severity="error", timeout=8, markup=False)

    def operation_finished(self, op: Operation, result: Any, error: BaseException | None) -> None:
        """Runs on the UI thread when a queued operator call returned or raised."""
        if error is not None:
            self.report_error(f"{op.label}: not applied", error)
        elif op.done is not None:
            try:
                op.done(result)
            except Exception as exc:
                self.report_error(op.label, exc)
        self.request_refresh()

    def say(self, message: str, severity: str = "information") -> None:
        self.notify(visible(message), severity=severity, markup=False)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ selection
    def selected_category(self) -> str | None:
        """The category under the cursor of the categories panel, when that panel has the
        focus: a category key never acts on a row another panel's focus hides."""
        if not self.main.cat_table.has_focus:
            self.say("Category keys act on the categories panel: tab to it first", "warning")
            return None
        name = self.main.cat_table.selected_key
        if name is None:
            self.say("No category selected", "warning")
        return name

    def selected_task(self) -> int | None:
        """The task under the cursor of the task list, when the task list has the focus."""
        if not self.main.task_table.has_focus:
            self.say("Task keys act on the task list: tab to it first", "warning")
            return None
        key = self.main.task_table.selected_key
        if key is None:
            self.say("No task selected", "warning")
            return None
        return int(key)

    # ------------------------------------------------------------------ keys typed ahead
    async def on_event(self, event: events.Event) -> None:
        """Keys that come while a dialog to type into is opening wait for its input."""
        if isinstance(event, events.Key) and self.screen_stack:
            top = self.screen_stack[-1]
            if isinstance(top, InputScreen) and top.hold(event):
                return
        await super().on_event(event)

    @on(InputScreen.Ready)
    async def _input_ready(self, message: InputScreen.Ready) -> None:
        """The dialog's input has the focus: the keys held for it go on, in order, as
        if they came now (before any key still queued behind this message)."""
        for key in message.screen.take_held():
            await super().on_event(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        name = action.split("(")[0]
        if name not in DASHBOARD_ACTIONS:
            return True
        if self.screen is not self.main:
            return False
        # While an input has the focus, its keys are text (escape still clears the filter).
        return name == "clear_filter" or not self.main.typing

    # ------------------------------------------------------------------ category actions
    # (what they do lives in console/category_actions.py)
    def action_inject(self, count: int, priority: int = 0) -> None:
        self.categories.inject(count, priority)

    def action_inject_urgent(self) -> None:
        self.categories.inject_urgent()

    def action_priority_up(self) -> None:
        self.categories.priority_up()

    def action_priority_down(self) -> None:
        self.categories.priority_down()

    def action_edit_priority(self) -> None:
        self.categories.edit_priority()

    def action_edit_limit(self) -> None:
        self.categories.edit_limit()

    def action_pin(self) -> None:
        self.categories.pin()

    def action_toggle_pause(self) -> None:
        self.categories.toggle_pause()

    def action_rebalance(self) -> None:
        self.categories.rebalance()

    def confirm(
        self, title: str, question: str, then: Callable[[], None], yes: str = "Yes"
    ) -> None:
        """Ask ``question``; call ``then`` only on yes."""

        def answered(yes_: bool | None) -> None:
            if yes_:
                then()
            else:
                self.say(f"{title}: nothing changed")

        self.push_screen(ConfirmScreen(title, question, yes), answered)

    # ------------------------------------------------------------------ task actions
    # (what they do lives in console/task_actions.py)
    def action_retry(self) -> None:
        self.tasks.retry_selected()

    def action_cancel_task(self) -> None:
        self.tasks.cancel_selected()

    def action_task_detail(self, task_id: int | None = None) -> None:
        self.tasks.detail(task_id)

    def action_filter(self) -> None:
        self.main.open_filter()

    def action_clear_filter(self) -> None:
        if self.main.filter_input.display or self.window.text:
            self.main.clear_filter()

    def action_page(self, step: int) -> None:
        self.tasks.page(step)

    def action_toggle_order(self) -> None:
        self.tasks.toggle_order()

    def action_goto(self) -> None:
        self.tasks.goto()

    def action_bulk(self, action: str) -> None:
        self.tasks.bulk(action)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a worker shows the task it runs; on the task list, the selected task."""
        event.stop()
        if event.data_table is self.main.worker_table:
            running = self.main.worker_table.cell_text(str(event.row_key.value), "task")
            if not running:
                self.say("This worker is idle", "warning")
                return
            self.tasks.detail(int(running))
        elif event.data_table is self.main.task_table:
            self.tasks.detail(None)

    @on(MainScreen.FilterChanged)
    def _filter_changed(self, event: MainScreen.FilterChanged) -> None:
        self.tasks.filter_changed(event.text, event.submitted)

    @on(TaskTable.PageRows)
    def _page_rows(self, event: TaskTable.PageRows) -> None:
        """The task list was resized: a page is as long as it shows."""
        if self.window.resize(event.rows):
            self.window_moved()

    def window_moved(
        self,
        select: tuple[int, str] | None = None,
        rows: list[TaskRecord] | None = None,
        read: Page | None = None,
        typed: bool = False,
    ) -> None:
        """The filter, order, page or page size changed: read the task list again, now
        (``typed``: a key typed into the filter; if the store reads its filter row by
        row, the list is read once the keys stop coming).
        ``select``: go-to-id's (id, state), selected once its page is shown. ``rows``:
        the page ``read`` already, shown at once if it is the window's page now."""
        self.list_reads.moved()
        self._select = select
        self.main.set_list_title(self.window.describe())
        if rows is not None and read == self.window.page:
            self.show_tasks(rows)
            return
        if self.refresh_interval:
            if typed and row_by_row(self.window.query):
                self.list_reads.settle()
            else:
                self.list_reads.request()
            return
        try:  # the timer is off (tests): read it here
            rows = self.source.find_tasks(self.window.page)
        except Exception as exc:
            self.read_failed(exc)
            return
        self.show_tasks(rows)

    # ------------------------------------------------------------ nodes, help, palette, quit
    def action_nodes(self) -> None:
        if self.screen is self.main:
            self.push_screen(NodesScreen(self._read_nodes, self.refresh_interval))

    def _read_nodes(self) -> list[dict[str, Any]]:
        """Every node, aged by the app's clock; runs in the nodes screen's thread worker."""
        return nodes_of(self.source, self.clock.now())

    @on(NodesScreen.ReadFailed)
    def _nodes_failed(self, event: NodesScreen.ReadFailed) -> None:
        self.report_error("Cannot read the nodes", event.error)

    def action_schedules(self) -> None:
        if self.screen is self.main:
            self.push_screen(
                SchedulesScreen(self.source.schedule_infos, self.clock.now, self.refresh_interval)
            )

    @on(SchedulesScreen.ReadFailed)
    def _schedules_failed(self, event: SchedulesScreen.ReadFailed) -> None:
        self.report_error("Cannot read the schedules", event.error)

    @on(SchedulesScreen.Act)
    def _schedule_action(self, event: SchedulesScreen.Act) -> None:
        self.schedule_actions.act(event)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(help_groups()))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        cat = self.main.cat_table.selected_key or "the selected category"
        for binding in PALETTE_KEYS:
            title = (binding.tooltip or binding.description).replace("the selected category", cat)
            yield SystemCommand(
                title, f"key: {shown_key(binding)}", partial(self.run_action, binding.action)
            )

    async def action_quit(self) -> None:
        """Quit; while this node holds tasks, ask whether to wait for them or release them
        (console/quit_flow.py)."""
        self.quitting.quit()
