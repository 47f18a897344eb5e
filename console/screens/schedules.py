"""The schedules screen (``s``): every recurring schedule with its spec, next run, last run
and that run's outcome, and whether it is paused; ``p`` pauses or resumes the selected
one and ``r`` runs it now (asking first), for every node on the store.

Like the nodes screen it does not know the source: the app hands it ``read``, which returns
the schedules (the same list ``jobsched schedules`` prints), and ``now``, the app's clock.
Reads run in a thread worker, on opening, after each action and on the app's refresh
interval; a failed read bubbles up as :class:`SchedulesScreen.ReadFailed`. The actions
bubble up as :class:`SchedulesScreen.Act`: the app asks, applies them through its
operation queue and says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobsched.core.schedule_book import ScheduleInfo
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..escape import visible
from ..keys import SCHEDULE_KEYS
from ..widgets.schedules import ScheduleTable, when

PAUSE, RESUME, RUN_NOW = "pause", "resume", "run-now"
EMPTY = "no schedules: add [[schedules]] to the configuration, or sched.schedule(...) in Python"


def summary(infos: Sequence[ScheduleInfo], now: float) -> Text:
    """'3 schedules: 2 active, 1 paused · next: beat at 12:00:10 (in 5.0s)'."""
    paused = sum(1 for i in infos if i.paused)
    plural = "" if len(infos) == 1 else "s"
    text = f"{len(infos)} schedule{plural}: {len(infos) - paused} active, {paused} paused"
    due = [i for i in infos if not i.paused and i.next_run is not None]
    if due:
        first = min(due, key=lambda i: (i.next_run, i.name))
        text += f" · next: {visible(first.name)} at {when(first.next_run, now)}"
    return Text(text)


class SchedulesScreen(ModalScreen[None]):
    BINDINGS = SCHEDULE_KEYS

    class Read(Message):
        """A read of the schedules finished: ``infos`` or the ``error`` it raised."""

        def __init__(
            self, infos: Sequence[ScheduleInfo] | None, error: BaseException | None
        ) -> None:
            super().__init__()
            self.infos = infos
            self.error = error

    class ReadFailed(Message):
        """The schedules could not be read; bubbles to the app (once per distinct error)."""

        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    class Act(Message):
        """The operator asked to pause, resume or run ``info`` now on ``screen``; bubbles
        to the app."""

        def __init__(self, action: str, info: ScheduleInfo, screen: SchedulesScreen) -> None:
            super().__init__()
            self.action = action
            self.info = info
            self.screen = screen

        @property
        def control(self) -> SchedulesScreen:
            return self.screen

    def __init__(
        self,
        read: Callable[[], Sequence[ScheduleInfo]],
        now: Callable[[], float],
        refresh_interval: float | None,
    ) -> None:
        super().__init__()
        self.read = read
        self.now = now
        self.refresh_interval = refresh_interval
        self.table = ScheduleTable(id="schedules-table")
        self.note = Static(id="schedules-note")
        self.infos: dict[str, ScheduleInfo] = {}  # as last read, by name
        self.reads = 0  # finished reads, shown or failed (tests wait on it)
        self._reading = False
        self._again = False
        self._error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="schedules-box", classes="dialog") as box:
            box.border_title = "Schedules"
            box.border_subtitle = "p pause/resume · r run now · esc to close"
            yield self.table
            yield self.note

    def on_mount(self) -> None:
        self.note.update(Text("reading the schedules…", style="dim"))
        self.table.focus()
        self.reload()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.reload)

    @property
    def reading(self) -> bool:
        """A read is in flight (or another is due once it ends)."""
        return self._reading or self._again

    def reload(self, changed: bool = False) -> None:
        """Read the schedules again, off the UI thread, unless a read is in flight; after
        a change (``changed``) read once more when it ends, so that a read begun before
        the change does not have the last word."""
        if self._reading:
            self._again = self._again or changed
            return
        self._reading = True
        self._read()

    @work(thread=True, exit_on_error=False, group="schedules")
    def _read(self) -> None:
        # post_message is thread-safe and never waits on the UI, unlike call_from_thread.
        try:
            infos = self.read()
        except Exception as exc:
            self.post_message(self.Read(None, exc))
        else:
            self.post_message(self.Read(infos, None))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # not a task: the app's task detail must not see it

    @on(Read)
    def _show(self, event: Read) -> None:
        event.stop()
        self._reading = False
        self.reads += 1
        if self._again:
            self._again = False
            self.reload()
        if event.infos is None:
            error = event.error or RuntimeError("no schedules")
            if str(error) != self._error:
                self._error = str(error)
                self.post_message(self.ReadFailed(error))
            self.note.update(Text(visible(f"cannot read the schedules: {error}"), style="red"))
            return
        self._error = None
        now = self.now()
        self.infos = {info.name: info for info in event.infos}
        self.table.update_schedules(event.infos, now)
        self.note.update(summary(event.infos, now) if event.infos else Text(EMPTY, style="dim"))

    def selected(self) -> ScheduleInfo | None:
        key = self.table.selected_key
        info = self.infos.get(key) if key is not None else None
        if info is None:
            self.app.notify("No schedule selected", severity="warning", markup=False)
        return info

    def action_toggle_pause(self) -> None:
        if (info := self.selected()) is not None:
            self.post_message(self.Act(RESUME if info.paused else PAUSE, info, self))

    def action_run_now(self) -> None:
        if (info := self.selected()) is not None:
            self.post_message(self.Act(RUN_NOW, info, self))
