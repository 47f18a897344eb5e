"""The SQLite store's task counters, kept by its own statements.

``task_counts`` holds how many tasks are in each (category, state). Each writing method of
:class:`storage.sqlite.store.SqliteStore` learns from its own statements which rows moved
(an INSERT's rows, an UPDATE's or DELETE's ``RETURNING`` rows), adds them up here per
(category, state), and writes the net change with one upsert per touched pair, in the same
transaction: the counters are exact after every commit, at a cost per statement rather than
per row (row triggers, which SQLite has instead of statement triggers, cost one upsert per
row changed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

#: Adds a change to one counter, creating it at its first task.
ADD_COUNT = (
    "INSERT INTO task_counts (category, state, n) VALUES (?, ?, ?)"
    " ON CONFLICT (category, state) DO UPDATE SET n = n + excluded.n"
)


class Tally:
    """Net changes per (category, state) of one write transaction."""

    __slots__ = ("changes",)

    def __init__(self) -> None:
        self.changes: dict[tuple[str, str], int] = {}

    def add(self, category: str, state: str, n: int = 1) -> None:
        key = (category, state)
        self.changes[key] = self.changes.get(key, 0) + n

    def move(self, category: str, old: str, new: str, n: int = 1) -> None:
        """``n`` tasks of ``category`` went from state ``old`` to ``new``."""
        if old != new and n:
            self.add(category, old, -n)
            self.add(category, new, n)

    def added(self, rows: Iterable[tuple[str, str]], sign: int = 1) -> Tally:
        """Count ``(category, state)`` rows inserted (``sign`` 1) or deleted (-1)."""
        for category, state in rows:
            self.add(category, state, sign)
        return self

    def write(self, conn: sqlite3.Connection) -> None:
        """Apply the changes (call inside the transaction that made them)."""
        rows = [(category, state, n) for (category, state), n in self.changes.items() if n]
        if len(rows) == 1:
            conn.execute(ADD_COUNT, rows[0])
        elif rows:
            conn.executemany(ADD_COUNT, rows)


def moved(conn: sqlite3.Connection, category: str, old: str, new: str, n: int) -> None:
    """Write at once that ``n`` tasks of ``category`` went from ``old`` to ``new``."""
    if n and old != new:
        conn.executemany(ADD_COUNT, ((category, old, -n), (category, new, n)))
