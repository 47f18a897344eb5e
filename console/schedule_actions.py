"""What the schedules screen's keys do: pause and resume at once, run-now after a yes.

The screen posts :class:`~console.screens.schedules.SchedulesScreen.Act`; the app hands it
here. Every source call goes through the app's operation queue (a thread worker) and
makes the same engine call as ``jobsched schedules pause|resume|run-now``, so the change
is stored and reaches every node; the outcome is a notification either way (a failure
through the app's one error path), and the screen reads the schedules again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .escape import visible
from .screens.schedules import PAUSE, RUN_NOW, SchedulesScreen

if TYPE_CHECKING:
    from .app import JobschedApp


class ScheduleActions:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app

    def act(self, event: SchedulesScreen.Act) -> None:
        screen, name = event.screen, event.info.name
        if event.action == RUN_NOW:
            self.app.confirm(
                f"Run {visible(name)} now",
                f"Run schedule {visible(name)} now? One task of {visible(event.info.handler)} "
                "is queued at once, beside its ticks (they run as before).",
                partial(self.run_now, name, screen),
                "Run it",
            )
        elif event.action == PAUSE:
            self._submit(f"Pause schedule {visible(name)}", partial(self.app.source.pause_schedule, name),
                         lambda _: f"Schedule {visible(name)} paused: its ticks do not run", screen)  # fmt: skip
        else:
            self._submit(f"Resume schedule {visible(name)}", partial(self.app.source.resume_schedule, name),
                         lambda _: f"Schedule {visible(name)} resumed from its next tick", screen)  # fmt: skip

    def run_now(self, name: str, screen: SchedulesScreen) -> None:
        self._submit(
            f"Run schedule {visible(name)} now",
            partial(self.app.source.run_schedule_now, name),
            lambda task_id: f"Schedule {visible(name)}: task {task_id} queued",
            screen,
        )

    def _submit(
        self, label: str, call: Callable[[], Any], told: Callable[[Any], str],
        screen: SchedulesScreen,
    ) -> None:  # fmt: skip
        def done(result: Any) -> None:
            self.app.say(told(result))
            if screen.is_attached:  # closed meanwhile: nothing to read for
                screen.reload(changed=True)

        self.app.ops.submit(label, call, done)
