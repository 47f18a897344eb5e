"""Every SQL statement of the SQLite store, named, in one place (``?`` placeholders).

The hot paths (insert, claim, finish) are plain SQL run on the thread's sqlite3
connection, not Peewee queries: one prepared statement per call. The tables they read
are described once, in ``storage/models.py``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import peewee as pw

from ..columns import FILL_COUNTS, LIVE, SCAN_COUNTS, TASK_COLUMNS, TASK_FIELDS
from ..models import SqliteTasks

# SQLite stores whole REAL values as integers on disk; RETURNING hands them back without
# the conversion a SELECT makes, so the claim casts them.
_REAL_FIELDS = {
    field.column_name
    for field in SqliteTasks._meta.sorted_fields
    if isinstance(field, pw.DoubleField)
}
_RETURNED_COLUMNS = ", ".join(
    f"CAST({name} AS REAL)" if name in _REAL_FIELDS else name for name in TASK_FIELDS
)

NEXT_TASK_ID = (
    "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tasks'), 0),"
    " COALESCE((SELECT MAX(id) FROM tasks), 0)"
)
LIVE_ID_FOR_KEY = f"SELECT id FROM tasks WHERE dedup_key = ? AND {LIVE}"
_INSERT_TASKS = (
    "INSERT INTO tasks (id, handler, category, state, payload, run_at, created_at,"
    " max_attempts, attempts, timeout, dedup_key, priority) VALUES "
)
_TASK_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
#: Rows per INSERT statement: one multi-row INSERT per 128 tasks is faster than an
#: executemany of single-row INSERTs. A power of two: a batch is written in statements
#: of power-of-two sizes (``query_sql.size_class``), so few distinct ones stay prepared.
INSERT_CHUNK = 128


#: One task, id chosen by SQLite: the acknowledged single submit is one statement.
INSERT_ONE = (
    "INSERT INTO tasks (handler, category, state, payload, run_at, created_at, max_attempts,"
    " attempts, timeout, dedup_key, priority) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
)

#: One due task inserted already claimed by a node (the direct hand-off): what INSERT_ONE
#: and CLAIM would have written, in one statement.
INSERT_CLAIMED = (
    "INSERT INTO tasks (handler, category, state, payload, run_at, created_at, max_attempts,"
    " attempts, timeout, owner, started_at, priority)"
    " VALUES (?, ?, 'running', ?, ?, ?, ?, 1, ?, ?, ?, ?)"
)


@functools.lru_cache(maxsize=16)
def insert_tasks(rows: int) -> str:
    """An INSERT of ``rows`` tasks; each row takes 11 parameters (see ``_TASK_VALUES``)."""
    return _INSERT_TASKS + ", ".join([_TASK_VALUES] * rows)


# The timer names its index: with no statistics, SQLite would rather walk tasks_state
# (state = 'scheduled'), every scheduled row, than the range of due ones in tasks_due.
_DUE = "tasks INDEXED BY tasks_due"
ANY_DUE = f"SELECT 1 FROM {_DUE} WHERE state = 'scheduled' AND run_at <= ? LIMIT 1"
PROMOTE_DUE = (
    f"UPDATE {_DUE} SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ?"
    " RETURNING category"
)
NEXT_RUN_AT = f"SELECT MIN(run_at) FROM {_DUE} WHERE state = 'scheduled'"

ANY_QUEUED = "SELECT 1 FROM tasks WHERE category = ? AND state = 'queued' LIMIT 1"
#: The claim reads the next queued rows in claim order, then marks them (``claim_rows``),
#: in one write transaction: cheaper than one ``UPDATE ... RETURNING`` of every column,
#: which SQLite buffers row by row before handing back the first.
CLAIM_NEXT = (
    f"SELECT {TASK_COLUMNS} FROM tasks WHERE category = ? AND state = 'queued'"
    " ORDER BY priority DESC, id LIMIT ?"
)


@functools.lru_cache(maxsize=16)
def claim_rows(count: int) -> str:
    """Mark ``count`` queued rows claimed (after the owner and the start time); callers
    pad the ids to their ``query_sql.size_class``. What it sets, ``claimed_record``
    sets in the rows ``CLAIM_NEXT`` read."""
    ids = ", ".join(["?"] * count)
    return (
        "UPDATE tasks SET state = 'running', owner = ?, attempts = attempts + 1, started_at = ?"
        f" WHERE id IN ({ids}) AND state = 'queued'"
    )


def claim_candidates(blocked: int) -> str:
    """The next queued ``(id, handler)`` of a category in claim order, leaving out
    ``blocked`` handlers (one parameter each) whose token bucket is empty."""
    skip = f" AND handler NOT IN ({', '.join(['?'] * blocked)})" if blocked else ""
    return (
        f"SELECT id, handler FROM tasks WHERE category = ? AND state = 'queued'{skip}"
        " ORDER BY priority DESC, id LIMIT ?"
    )


@functools.lru_cache(maxsize=64)
def claim_ids(count: int) -> str:
    """``claim_rows`` of exactly these ``count`` ids, returning the claimed rows."""
    return f"{claim_rows(count)} RETURNING {_RETURNED_COLUMNS}"


# A token bucket (core/limits.py), read and written in the claim's transaction.
LIMITER = "SELECT tokens, updated_at FROM rate_limiters WHERE name = ?"
SAVE_LIMITER = (
    "INSERT INTO rate_limiters (name, tokens, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at"
)

# The fence: the outcome applies only to the attempt that produced it.
_FENCE = "WHERE id = ? AND owner = ? AND attempts = ? AND state = 'running'"
FINISH_TERMINAL = (
    "UPDATE tasks SET state = ?, finished_at = ?, result = ?, error = ?, reason = ?,"
    f" owner = NULL {_FENCE} RETURNING category"
)
FINISH_RETRY = (
    "UPDATE tasks SET state = ?, run_at = ?, error = ?, reason = ?, owner = NULL,"
    f" cancel_requested = 0 {_FENCE} RETURNING category"
)
#: Outcomes per FINISH_MANY statement (8 parameters each, well under SQLite's 32,766). A
#: power of two: a smaller chunk is padded to its ``query_sql.size_class`` with rows of
#: NULLs, which match no task.
FINISH_CHUNK = 256


@functools.lru_cache(maxsize=16)
def finish_many(rows: int) -> str:
    """FINISH_TERMINAL for ``rows`` outcomes in one statement, each fenced like it:
    ``(id, owner, attempt, state, finished_at, result, error, reason)`` per row. One
    statement is one long call into SQLite with the GIL released, instead of one short
    call per outcome, each of which has to win the GIL back from the workers."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "UPDATE tasks SET state = v.column4, finished_at = v.column5, result = v.column6,"
        f" error = v.column7, reason = v.column8, owner = NULL FROM (VALUES {values}) AS v"
        " WHERE tasks.id = v.column1 AND tasks.owner = v.column2"
        " AND tasks.attempts = v.column3 AND tasks.state = 'running'"
        " RETURNING tasks.category, tasks.state"
    )


RELEASE = (
    "UPDATE tasks SET state = 'queued', owner = NULL,"
    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
    " WHERE id = ? AND owner = ? AND state = 'running' RETURNING category"
)

STATE_OF = "SELECT state, dedup_key, category FROM tasks WHERE id = ?"
CANCEL_WAITING = (
    "UPDATE tasks SET state = 'cancelled', finished_at = ?, result = NULL, error = NULL,"
    " reason = 'cancelled', owner = NULL WHERE id = ?"
)
REQUEST_CANCEL = "UPDATE tasks SET cancel_requested = 1 WHERE id = ?"
CANCEL_REQUESTS = (
    "SELECT id FROM tasks WHERE state = 'running' AND owner = ? AND cancel_requested = 1"
)
FAILED_IDS = "SELECT id FROM tasks WHERE state = 'failed' ORDER BY id"
RETRY_TASK = (
    "UPDATE tasks SET state = 'queued', attempts = 0, run_at = ?, finished_at = NULL,"
    " result = NULL, error = NULL, reason = NULL, cancel_requested = 0 WHERE id = ?"
)

_ORPHAN = "state = 'running' AND (owner IS NULL OR owner <> ?)"
FAIL_ORPHANS = (
    "UPDATE tasks SET state = 'failed', reason = 'orphaned', finished_at = ?, result = NULL,"
    " error = 'interrupted ' || attempts || ' times by a crash', owner = NULL"
    f" WHERE {_ORPHAN} AND attempts >= max_attempts RETURNING id, category"
)
ORPHANS = f"SELECT id, attempts FROM tasks WHERE {_ORPHAN}"
UNDO_UNSTARTED = (
    "UPDATE tasks SET attempts = attempts - 1 WHERE id = ? AND attempts = ? AND attempts > 0"
)
REQUEUE_ORPHANS = (
    f"UPDATE tasks SET state = 'queued', owner = NULL WHERE {_ORPHAN}"
    " RETURNING id, category, attempts"
)

GET_TASK = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"
#: The index a page of the task list walks per state or category (``query_sql.page_sql``),
#: named: with no statistics the planner may take tasks_claim and sort instead.
LIST_INDEXES = {"state": "tasks_state", "category": "tasks_category"}
# Kept by the store's own writes (storage/sqlite/tally.py), in each writing transaction.
COUNTS = "SELECT category, state, n FROM task_counts WHERE n <> 0"
# Both in one statement: one snapshot.
COUNTS_AND_SCAN = (
    f"SELECT 0, category, state, n FROM task_counts WHERE n <> 0"
    f" UNION ALL SELECT 1, s.* FROM ({SCAN_COUNTS}) AS s"
)
CLEAR_COUNTS = "DELETE FROM task_counts"
REFILL_COUNTS = FILL_COUNTS
# A DELETE's rows, for the counters.
DELETED_ROWS = " RETURNING id, category, state"
# The earlier attempts of deleted tasks (one JSON array parameter).
# A column's membership in a list of ids given as one JSON array parameter (``ids_param``).
IDS_IN = "IN (SELECT value FROM json_each(?))"
# Retention: ids some waiter still waits on are left out (one JSON array parameter).
SPARE_IDS = f"id NOT {IDS_IN}"


def ids_param(ids: Sequence[int]) -> str:
    """The one parameter of ``IDS_IN``."""
    return json.dumps(list(ids))


LOAD_SETTINGS = (
    "SELECT category, priority, paused, pinned, min_workers, max_workers, rate, burst"
    " FROM category_settings"
)
SAVE_SETTINGS = (
    "INSERT INTO category_settings (category, priority, paused, pinned, min_workers,"
    " max_workers, rate, burst) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (category) DO UPDATE SET"
    " priority = excluded.priority, paused = excluded.paused, pinned = excluded.pinned,"
    " min_workers = excluded.min_workers, max_workers = excluded.max_workers,"
    " rate = excluded.rate, burst = excluded.burst"
)
SETTINGS_VERSION = "SELECT settings_version FROM control WHERE id = 1"
BUMP_SETTINGS_VERSION = "UPDATE control SET settings_version = settings_version + 1 WHERE id = 1"
# Matches no row, but needs a write transaction: fails at once on a read-only database.
PROBE_WRITE = "UPDATE control SET settings_version = settings_version WHERE id = 0"

ADD_DECISION = "INSERT INTO decisions (at, body) VALUES (?, ?)"
PRUNE_DECISIONS = "DELETE FROM decisions WHERE id <= ?"
RECENT_DECISIONS = "SELECT at, body FROM decisions ORDER BY id DESC LIMIT ?"

HEARTBEAT = (
    "INSERT INTO nodes (node_id, host, pid, started_at, heartbeat_at, budget, workers,"
    " counters, stopped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET"
    " host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,"
    " heartbeat_at = excluded.heartbeat_at, budget = excluded.budget,"
    " workers = excluded.workers, counters = excluded.counters, stopped = excluded.stopped"
)
# At a node's start (it holds the file's lock): every other node row is of a node that
# died without saying so (kill -9), as only one node runs on a file.
STOP_OTHER_NODES = "UPDATE nodes SET stopped = 1 WHERE node_id != ? AND stopped = 0"
NODES = (
    "SELECT node_id, host, pid, started_at, heartbeat_at, budget, workers, counters, stopped"
    " FROM nodes ORDER BY started_at, node_id"
)
