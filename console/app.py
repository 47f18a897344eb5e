"""The Textual console: shows what a node does, live, and steers it.

``JobschedApp`` takes its :class:`~console.source.Source` from outside
(:func:`console.compose.build_app`): a node that runs inside the console, or a view of
one that runs elsewhere and shares the store. The UI polls ``source.snapshot()`` on an
interval and updates only the cells that changed; no engine thread ever calls into the
UI. Operator changes go through the source, which writes them to the store.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from jobsched.core import CategorySnapshot, Clock, Snapshot
from jobsched.core.errors import JobschedError
from jobsched.core.outage import OutageTracker
from jobsched.core.task import TaskRecord
from textual import on
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.widgets import DataTable

from .keys import (
    ALL_KEYS,
    DASHBOARD_ACTIONS,
    PALETTE_KEYS,
    PRIORITY_STEP,
    help_groups,
    shown_key,
)
from .operations import Operation, OperationQueue
from .reports import injected_message
from .screens.detail import TaskDetailScreen
from .screens.forms import pin_form, priority_form
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.nodes import NodesScreen
from .screens.quit import WAIT, QuitScreen
from .source import RUNNING, Source, nodes_of
from .widgets import format as fmt
from .widgets.tasks import TaskFilter

log = logging.getLogger("jobsched.console")

REFRESH_INTERVAL = 0.25  # seconds: about 4 snapshots a second
TASKS_EVERY = 4  # the task list is a store query: read it on every 4th tick only
TASK_LIMIT = 200


def round_weight(value: float) -> float:
    return float(f"{value:.4g}")


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
        self.task_filter = TaskFilter()
        self.last_snapshot: Snapshot | None = None
        self.refreshes = 0  # panel updates from a snapshot (the refresh-rate figure)
        self._refresh_times: deque[float] = deque(maxlen=9)
        self._ticks = 0
        self._fetching = False
        self._tasks_stale = True
        self._read_error: str | None = None
        # Reads that fail in a row are one outage: told when it begins, now and then
        # while it lasts, and when it ends (logged too), not on every refresh.
        self._outage = OutageTracker(
            "console", source.location, monotonic=self.clock.monotonic, level=logging.INFO
        )
        self._stopping = False

    def get_default_screen(self) -> Screen[Any]:
        self.main = MainScreen()
        return self.main

    @on(MainScreen.Ready)
    def _start_refreshing(self) -> None:
        self.refresh_now()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self._tick)

    # ------------------------------------------------------------------ reading the node
    def _tick(self) -> None:
        """Timer callback: read the source in a thread worker unless a read is in flight."""
        if self._fetching:
            return
        self._fetching = True
        self._ticks += 1
        with_tasks = self._tasks_stale or self._ticks % TASKS_EVERY == 0
        self.run_worker(
            partial(self._fetch, with_tasks), thread=True, exit_on_error=False, group="refresh"
        )

    def _fetch(self, with_tasks: bool) -> None:
        snap = tasks = error = None
        try:
            snap = self.source.snapshot()
            tasks = self._load_tasks() if with_tasks else None
        except Exception as exc:
            error = exc
        with contextlib.suppress(Exception):  # the app is closing
            self.call_from_thread(self._fetched, snap, tasks, error)

    def _fetched(
        self, snap: Snapshot | None, tasks: list[TaskRecord] | None, error: Exception | None
    ) -> None:
        self._fetching = False
        if snap is None:
            self._read_failed(error or RuntimeError("no snapshot"))
        else:
            self._apply(snap, tasks)

    def refresh_now(self) -> None:
        """Read the source and update every panel now, on the UI thread: at start, after
        each operator change, and in tests that drive a stepped scheduler."""
        try:
            snap = self.source.snapshot()
            tasks = self._load_tasks()
        except Exception as exc:
            self._read_failed(exc)
            return
        self._apply(snap, tasks)

    def _load_tasks(self) -> list[TaskRecord]:
        f = self.task_filter
        rows = self.source.list_tasks(
            f.state, f.category, TASK_LIMIT * 5 if f.words else TASK_LIMIT
        )
        return [t for t in rows if f.matches(t)][:TASK_LIMIT]

    def _apply(self, snap: Snapshot, tasks: list[TaskRecord] | None) -> None:
        self.last_snapshot = snap
        self.refreshes += 1
        self._refresh_times.append(self.clock.monotonic())
        self._read_error = None
        back = self._outage.ok()
        if back is not None:
            self.notify(back, title="The node can be read again", markup=False)
        if tasks is not None:
            self._tasks_stale = False
        self.sub_title = self.demo or f"node {snap.node_id}"
        self.main.show(snap, tasks, self._status())

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

    def _read_failed(self, exc: BaseException) -> None:
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
        self.notify(message, title=what, severity="error", timeout=8, markup=False)

    def operation_finished(self, op: Operation, result: Any, error: BaseException | None) -> None:
        """Runs on the UI thread when a queued operator call returned or raised."""
        if error is not None:
            self.report_error(f"{op.label}: not applied", error)
        elif op.done is not None:
            try:
                op.done(result)
            except Exception as exc:
                self.report_error(op.label, exc)
        self.refresh_now()

    def say(self, message: str, severity: str = "information") -> None:
        self.notify(message, severity=severity, markup=False)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ selection
    def selected_category(self) -> str | None:
        name = self.main.cat_table.selected_key
        if name is None:
            self.say("No category selected", "warning")
        return name

    def selected_task(self) -> int | None:
        key = self.main.task_table.selected_key
        if key is None:
            self.say("No task selected", "warning")
            return None
        return int(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in DASHBOARD_ACTIONS and self.screen is not self.main)

    # ------------------------------------------------------------------ category actions
    def action_inject(self, count: int) -> None:
        if (cat := self.selected_category()) is not None:
            inject = partial(self.source.inject, cat, count, self.inject_duration_ms)
            self.ops.submit(
                f"Inject into {cat}",
                inject,
                lambda ids: self.say(injected_message(cat, ids)),
            )

    def action_priority_up(self) -> None:
        self._scale_priority(PRIORITY_STEP)

    def action_priority_down(self) -> None:
        self._scale_priority(1 / PRIORITY_STEP)

    def _scale_priority(self, factor: float) -> None:
        if (cat := self.selected_category()) is None:
            return

        def change() -> float:  # reads the stored weight, so quick presses compound
            return self.source.set_priority(
                cat, round_weight(self.source.category_config(cat).priority * factor)
            )

        self.ops.submit(
            f"Priority of {cat}",
            change,
            lambda w: self.say(f"Priority of {cat} is now {fmt.weight(w)}"),
        )

    def _category(self, name: str) -> CategorySnapshot | None:
        return (
            next((c for c in self.last_snapshot.categories if c.name == name), None)
            if self.last_snapshot
            else None
        )

    def action_edit_priority(self) -> None:
        if (cat := self.selected_category()) is not None:
            shown = self._category(cat)
            form = priority_form(cat, shown.priority if shown else None)
            self.push_screen(
                form,
                partial(
                    self._form_done, f"Priority of {cat}", partial(self.source.set_priority, cat)
                ),
            )

    def action_pin(self) -> None:
        if (cat := self.selected_category()) is not None:
            shown = self._category(cat)
            form = pin_form(cat, shown.pinned if shown else None)
            self.push_screen(
                form, partial(self._form_done, f"Pin {cat}", partial(self.source.pin, cat))
            )

    def _form_done(
        self, label: str, apply: Callable[[Any], Any], answer: tuple[Any] | None
    ) -> None:
        if answer is not None:
            self.ops.submit(
                label, partial(apply, answer[0]), lambda _: self.say(f"{label}: applied")
            )

    def action_toggle_pause(self) -> None:
        if (cat := self.selected_category()) is None:
            return

        def toggle() -> bool:  # reads the stored state, so quick presses alternate
            paused = not self.source.is_paused(cat)
            self.source.set_paused(cat, paused)
            return paused

        self.ops.submit(
            f"Pause {cat}", toggle, lambda p: self.say(f"{cat} {'paused' if p else 'resumed'}")
        )

    def action_rebalance(self) -> None:
        self.ops.submit(
            "Rebalance", self.source.rebalance, lambda _: self.say("Rebalance requested")
        )

    # ------------------------------------------------------------------ task actions
    def action_retry(self) -> None:
        if (task_id := self.selected_task()) is None:
            return

        def done(ids: list[int]) -> None:
            if ids:
                self.say(f"Task {task_id} queued again")
            else:
                self.say(
                    f"Task {task_id} was not retried: only failed or cancelled tasks are", "warning"
                )

        self.ops.submit(f"Retry task {task_id}", partial(self.source.retry, [task_id]), done)

    def action_cancel_task(self) -> None:
        if (task_id := self.selected_task()) is not None:
            self.ops.submit(
                f"Cancel task {task_id}",
                partial(self.source.cancel, [task_id]),
                lambda answers: self.say(f"Task {task_id}: {answers.get(task_id, '?')}"),
            )

    def action_task_detail(self, task_id: int | None = None) -> None:
        if task_id is None and (task_id := self.selected_task()) is None:
            return
        self.ops.submit(
            f"Task {task_id}",
            partial(self.source.get, task_id),
            lambda record: self.push_screen(TaskDetailScreen(record)),
        )

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a worker shows the task it runs; on any other table, the selected task."""
        event.stop()
        if event.data_table is self.main.worker_table:
            running = self.main.worker_table.cell_text(str(event.row_key.value), "task")
            if not running:
                self.say("This worker is idle", "warning")
                return
            self.action_task_detail(int(running))
        else:
            self.action_task_detail()

    def action_filter(self) -> None:
        self.main.open_filter()

    def action_clear_filter(self) -> None:
        if self.main.filter_input.display or self.task_filter != TaskFilter():
            self.main.clear_filter()

    @on(MainScreen.FilterChanged)
    def _filter_changed(self, event: MainScreen.FilterChanged) -> None:
        new = TaskFilter.parse(event.text)
        if new != self.task_filter:
            self.task_filter = new
            self._tasks_stale = True
            if not self.refresh_interval:
                self.refresh_now()

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
        """Quit; while this node holds tasks, ask whether to wait for them or release them."""
        if self._stopping or isinstance(self.screen, QuitScreen):
            return
        held = self._held_tasks()
        if not held:
            self.exit([])
            return
        self.push_screen(QuitScreen(held, self.source.config.grace_period), self._quit_chosen)

    def _held_tasks(self) -> int:
        """Tasks this process runs or holds in its FIFOs (none when attached)."""
        if self.source.state != RUNNING:
            return 0
        try:
            snap = self.source.snapshot()
        except Exception:
            return 0
        return sum(c.busy + c.fifo for c in snap.categories)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        self._stopping = True
        grace = None if choice == WAIT else 0.0
        self.say(
            "Waiting for running tasks, then quitting"
            if grace is None
            else "Releasing tasks and quitting"
        )
        self.run_worker(
            partial(self._stop_node, grace), thread=True, exit_on_error=False, name="stop"
        )

    def _stop_node(self, grace: float | None) -> None:
        released: list[int] = []
        if self.before_stop is not None:
            try:
                self.before_stop()
            except Exception as exc:
                log.error("stopping what feeds the node failed", exc_info=exc)
        try:
            released = self.source.stop(grace)
        except Exception as exc:
            log.error("stopping the node failed", exc_info=exc)
        with contextlib.suppress(Exception):
            self.call_from_thread(self.exit, released)
