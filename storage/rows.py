"""What both SQL stores share: row shapes (Python values in, records out) and reads.

The SQLite and PostgreSQL stores differ in placeholders and in how they talk to their
database; what a task filter, a settings row, a decision or a node row looks like is the
same, and lives here once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any, ClassVar

from jobsched.core.counters import NodeCounters
from jobsched.core.progress import TaskProgress
from jobsched.core.query import MAX_ID, Page, TaskQuery
from jobsched.core.retention import PruneRule
from jobsched.core.store import CountDifference
from jobsched.core.task import (
    RUNNING,
    STATES,
    TERMINAL,
    AttemptError,
    CategorySettings,
    NodeInfo,
    TaskRecord,
)

from . import query_sql


def task_from(row: Sequence[Any]) -> TaskRecord:
    """A task row (``sql.TASK_COLUMNS`` order) as a record; SQLite gives the flag as 0/1."""
    record = TaskRecord(*row)
    record.cancel_requested = bool(record.cancel_requested)
    return record


def claimed_record(row: Sequence[Any], owner: str, now: float) -> TaskRecord:
    """A queued task row (``sql.TASK_COLUMNS`` order) as the claim leaves it: running,
    owned by ``owner``, one more attempt, started at ``now``."""
    record = task_from(row)
    record.state = RUNNING
    record.owner = owner
    record.attempts += 1
    record.started_at = now
    return record


class SqlReads:
    """The reads both SQL stores make the same way: each store names its module of SQL
    statements (``_q``) and its driver's placeholder (``_mark``), and provides ``_read``."""

    _q: ClassVar[ModuleType]
    _mark: ClassVar[str]

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def cancel_requests(self, owner: str) -> set[int]:
        """Ids of the tasks ``owner`` runs whose cancel someone asked for."""
        return {row[0] for row in self._read(self._q.CANCEL_REQUESTS, (owner,))}

    def delete(self, ids: Iterable[int]) -> int:
        """Delete the finished tasks among ``ids`` in one transaction; return how many."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        sql = query_sql.delete_finished_sql(len(wanted), self._mark)
        with self._write() as conn:
            return self._delete_rows(conn, sql, wanted)

    def _delete_rows(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        """Run a DELETE of tasks and delete their leftover rows; return how many tasks it
        deleted. A store that keeps its counters in its own code takes the rows off them
        here too."""
        ids = [row[0] for row in conn.execute(sql + " RETURNING id", params).fetchall()]
        delete_leftovers(conn, ids, self._q)
        return len(ids)

    def set_progress(self, task_id: int, progress: TaskProgress) -> None:
        """Replace the task's latest progress report (one upsert in autocommit)."""
        p = progress
        values = (task_id, p.attempt, p.fraction, p.done, p.total, p.note, p.at, task_id)
        with self._write() as conn:
            conn.execute(query_sql.set_progress_sql(self._mark), values)

    def get_progress(self, ids: Iterable[int]) -> dict[int, TaskProgress]:
        wanted = [int(i) for i in dict.fromkeys(ids) if 0 < int(i) <= MAX_ID]
        if not wanted:
            return {}
        rows = self._read(query_sql.get_progress_sql(len(wanted), self._mark), wanted)
        return {int(row[0]): TaskProgress(*row[1:]) for row in rows}

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        """The task's earlier attempts, oldest first (see ``TaskStore.attempt_errors``)."""
        if not 0 < int(task_id) <= MAX_ID:
            return []
        rows = self._read(query_sql.get_attempts_sql(self._mark), (task_id,))
        return [AttemptError(*row) for row in rows]

    def queue_heads(self, categories: Iterable[str]) -> dict[str, float]:
        """category -> ``run_at`` of its next queued task (categories with none left out)."""
        sql = query_sql.queue_head_sql(self._mark)
        heads: dict[str, float] = {}
        for category in categories:
            rows = self._read(sql, (category,))
            if rows:
                heads[category] = float(rows[0][0])
        return heads

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Newest first."""
        if limit <= 0:
            return []
        q, mark = self._q, self._mark
        clause, params = task_filter(state, category, mark)
        query = f"SELECT {q.TASK_COLUMNS} FROM tasks{clause} ORDER BY id DESC LIMIT {mark}"
        return [task_from(row) for row in self._read(query, (*params, limit))]

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        """A page of the tasks a filter matches, keyset-paged on the id: an index walk
        (see ``query_sql.page_sql``). A filter of both states and categories reads the
        kept counts first, to walk the smaller of the two."""
        if page.limit <= 0:
            return []
        both = page.query.states and page.query.categories
        walk = query_sql.choose_walk(page.query, self.counts() if both else {})
        query, params = query_sql.page_sql(
            self._q.TASK_COLUMNS, page, self._mark, walk, self._q.LIST_INDEXES
        )
        return [task_from(row) for row in self._read(query, params)]

    def count_tasks(self, query: TaskQuery) -> int:
        sql, params = query_sql.count_sql(query, self._mark)
        return int(self._read(sql, params)[0][0])

    def counts(self) -> dict[str, dict[str, int]]:
        """category -> state -> number of tasks (every state present, zeros included),
        from the counters every write keeps: a few rows, however many tasks there are."""
        return counts_from(self._read(self._q.COUNTS))

    def count_prunable(self, rule: PruneRule) -> int:
        if rule.state not in TERMINAL:
            return 0
        sql, params = query_sql.prunable_count_sql(rule, self._mark)
        return int(self._read(sql, params)[0][0])

    def load_settings(self) -> dict[str, CategorySettings]:
        return settings_from(self._read(self._q.LOAD_SETTINGS))

    def settings_version(self) -> int:
        version: int = self._read(self._q.SETTINGS_VERSION)[0][0]
        return version

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first; each has its time under ``"at"``."""
        if limit <= 0:
            return []
        return decisions_from(self._read(self._q.RECENT_DECISIONS, (limit,)))

    def nodes(self) -> list[NodeInfo]:
        return nodes_from(self._read(self._q.NODES))


def delete_leftovers(conn: Any, ids: Sequence[int], q: ModuleType) -> None:
    """In the transaction that deleted the tasks ``ids``: delete their progress reports
    and earlier attempts (one statement per side table, whatever the number of ids; ``q``
    is the backend's SQL module, with its ``IDS_IN`` and ``ids_param``)."""
    if ids:
        for table in query_sql.LEFTOVER_TABLES:
            conn.execute(query_sql.delete_leftovers_sql(table, q.IDS_IN), (q.ids_param(ids),))


def keep_attempts(conn: Any, attempts: Sequence[tuple[int, AttemptError]], mark: str) -> None:
    """In the caller's transaction: keep how each (task id, attempt) ended, and drop that
    task's attempts beyond the newest ``ATTEMPTS_KEPT``."""
    keep, trim = query_sql.keep_attempt_sql(mark), query_sql.trim_attempts_sql(mark)
    for task_id, a in attempts:
        conn.execute(keep, (task_id, a.number, a.error, a.reason, a.ended_at))
        conn.execute(trim, (task_id, a.number))


def task_filter(state: str | None, category: str | None, mark: str) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (or nothing) and its parameters for ``list_tasks``; ``mark`` is the
    driver's placeholder (``?`` or ``%s``)."""
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        where.append(f"state = {mark}")
        params.append(state)
    if category is not None:
        where.append(f"category = {mark}")
        params.append(category)
    return (f" WHERE {' AND '.join(where)}" if where else ""), params


def counts_from(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, int]]:
    """category -> state -> number, every state present (zeros included)."""
    result: dict[str, dict[str, int]] = {}
    for category, state, number in rows:
        result.setdefault(category, dict.fromkeys(STATES, 0))[state] = int(number)
    return result


def count_differences(rows: Iterable[Sequence[Any]]) -> list[CountDifference]:
    """``(category, state, kept, actual)`` wherever the counters (rows tagged 0) and a
    full count (rows tagged 1) disagree, sorted."""
    kept: dict[tuple[str, str], int] = {}
    actual: dict[tuple[str, str], int] = {}
    for tag, category, state, number in rows:
        (actual if tag else kept)[(category, state)] = int(number)
    return [
        (category, state, kept.get((category, state), 0), actual.get((category, state), 0))
        for category, state in sorted(kept.keys() | actual.keys())
        if kept.get((category, state), 0) != actual.get((category, state), 0)
    ]


def settings_from(rows: Iterable[Sequence[Any]]) -> dict[str, CategorySettings]:
    return {
        category: CategorySettings(priority, bool(paused), pinned, low, high, rate, burst)
        for category, priority, paused, pinned, low, high, rate, burst in rows
    }


def settings_values(category: str, settings: CategorySettings) -> tuple[Any, ...]:
    return (
        category,
        settings.priority,
        bool(settings.paused),
        settings.pinned,
        settings.min_workers,
        settings.max_workers,
        settings.rate,
        settings.burst,
    )


def decisions_from(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Decision bodies with their time under ``"at"``."""
    return [dict(json.loads(body), at=at) for at, body in rows]


def node_values(node: NodeInfo) -> tuple[Any, ...]:
    return (
        node.node_id,
        node.host,
        node.pid,
        node.started_at,
        node.heartbeat_at,
        node.budget,
        json.dumps(node.workers, default=str),
        json.dumps(node.counters.to_dict(), default=str),
        bool(node.stopped),
    )


def nodes_from(rows: Iterable[Sequence[Any]]) -> list[NodeInfo]:
    return [
        NodeInfo(node_id, host, pid, started, beat, budget, json.loads(workers),
                 NodeCounters.from_dict(json.loads(counters)), bool(stopped))
        for node_id, host, pid, started, beat, budget, workers, counters, stopped in rows
    ]  # fmt: skip
