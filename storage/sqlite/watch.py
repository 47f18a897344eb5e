"""A waiting client's sign that another connection committed: ``PRAGMA data_version``.

``data_version`` changes whenever another connection (of any process) commits to the
file; reading it costs no disk access. The watch reads it on a connection of its own,
first every millisecond and backing off to :data:`SLOWEST`, so a result committed by a
node is seen within about that long, and an idle waiter costs a few dozen reads a second.
"""

from __future__ import annotations

import sqlite3
import threading
import time

#: The first and the longest pause between two reads of ``data_version`` (seconds).
FASTEST, SLOWEST = 0.001, 0.02


class DataVersionWatch:
    """A :class:`jobsched.core.commits.CommitWatch` on a SQLite file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._seen = self._version()
        self._pause = threading.Event()  # never set: waits between reads

    def _version(self) -> int:
        version: int = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return version

    def changed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pause = FASTEST
        while True:
            version = self._version()
            if version != self._seen:
                self._seen = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._pause.wait(min(pause, left))
            pause = min(SLOWEST, pause * 2)

    def close(self) -> None:
        self._conn.close()
