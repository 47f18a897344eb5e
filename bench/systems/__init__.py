"""The systems ``bench/run.py`` measures: jobsched and the references a user would pick
instead. Each has a runner module here with one function per scenario it supports; the
parent runs each call in a fresh child process (``bench/child.py``)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class System:
    key: str
    label: str
    module: str  # under bench.systems
    requires: str | None = None  # an importable package, if not the standard library
    pip: str | None = None  # what to install when it is missing
    #: Keyword arguments every scenario function of this system gets (a variant's settings).
    options: dict[str, Any] = field(default_factory=dict)

    def missing(self) -> str | None:
        """Why this system cannot run here (its package is not installed), or None."""
        if self.requires and importlib.util.find_spec(self.requires) is None:
            return f"{self.pip or self.requires} is not installed (pip install -e '.[bench]')"
        return None


SYSTEMS = {
    s.key: s
    for s in (
        System("jobsched", "jobsched (SQLite, 4 workers)", "jobsched"),
        System("minimal", "minimal durable design (one writer thread)", "minimal"),
        System(
            "minimal-claims",
            "minimal design with claims (one writer thread)",
            "minimal",
            options={"claims": True},
        ),
        System("threadpool", "ThreadPoolExecutor(4), in memory", "threadpool"),
        System("sqlite", "raw sqlite3, WAL, synchronous=NORMAL", "rawsqlite"),
        System("huey", "Huey SqliteHuey, 4 threads, NORMAL", "huey_sqlite", "huey", "huey"),
        System(
            "huey-full",
            "Huey SqliteHuey, 4 threads, FULL (its default)",
            "huey_sqlite",
            "huey",
            "huey",
            {"full": True},
        ),
        System(
            "persist-queue",
            "persist-queue SQLiteAckQueue, 4 threads",
            "pqueue",
            "persistqueue",
            "persist-queue",
        ),
    )
}
