"""The database schema, once, as Peewee models: both stores' tables and indexes.

A fresh database gets the DDL generated from these models (``ddl.create_statements``);
an older one is brought here by its backend's versioned upgrades (``sqlite.upgrades``,
``postgres.schema``), and a test checks that both roads end at the same tables. Change
the schema here and add an upgrade step. Column kinds are in ``fields.py``; the SQL the
models share with the raw queries (task columns, the live predicate, the counters'
statements) in ``columns.py``.

The columns every store has are declared once (``_Tasks``, ``_Nodes`` and the tables
without a suffix); what differs, per backend, beside them:

- SQLite keeps a task id forever (``AUTOINCREMENT``: never handed out twice, even after
  the newest rows are pruned) and indexes ``(state, ...)`` prefixes.
- PostgreSQL marks begun runs in the row (``run_began``), judges node liveness on the
  server's clock (``seen_at``) and carries its version mark in ``jobsched_meta`` (SQLite
  keeps it in the file's pragmas). Both keep only queued rows in the claim index.

Nothing outside ``storage/`` sees these models, and the stores never query through
them: the hot paths are plain SQL on the same columns (``*/queries.py``).
"""

from __future__ import annotations

import peewee as pw
from jobsched.core.task import QUEUED, SCHEDULED, STATES

from .columns import LIVE, quoted
from .fields import Base, FlagField, TaskIdField, TimestampTzField, sql_default


# --- tasks --------------------------------------------------------------------------------
class _Tasks(Base):
    id = pw.BigAutoField()
    handler = pw.TextField()
    category = pw.TextField()
    state = pw.TextField(constraints=[pw.Check(f"state IN ({quoted(STATES)})")])
    payload = pw.TextField()
    result = pw.TextField(null=True)
    error = pw.TextField(null=True)
    reason = pw.TextField(null=True)
    attempts = pw.IntegerField(constraints=[sql_default("0")])
    max_attempts = pw.IntegerField()
    timeout = pw.DoubleField(null=True)
    dedup_key = pw.TextField(null=True)
    created_at = pw.DoubleField()
    run_at = pw.DoubleField()
    started_at = pw.DoubleField(null=True)
    finished_at = pw.DoubleField(null=True)
    owner = pw.TextField(null=True)
    cancel_requested = FlagField()


def _priority_field() -> pw.IntegerField:
    """A task's priority within its category (0-9, higher claimed first); declared last in
    each backend's table, where the upgrade that added it put it."""
    return pw.IntegerField(constraints=[sql_default("0")])


class SqliteTasks(_Tasks):
    id = TaskIdField()
    priority = _priority_field()

    class Meta:
        table_name = "tasks"


# claim: WHERE category = ? AND state = 'queued' ORDER BY priority DESC, id; only queued
# rows, so a claim deletes one entry and a finish writes none (with every state in it, each
# of the two rewrote the task's entry). ``state`` stays a column: without it SQLite neither
# counts the index as covering nor prefers it to ``tasks_category`` for ``ANY_QUEUED``,
# which would then walk every claimed and finished row of the category.
SqliteTasks.add_index(
    SqliteTasks.index(
        SqliteTasks.category,
        SqliteTasks.state,
        SqliteTasks.priority.desc(),
        SqliteTasks.id,
        where=pw.SQL(f"state = '{QUEUED}'"),
        name="tasks_claim",
    )
)
# The task list (the console, `jobsched tasks --filter`): WHERE state = ? ORDER BY id, one
# index walk per state, however deep the page; also serves the small lookups by
# state = 'running' (recover, cancel_requests) and a count by state.
SqliteTasks.add_index(SqliteTasks.state, SqliteTasks.id, name="tasks_state")
# The task list by category: WHERE category = ? ORDER BY id. A task never changes category,
# so a claim or a finish leaves this index alone: only inserts and deletes write it.
SqliteTasks.add_index(SqliteTasks.category, SqliteTasks.id, name="tasks_category")
# promote_due / next_run_at: WHERE state = 'scheduled' AND run_at <= ?; only scheduled rows
# are in it, so claims and finishes of queued and running rows never write it. The
# timer's statements name it (INDEXED BY): without statistics SQLite would walk tasks_state.
SqliteTasks.add_index(
    SqliteTasks.index(SqliteTasks.run_at, where=pw.SQL(f"state = '{SCHEDULED}'"), name="tasks_due")
)
# One live task per dedup key; a finished task frees its key. Keyless tasks are left out:
# otherwise every insert, claim and finish rewrites the index for nothing. Lookups read
# ``dedup_key = ?``, which implies ``IS NOT NULL``, so they still use it.
SqliteTasks.add_index(
    SqliteTasks.index(
        SqliteTasks.dedup_key,
        unique=True,
        where=pw.SQL(f"dedup_key IS NOT NULL AND {LIVE}"),
        name="tasks_dedup_live",
    )
)


# retention (prune): WHERE state = ? AND finished_at < ? ORDER BY finished_at, id; only
# finished rows are in it.
SqliteTasks.add_index(
    SqliteTasks.index(
        SqliteTasks.state,
        SqliteTasks.finished_at,
        SqliteTasks.id,
        where=pw.SQL("finished_at IS NOT NULL"),
        name="tasks_finished",
    )
)


class PostgresTasks(_Tasks):
    # Set (fenced by the attempt) before the handler runs: recovery counts only runs that
    # began. SQLite keeps this in a journal beside the file instead.
    run_began = FlagField()
    priority = _priority_field()

    class Meta:
        table_name = "tasks"
        # Room in every page for the row's next version: state changes stay on the page.
        table_settings = ("WITH (fillfactor = 90)",)


# claim: WHERE category = ? AND state = 'queued' ORDER BY priority DESC, id; only queued rows.
PostgresTasks.add_index(
    PostgresTasks.index(
        PostgresTasks.category,
        PostgresTasks.priority.desc(),
        PostgresTasks.id,
        where=pw.SQL(f"state = '{QUEUED}'"),
        name="tasks_claim",
    )
)
# promote_due / next_run_at: WHERE state = 'scheduled' AND run_at <= ?
PostgresTasks.add_index(
    PostgresTasks.index(
        PostgresTasks.run_at, where=pw.SQL(f"state = '{SCHEDULED}'"), name="tasks_due"
    )
)
# The task list: WHERE state = ? ORDER BY id and WHERE category = ? ORDER BY id, one index
# walk per state or category, however deep the page (see query_sql.page_sql).
PostgresTasks.add_index(PostgresTasks.state, PostgresTasks.id, name="tasks_state")
PostgresTasks.add_index(PostgresTasks.category, PostgresTasks.id, name="tasks_category")
# recover and cancel_requests read the few running rows through tasks_state (state, id):
# an index of running rows by owner (schema v1 to v8) cost every claim an index entry,
# and the planner used it for the fenced starts and finishes, walking every row the node
# had claimed instead of looking each id up.
# One live task per dedup key; a finished task frees its key. INSERT ... ON CONFLICT names
# this predicate, so it stays exactly LIVE. (Leaving keyless rows out would save an entry
# per insert and claim, but nodes of an older version, still running during an upgrade,
# name LIVE: their inserts would find no index to arbitrate on.)
PostgresTasks.add_index(
    PostgresTasks.index(
        PostgresTasks.dedup_key, unique=True, where=pw.SQL(LIVE), name="tasks_dedup_live"
    )
)


# retention (prune): WHERE state = ? AND finished_at < ? ORDER BY finished_at, id; only
# finished rows are in it.
PostgresTasks.add_index(
    PostgresTasks.index(
        PostgresTasks.state,
        PostgresTasks.finished_at,
        PostgresTasks.id,
        where=pw.SQL("finished_at IS NOT NULL"),
        name="tasks_finished",
    )
)


# --- task counts ----------------------------------------------------------------------------
class TaskCountRow(Base):
    """How many tasks are in each (category, state), kept in each writing transaction (on
    SQLite by the store's own statements, see ``storage/sqlite/tally.py``; on PostgreSQL by
    statement triggers), so ``counts()`` reads a few rows instead of scanning the table."""

    category = pw.TextField()
    state = pw.TextField()
    n = pw.BigIntegerField()

    class Meta:
        table_name = "task_counts"
        primary_key = pw.CompositeKey("category", "state")


class TaskCountDeltaRow(Base):
    """PostgreSQL: changes to ``task_counts`` not yet folded into it. Each writing
    statement appends its net change per (category, state) here instead of updating one
    shared row, so nodes that claim and finish at once never wait on each other's counter
    rows; ``counts()`` adds these to the totals, and ``compact_counts()`` folds them."""

    id = pw.BigAutoField()
    category = pw.TextField()
    state = pw.TextField()
    n = pw.BigIntegerField()

    class Meta:
        table_name = "task_count_deltas"


# --- settings, control, decisions ---------------------------------------------------------
class CategorySettingsRow(Base):
    category = pw.TextField(primary_key=True)
    priority = pw.DoubleField(null=True)
    paused = FlagField()
    pinned = pw.IntegerField(null=True)
    min_workers = pw.IntegerField(null=True)
    max_workers = pw.IntegerField(null=True)
    rate = pw.TextField(null=True)  # "20/s"; "none" lifts a configured limit
    burst = pw.IntegerField(null=True)

    class Meta:
        table_name = "category_settings"


class RateLimiterRow(Base):
    """A token bucket (``core/limits.py``): read and written in the claim's transaction."""

    name = pw.TextField(primary_key=True)  # "category:web"
    tokens = pw.DoubleField()
    updated_at = pw.DoubleField()  # epoch seconds (PostgreSQL: the server's clock)

    class Meta:
        table_name = "rate_limiters"


class ControlRow(Base):
    """The single row (id = 1) of values shared by every process on the database."""

    id = pw.IntegerField(primary_key=True, constraints=[pw.Check("id = 1")])
    settings_version = pw.BigIntegerField(constraints=[sql_default("0")])

    class Meta:
        table_name = "control"


class DecisionRow(Base):
    id = pw.BigAutoField()
    at = pw.DoubleField()
    body = pw.TextField()  # JSON object

    class Meta:
        table_name = "decisions"


# --- recurring schedules ------------------------------------------------------------------
class ScheduleRow(Base):
    """One recurring schedule as every node sees it: paused or not, and since when it is
    known (ticks before ``since`` are never due). The spec itself lives in the config."""

    name = pw.TextField(primary_key=True)
    paused = FlagField()
    since = pw.DoubleField()

    class Meta:
        table_name = "schedules"


class ScheduleTickRow(Base):
    """A claimed tick: the primary key makes a second claim of (schedule, tick) fail, in
    the same transaction that inserts the tick's task. ``task_id`` is null for a mark of
    skipped ticks (``skip_from`` .. ``tick``); ``manual`` rows are run-now requests."""

    schedule = pw.TextField()
    tick = pw.DoubleField()
    manual = FlagField()
    task_id = pw.BigIntegerField(null=True)
    skip_from = pw.DoubleField(null=True)
    claimed_at = pw.DoubleField()

    class Meta:
        table_name = "schedule_ticks"
        primary_key = pw.CompositeKey("schedule", "tick", "manual")


#: The tables the schedules' upgrade step adds, in creation order.
SCHEDULE_MODELS: tuple[type[pw.Model], ...] = (ScheduleRow, ScheduleTickRow)


# --- progress -----------------------------------------------------------------------------
class TaskProgressRow(Base):
    """A running task's latest progress report (``current_task().progress(...)``), one row
    per task, replaced by each report; deleted with its task. Kept beside the tasks table
    so that a report never rewrites a task row or its indexes."""

    task_id = pw.BigIntegerField(primary_key=True)
    attempt = pw.IntegerField()
    fraction = pw.DoubleField(null=True)
    done = pw.BigIntegerField(null=True)
    total = pw.BigIntegerField(null=True)
    note = pw.TextField(null=True)
    at = pw.DoubleField()

    class Meta:
        table_name = "task_progress"


# --- earlier attempts ---------------------------------------------------------------------
class TaskAttemptRow(Base):
    """How one attempt of a task ended that was followed by another (a retry, or a run a
    crashed node left unfinished): written only then, never by a task's final outcome
    (its error is the task row's). At most ``core.task.ATTEMPTS_KEPT`` per task, the oldest
    deleted as new ones come; deleted with their task, and by an operator's retry."""

    task_id = pw.BigIntegerField()
    attempt = pw.IntegerField()
    error = pw.TextField(null=True)
    reason = pw.TextField(null=True)
    ended_at = pw.DoubleField()

    class Meta:
        table_name = "task_attempts"
        primary_key = pw.CompositeKey("task_id", "attempt")


# --- history by the minute ---------------------------------------------------------------
class HistoryRow(Base):
    """One node's figures of one category in one minute (``core/history.py``), written once
    the minute is over: tasks that succeeded and failed, and the deepest queue and longest
    queue latency it sampled. Keyed by minute first, so that reading a window and pruning
    old minutes walk the primary key; by node too, so nodes never write over each other
    (reads add them up)."""

    minute = pw.BigIntegerField()  # epoch seconds at the minute's start
    category = pw.TextField()
    node_id = pw.TextField()
    succeeded = pw.BigIntegerField(constraints=[sql_default("0")])
    failed = pw.BigIntegerField(constraints=[sql_default("0")])
    queued = pw.BigIntegerField(constraints=[sql_default("0")])
    latency = pw.DoubleField(null=True)  # seconds; null: nothing waited

    class Meta:
        table_name = "category_history"
        primary_key = pw.CompositeKey("minute", "category", "node_id")


# --- nodes --------------------------------------------------------------------------------
class _Nodes(Base):
    node_id = pw.TextField(primary_key=True)
    host = pw.TextField()
    pid = pw.IntegerField()
    started_at = pw.DoubleField()
    heartbeat_at = pw.DoubleField()
    budget = pw.IntegerField()
    workers = pw.TextField()  # JSON list
    counters = pw.TextField()  # JSON object
    stopped = FlagField()


class SqliteNodes(_Nodes):
    class Meta:
        table_name = "nodes"


class PostgresNodes(_Nodes):
    # heartbeat_at is the node's own clock (shown to people); seen_at is the database
    # server's clock at the last heartbeat, the only one staleness is judged by.
    seen_at = TimestampTzField(constraints=[sql_default("now()")])
    recovered_at = TimestampTzField(null=True)
    recovered_by = pw.TextField(null=True)
    # Seconds past seen_at after which other nodes give back the tasks this node claimed
    # and has not begun (NULL: a node that publishes none; stale_after applies).
    claim_lease = pw.DoubleField(null=True)

    class Meta:
        table_name = "nodes"


# --- PostgreSQL's version mark ------------------------------------------------------------
class PostgresMeta(Base):
    """``application = 'jobsched'`` and the schema version (one row, id = 1)."""

    id = pw.IntegerField(primary_key=True, constraints=[pw.Check("id = 1")])
    application = pw.TextField()
    schema_version = pw.IntegerField()
    created_at = TimestampTzField(constraints=[sql_default("now()")])

    class Meta:
        table_name = "jobsched_meta"


SQLITE_MODELS: tuple[type[pw.Model], ...] = (
    SqliteTasks, TaskCountRow, CategorySettingsRow, ControlRow, DecisionRow, SqliteNodes,
    RateLimiterRow, *SCHEDULE_MODELS, TaskProgressRow, HistoryRow, TaskAttemptRow,
)  # fmt: skip
POSTGRES_MODELS: tuple[type[pw.Model], ...] = (
    PostgresMeta, PostgresTasks, TaskCountRow, TaskCountDeltaRow, CategorySettingsRow,
    ControlRow, DecisionRow, PostgresNodes, RateLimiterRow, *SCHEDULE_MODELS,
    TaskProgressRow, HistoryRow, TaskAttemptRow,
)  # fmt: skip

#: The control table's only row, written when the tables are created.
CONTROL_ROW = "INSERT INTO control (id, settings_version) VALUES (1, 0)"
