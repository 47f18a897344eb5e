"""jobsched: an in-process job scheduler with per-category worker pools and a live console.

The distribution installs this one import package. Its parts live in sub-packages:
``jobsched.core`` (the engine, standard library only), ``jobsched.storage`` (the SQLite and
PostgreSQL stores), ``jobsched.console`` (the Typer CLI and the Textual console) and
``jobsched.demo`` (the demo workload).

The public API is importable from here. Names are resolved on first use, so that importing
``jobsched.core`` alone loads neither Peewee nor the console's libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Scheduler": "jobsched.core",
    "SchedulerConfig": "jobsched.core",
    "CategoryConfig": "jobsched.core",
    "Client": "jobsched.core",
    "TaskHandle": "jobsched.core",
    "TaskRecord": "jobsched.core",
    "FakeClock": "jobsched.core",
    "MemoryStore": "jobsched.core",
    "TaskStore": "jobsched.core",
    "handler": "jobsched.core",
    "current_task": "jobsched.core",
    "TaskEvent": "jobsched.core",
    "JobschedError": "jobsched.core",
    "open_store": "jobsched.storage",
    "cron": "jobsched.cron",
    "Every": "jobsched.core.trigger",
    "Trigger": "jobsched.core.trigger",
    "serve_metrics": "jobsched.console.metrics",
}

__all__ = sorted(_EXPORTS)


def _cron_factory(expression: str, timezone: str) -> Any:
    # Imported on first use: croniter loads only when a cron schedule is built.
    from jobsched.cron import cron

    return cron(expression, timezone)


def _install_cron() -> None:
    # Makes cron="..." strings work in the engine (core/trigger.py), which cannot import
    # croniter itself (the engine uses the standard library only).
    from jobsched.core.trigger import install_cron

    install_cron(_cron_factory)


_install_cron()


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jobsched' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
