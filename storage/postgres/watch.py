"""A waiting client's sign that a node committed outcomes: ``LISTEN jobsched_done``.

The completer's batch of outcomes (and a cancel) sends ``NOTIFY jobsched_done`` inside its
transaction, so the notification arrives once per batch, at commit. The watch listens on a
connection of its own; a waiter re-reads its task on each notification and, in case one
was missed (a dropped connection), at least every second anyway.
"""

from __future__ import annotations

from typing import Any

import psycopg

from . import queries


class ListenWatch:
    """A :class:`jobsched.core.commits.CommitWatch` on PostgreSQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        conn.execute(queries.LISTEN_DONE)

    def changed(self, timeout: float) -> bool:
        count = sum(1 for _ in self._conn.notifies(timeout=timeout, stop_after=1))
        if count:  # take whatever else already arrived: one sign for a burst
            count += sum(1 for _ in self._conn.notifies(timeout=0))
        return count > 0

    def close(self) -> None:
        self._conn.close()
