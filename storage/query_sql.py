"""A task filter (:class:`~jobsched.core.query.TaskQuery`) as a SQL WHERE clause, for both
SQL stores: the same rules as ``TaskQuery.matches``, evaluated in the database.

Placeholders differ per driver (``?`` or ``%s``). Text search is ``LIKE`` with ``%``, ``_``
and ``\\`` escaped on SQLite (whose ``LIKE`` and ``lower()`` both fold ASCII letters only,
so it finds what ``instr(lower(...))`` found, several times faster) and ``strpos`` on
lower-cased columns on PostgreSQL: either way ``%`` and ``_`` in a search are plain
characters, never patterns.

A page of the task list is an index walk in id order (:func:`page_sql`): over the primary
key, or, when the filter names states or categories, over ``tasks_state (state, id)`` or
``tasks_category (category, id)``, one walk per value, merged (:func:`choose_walk` picks
which of the two).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from jobsched.core.query import Page, TaskQuery
from jobsched.core.retention import PruneRule
from jobsched.core.task import ATTEMPTS_KEPT

_T = TypeVar("_T")


def size_class(count: int) -> int:
    """``count`` rounded up to a power of two: the size of the statement that takes it.

    A connection keeps every distinct SQL text it ran prepared (the sqlite3 module's cache
    holds 128 per connection; psycopg prepares a repeated one too), and a statement with
    hundreds of placeholders holds up to a few hundred kilobytes of the database
    library's memory. Written for each exact count, batches of varying sizes leave one
    such statement per size ever seen, and the process's memory climbs for hours; in
    size classes there are at most a dozen of each kind.
    """
    return 1 << max(0, count - 1).bit_length()


def in_size_classes(rows: Sequence[_T], most: int) -> list[Sequence[_T]]:
    """``rows`` cut into runs of at most ``most`` (a power of two), each run's length a
    power of two, longest first: for statements that cannot be padded (an INSERT)."""
    runs: list[Sequence[_T]] = []
    start = 0
    while start < len(rows):
        n = min(most, 1 << ((len(rows) - start).bit_length() - 1))
        runs.append(rows[start : start + n])
        start += n
    return runs


def padded(values: Sequence[_T]) -> list[_T]:
    """``values`` lengthened to their :func:`size_class` by repeating the last one, for
    an ``IN (...)`` list (a repeated id matches nothing more)."""
    out = list(values)
    if out:
        out.extend([out[-1]] * (size_class(len(out)) - len(out)))
    return out


#: A walk of a list index: the column (``state`` or ``category``) and its values.
Walk = tuple[str, tuple[str, ...]]
_WALK_FIELDS = {"state": "states", "category": "categories"}


def where(query: TaskQuery, mark: str) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (or nothing) and its parameters."""
    like = mark == "?"  # SQLite
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: tuple[Any, ...]) -> None:
        if values:
            clauses.append(f"{column} IN ({', '.join([mark] * len(values))})")
            params.extend(values)

    def contains(column: str, text: str) -> str:
        # A NULL column matches no text either way: the comparison is NULL, not true.
        if like:
            escaped = _escape_like(text)
            params.append(f"%{escaped}%")
            # ESCAPE costs a fifth of the scan: only where there is something to escape
            return f"{column} LIKE {mark}" + (" ESCAPE '\\'" if escaped != text else "")
        params.append(text)
        return f"strpos(lower({column}), {mark}) > 0"

    any_of("state", query.states)
    any_of("category", query.categories)
    any_of("dedup_key", query.keys)
    handler = [f"handler = {mark}" for _ in query.handlers]
    params.extend(query.handlers)
    for prefix in query.handler_prefixes:
        handler.append(f"substr(handler, 1, {mark}) = {mark}")
        params.extend((len(prefix), prefix))
    if handler:
        clauses.append(f"({' OR '.join(handler)})")
    if query.id_ranges:
        spans = []
        for lo, hi in query.id_ranges:
            spans.append(f"id BETWEEN {mark} AND {mark}")
            params.extend((lo, hi))
        clauses.append(f"({' OR '.join(spans)})")
    clauses.extend(contains("error", text) for text in query.errors)
    clauses.extend(contains("payload", text) for text in query.payloads)
    if query.created_since is not None:
        clauses.append(f"created_at >= {mark}")
        params.append(query.created_since)
    if query.created_before is not None:
        clauses.append(f"created_at < {mark}")
        params.append(query.created_before)
    for word in query.words:
        parts = [contains(column, word) for column in ("handler", "category", "dedup_key", "error")]
        clauses.append(f"({' OR '.join(parts)})")
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def choose_walk(query: TaskQuery, counts: Mapping[str, Mapping[str, int]]) -> Walk | None:
    """Which list index a page of ``query`` walks: ``state`` for a filter of states,
    ``category`` for one of categories, and for both the one that passes fewer rows by
    the kept counts (``counts()``: category -> state -> number), as the matching rows
    are the same either way. None: the filter names neither, the page walks the ids."""
    states, categories = tuple(dict.fromkeys(query.states)), tuple(dict.fromkeys(query.categories))
    if not categories:
        return ("state", states) if states else None
    if not states:
        return ("category", categories)
    by_state = sum(per.get(state, 0) for per in counts.values() for state in states)
    by_category = sum(sum(counts.get(category, {}).values()) for category in categories)
    return ("state", states) if by_state <= by_category else ("category", categories)


def page_sql(
    columns: str,
    page: Page,
    mark: str,
    walk: Walk | None = None,
    indexes: Mapping[str, str] | None = None,
) -> tuple[str, list[Any]]:
    """The SELECT of one page of tasks, keyset-paged on the id: an index walk, however
    deep the page. With ``walk``, one walk per value (``state = ?`` or ``category = ?``
    and the rest of the filter, in id order, at most a page each), merged in id order:
    a filter of several states never sorts every row of them. ``indexes`` names the
    index a walk of each column must use (SQLite's ``INDEXED BY``: without statistics
    its planner may pick an index that does not give the id order, and sort)."""
    if walk is None:
        return _page_select(columns, page, page.query, mark, "tasks")
    column, values = walk
    index = (indexes or {}).get(column)
    table = f"tasks INDEXED BY {index}" if index else "tasks"
    arms = [
        _page_select(columns, page, replace(page.query, **{_WALK_FIELDS[column]: (value,)}),
                     mark, table)
        for value in dict.fromkeys(values)
    ]  # fmt: skip
    if len(arms) == 1:
        return arms[0]
    union = " UNION ALL ".join(f"SELECT * FROM ({sql}) AS w{n}" for n, (sql, _) in enumerate(arms))
    order = "DESC" if page.order == "newest" else "ASC"
    params = [value for _, arm in arms for value in arm]
    return f"SELECT * FROM ({union}) AS w ORDER BY id {order} LIMIT {mark}", [*params, page.limit]


def _page_select(
    columns: str, page: Page, query: TaskQuery, mark: str, table: str
) -> tuple[str, list[Any]]:
    clause, params = where(query, mark)
    newest = page.order == "newest"
    if page.after is not None:
        clause += (" AND " if clause else " WHERE ") + f"id {'<' if newest else '>'} {mark}"
        params.append(page.after)
    order = "DESC" if newest else "ASC"
    params.append(page.limit)
    return f"SELECT {columns} FROM {table}{clause} ORDER BY id {order} LIMIT {mark}", params


def count_sql(query: TaskQuery, mark: str) -> tuple[str, list[Any]]:
    clause, params = where(query, mark)
    return f"SELECT count(*) FROM tasks{clause}", params


def delete_finished_sql(count: int, mark: str) -> str:
    """DELETE of up to ``count`` ids (one parameter each), finished rows only: a live task
    is never deleted, whatever the caller passes."""
    ids = ", ".join([mark] * count)
    return (
        f"DELETE FROM tasks WHERE id IN ({ids}) AND state IN ('succeeded', 'failed', 'cancelled')"
    )


def queue_head_sql(mark: str) -> str:
    """The ``run_at`` of one category's next task to claim (highest priority, then lowest
    queued id): a walk of the claim index, however long the queue."""
    return (
        f"SELECT run_at FROM tasks WHERE category = {mark} AND state = 'queued'"
        " ORDER BY priority DESC, id LIMIT 1"
    )


def prune_where(rule: PruneRule, mark: str, spare: tuple[str, Any] | None) -> tuple[str, list[Any]]:
    """`` WHERE ...`` of the tasks a retention rule matches (see ``PruneRule``): walks the
    ``tasks_finished`` index. ``spare`` is the backend's clause leaving ids out, with its
    one parameter (a list of ids in the driver's form)."""
    clauses = [f"state = {mark}", f"finished_at < {mark}"]
    params: list[Any] = [rule.state, rule.finished_before]
    if rule.keep is not None:
        # The newest `keep` stay: only rows at or before the (keep + 1)-th newest go; with
        # fewer rows than that the subquery is NULL and nothing matches.
        clauses.append(
            f"(finished_at, id) <= (SELECT finished_at, id FROM tasks WHERE state = {mark}"
            " AND finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC"
            f" LIMIT 1 OFFSET {mark})"
        )
        params.extend((rule.state, rule.keep))
    if spare is not None:
        clauses.append(spare[0])
        params.append(spare[1])
    return " WHERE " + " AND ".join(clauses), params


def prune_sql(
    rule: PruneRule, limit: int, mark: str, spare: tuple[str, Any] | None
) -> tuple[str, list[Any]]:
    """The DELETE of one batch: at most ``limit`` matching tasks, oldest finished first."""
    clause, params = prune_where(rule, mark, spare)
    params.append(limit)
    return (
        f"DELETE FROM tasks WHERE id IN (SELECT id FROM tasks{clause}"
        f" ORDER BY finished_at, id LIMIT {mark})",
        params,
    )


def prunable_any_sql(
    rule: PruneRule, mark: str, spare: tuple[str, Any] | None
) -> tuple[str, list[Any]]:
    """Whether a retention rule matches any task: a read before taking the write lock."""
    clause, params = prune_where(rule, mark, spare)
    return f"SELECT 1 FROM tasks{clause} LIMIT 1", params


def prunable_count_sql(rule: PruneRule, mark: str) -> tuple[str, list[Any]]:
    clause, params = prune_where(rule, mark, None)
    return f"SELECT count(*) FROM tasks{clause}", params


#: Columns of task_progress in :class:`core.progress.TaskProgress` field order (after id).
PROGRESS_COLUMNS = "attempt, fraction, done, total, note, at"


def set_progress_sql(mark: str) -> str:
    """Upsert of one task's latest progress report, only while the task exists (same text
    on SQLite and PostgreSQL; the casts type PostgreSQL's parameters). Parameters: task
    id, the report's fields, the task id again."""
    types = ("BIGINT", "INTEGER", "DOUBLE PRECISION", "BIGINT", "BIGINT", "TEXT",
             "DOUBLE PRECISION")  # fmt: skip
    values = ", ".join(f"CAST({mark} AS {t})" for t in types)
    return (
        f"INSERT INTO task_progress (task_id, {PROGRESS_COLUMNS}) SELECT {values} "
        f"WHERE EXISTS (SELECT 1 FROM tasks WHERE id = {mark}) "
        "ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, "
        "fraction = excluded.fraction, done = excluded.done, total = excluded.total, "
        "note = excluded.note, at = excluded.at"
    )


def get_progress_sql(count: int, mark: str) -> str:
    ids = ", ".join([mark] * count)
    return f"SELECT task_id, {PROGRESS_COLUMNS} FROM task_progress WHERE task_id IN ({ids})"


#: The side tables whose rows belong to one task each (``task_id``): a deleted task's go.
LEFTOVER_TABLES = ("task_progress", "task_attempts")


def delete_leftovers_sql(table: str, ids_in: str) -> str:
    """The rows of ``table`` (one of :data:`LEFTOVER_TABLES`) of deleted tasks: ``ids_in``
    is the backend's membership test in one array parameter (its ``IDS_IN``), so one
    prepared statement serves any number of ids."""
    return f"DELETE FROM {table} WHERE task_id {ids_in}"


# --- earlier attempts (task_attempts) ------------------------------------------------------
#: Columns of task_attempts in :class:`core.task.AttemptError` field order (after the id).
ATTEMPT_COLUMNS = "attempt, error, reason, ended_at"


#: How every writer of task_attempts begins (then its rows: VALUES or a SELECT) ...
INSERT_ATTEMPTS = f"INSERT INTO task_attempts (task_id, {ATTEMPT_COLUMNS})"
#: ... and ends: an attempt written again (the same attempt ended twice cannot happen, but
#: must never fail a finish or a recovery) replaces what was kept.
ATTEMPT_REPLACES = (
    " ON CONFLICT (task_id, attempt) DO UPDATE SET error = excluded.error,"
    " reason = excluded.reason, ended_at = excluded.ended_at"
)


def keep_attempt_sql(mark: str) -> str:
    """Keep how one attempt ended: task id, attempt, error, reason, end time."""
    return f"{INSERT_ATTEMPTS} VALUES ({mark}, {mark}, {mark}, {mark}, {mark}){ATTEMPT_REPLACES}"


def trim_attempts_sql(mark: str) -> str:
    """Drop a task's attempts older than the newest ``ATTEMPTS_KEPT``: task id, then the
    newest attempt's number."""
    return (
        f"DELETE FROM task_attempts WHERE task_id = {mark} AND attempt <= {mark} - {ATTEMPTS_KEPT}"
    )


def get_attempts_sql(mark: str) -> str:
    return f"SELECT {ATTEMPT_COLUMNS} FROM task_attempts WHERE task_id = {mark} ORDER BY attempt"


def clear_attempts_sql(mark: str) -> str:
    """A task's earlier attempts, forgotten when an operator's retry starts it afresh."""
    return f"DELETE FROM task_attempts WHERE task_id = {mark}"
