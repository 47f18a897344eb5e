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
from textual import on
from textual.message import Message
from textual.widgets import Static

from ..escape import visible
from ..keys import SCHEDULE_KEYS
from ..widgets import format as fmt
from ..widgets.schedules import ScheduleTable, when
from .polled import PolledScreen

PAUSE, RESUME, RUN_NOW = "pause", "resume", "run-now"
EMPTY = "no schedules: add [[schedules]] to the configuration, or sched.schedule(...) in Python"


def summary(infos: Sequence[ScheduleInfo], now: float) -> Text:
    """'3 schedules: 2 active, 1 paused · next: beat at 12:00:10 (in 5.0s)'."""
    paused = sum(1 for i in infos if i.paused)
    text = f"{fmt.counted(len(infos), 'schedule')}: {len(infos) - paused} active, {paused} paused"
    due = [i for i in infos if not i.paused and i.next_run is not None]
    if due:
        first = min(due, key=lambda i: (i.next_run, i.name))
        text += f" · next: {visible(first.name)} at {when(first.next_run, now)}"
    return Text(text)


class SchedulesScreen(PolledScreen[ScheduleInfo]):
    what = "schedules"
    box_title = "Schedules"
    box_keys = "p pause/resume · r run now · esc to close"
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
        self.table: ScheduleTable
        table = ScheduleTable(id="schedules-table")
        super().__init__(read, refresh_interval, table, Static(id="schedules-note"))
        self.now = now
        self.infos: dict[str, ScheduleInfo] = {}  # as last read, by name

    @on(Read)
    def _show(self, event: Read) -> None:
        event.stop()
        infos = self.finish_read(event.infos, event.error)
        if infos is None:
            return
        now = self.now()
        self.infos = {info.name: info for info in infos}
        self.table.update_schedules(infos, now)
        self.note.update(summary(infos, now) if infos else Text(EMPTY, style="dim"))

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
