"""The systems ``bench/run.py`` measures: jobsched and the references a user would pick
instead. Each has a runner module here with one function per scenario it supports; the
parent runs each call in a fresh child process (``bench/child.py``)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class System:
    key: str
    label: str
    module: str  # under bench.systems
    requires: str | None = None  # an importable package, if not the standard library
    pip: str | None = None  # what to install when it is missing

    def missing(self) -> str | None:
        """Why this system cannot run here (its package is not installed), or None."""
        if self.requires and importlib.util.find_spec(self.requires) is None:
            return f"{self.pip or self.requires} is not installed (pip install -e '.[bench]')"
        return None


SYSTEMS = {
    s.key: s
    for s in (
        System("jobsched", "jobsched (SQLite, 4 workers)", "jobsched"),
        System("threadpool", "ThreadPoolExecutor(4), in memory", "threadpool"),
        System("sqlite", "raw sqlite3, WAL, synchronous=NORMAL", "rawsqlite"),
        System("huey", "Huey SqliteHuey, 4 threads", "huey_sqlite", "huey", "huey"),
        System(
            "persist-queue",
            "persist-queue SQLiteAckQueue, 4 threads",
            "pqueue",
            "persistqueue",
            "persist-queue",
        ),
    )
}
