"""What quitting the console does: quit at once while this process holds no task; else
ask whether to wait for the running tasks or release them, then stop the node in a thread
worker (after ``before_stop``, the demo workload's stop) and exit with the ids released.

The app binds the key and hands it to :class:`QuitFlow`.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial
from typing import TYPE_CHECKING

from .screens.quit import WAIT, QuitScreen
from .source import RUNNING

if TYPE_CHECKING:
    from .app import JobschedApp

log = logging.getLogger("jobsched.console")


class QuitFlow:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app
        self._stopping = False

    def quit(self) -> None:
        """Quit; while this node holds tasks, ask whether to wait for them or release them."""
        app = self.app
        if self._stopping or isinstance(app.screen, QuitScreen):
            return
        held = self.held_tasks()
        if not held:
            app.exit([])
            return
        app.push_screen(QuitScreen(held, app.source.config.grace_period), self.chosen)

    def held_tasks(self) -> int:
        """Tasks this process runs or holds in its FIFOs (none when attached)."""
        source = self.app.source
        if source.state != RUNNING:
            return 0
        try:
            snap = source.snapshot()
        except Exception:
            return 0
        return sum(c.busy + c.fifo for c in snap.categories)

    def chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        self._stopping = True
        grace = None if choice == WAIT else 0.0
        self.app.say(
            "Waiting for running tasks, then quitting"
            if grace is None
            else "Releasing tasks and quitting"
        )
        self.app.run_worker(
            partial(self.stop_node, grace), thread=True, exit_on_error=False, name="stop"
        )

    def stop_node(self, grace: float | None) -> None:
        """Runs in a thread worker: stop what feeds the node, then the node; exit."""
        app = self.app
        released: list[int] = []
        if app.before_stop is not None:
            try:
                app.before_stop()
            except Exception as exc:
                log.error("stopping what feeds the node failed", exc_info=exc)
        try:
            released = app.source.stop(grace)
        except Exception as exc:
            log.error("stopping the node failed", exc_info=exc)
        with contextlib.suppress(Exception):
            app.call_from_thread(app.exit, released)
