"""History by the minute in SQL, the same for both stores (``core/history.py``).

A node writes one row per (minute, category, node) once the minute is over: an upsert
that replaces, so a retry after a doubtful commit counts nothing twice, and nodes never
touch each other's rows. A read adds up the counts of every node and takes the largest
depth and latency, in the primary key's order (minute, then category: no sort); a prune
deletes the oldest minutes a batch at a time. All three walk the primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from jobsched.core.history import MinuteStats

ADD = (
    "INSERT INTO category_history (minute, category, node_id, succeeded, failed, queued,"
    " latency) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (minute, category, node_id) DO UPDATE"
    " SET succeeded = excluded.succeeded, failed = excluded.failed, queued = excluded.queued,"
    " latency = excluded.latency"
)
READ = (
    "SELECT category, minute, SUM(succeeded), SUM(failed), MAX(queued), MAX(latency)"
    " FROM category_history WHERE minute >= ? GROUP BY minute, category"
    " ORDER BY minute, category"
)
ANY_OLD = "SELECT 1 FROM category_history WHERE minute < ? LIMIT 1"
PRUNE = (
    "DELETE FROM category_history WHERE (minute, category, node_id) IN"
    " (SELECT minute, category, node_id FROM category_history WHERE minute < ?"
    " ORDER BY minute LIMIT ?)"
)


def _sql(text: str, mark: str) -> str:
    return text.replace("?", mark)


class HistoryRows:
    """The history methods of the :class:`~jobsched.core.store.TaskStore` protocol, for a
    SQL store that provides ``_mark``, ``_read`` and ``_write``."""

    _mark: ClassVar[str]

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def add_history(self, node_id: str, rows: Sequence[MinuteStats]) -> None:
        if not rows:
            return
        sql = _sql(ADD, self._mark)
        with self._write() as conn:
            for r in rows:
                values = (r.minute, r.category, node_id, r.succeeded, r.failed, r.queued)
                conn.execute(sql, (*values, r.latency))

    def history(self, since: int) -> list[MinuteStats]:
        return [
            MinuteStats(category, int(minute), int(succeeded), int(failed), int(queued),
                        None if latency is None else float(latency))
            for category, minute, succeeded, failed, queued, latency
            in self._read(_sql(READ, self._mark), (int(since),))
        ]  # fmt: skip

    def prune_history(self, before: int, limit: int) -> int:
        """Delete at most ``limit`` rows of minutes before ``before``, oldest first; one
        transaction, taken only when a read found such a row (the retention unit asks on
        most of its passes, and there is an old minute once a minute at most)."""
        if limit <= 0 or not self._read(_sql(ANY_OLD, self._mark), (int(before),)):
            return 0
        with self._write() as conn:
            return int(conn.execute(_sql(PRUNE, self._mark), (int(before), limit)).rowcount)
