"""jobsched's engine: categories, FIFOs, worker pools, balancer, timer. Standard library only."""

from __future__ import annotations

from .clock import Clock, FakeClock, SystemClock
from .config import CategoryConfig, SchedulerConfig
from .errors import *  # noqa: F403
from .errors import JobschedError
from .store import MemoryStore, TaskStore

__all__ = [
    "CategoryConfig",
    "Clock",
    "FakeClock",
    "JobschedError",
    "MemoryStore",
    "SchedulerConfig",
    "SystemClock",
    "TaskStore",
]
