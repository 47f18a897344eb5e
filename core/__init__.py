"""jobsched's engine: categories, FIFOs, worker pools, balancer, timer. Standard library only."""

from __future__ import annotations

from . import errors as _errors
from .balancer import Balancer, Decision, Demand, allocate
from .client import Client
from .clock import Clock, FakeClock, SystemClock
from .config import CategoryConfig, SchedulerConfig
from .errors import *  # noqa: F403
from .handle import TaskHandle
from .handlers import HandlerSpec, TaskContext, current_task, handler
from .hooks import TaskEvent
from .memory_store import MemoryStore
from .scheduler import Scheduler
from .snapshot import CategorySnapshot, Snapshot, WorkerSnapshot
from .store import TaskStore
from .task import CategorySettings, NodeInfo, TaskRecord

__version__ = "0.1.0"

__all__ = [
    *_errors.__all__,
    "Balancer",
    "CategoryConfig",
    "CategorySettings",
    "CategorySnapshot",
    "Client",
    "Clock",
    "Decision",
    "Demand",
    "FakeClock",
    "HandlerSpec",
    "MemoryStore",
    "NodeInfo",
    "Scheduler",
    "SchedulerConfig",
    "Snapshot",
    "SystemClock",
    "TaskContext",
    "TaskEvent",
    "TaskHandle",
    "TaskRecord",
    "TaskStore",
    "WorkerSnapshot",
    "allocate",
    "current_task",
    "handler",
]
