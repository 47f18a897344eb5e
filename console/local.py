"""A node that runs in this process, seen through the console's :class:`~console.source.Source`.

The console's default: ``jobsched console`` builds a :class:`~core.Scheduler` in the
composition root and hands the app this wrapper, which passes every call on to the
scheduler's public API. Tests wrap a scheduler built with ``threaded=False`` and step it.
"""

from __future__ import annotations

from jobsched.core import Clock, Scheduler, Snapshot
from jobsched.core.config import SchedulerConfig

from .client_calls import ClientCalls


class LocalNode(ClientCalls):
    """The :class:`~console.source.Source` of a scheduler running in this process."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.calls = scheduler

    # --- what it is ----------------------------------------------------------------------
    @property
    def config(self) -> SchedulerConfig:
        return self.scheduler.config

    @property
    def clock(self) -> Clock:
        return self.scheduler.clock

    @property
    def location(self) -> str:
        return self.scheduler.location

    @property
    def state(self) -> str:
        return self.scheduler.state

    def start(self) -> None:
        self.scheduler.start()

    def stop(self, grace: float | None = None) -> list[int]:
        return self.scheduler.stop(grace)

    def snapshot(self) -> Snapshot:
        return self.scheduler.snapshot()
