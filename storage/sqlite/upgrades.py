"""The SQLite schema's versions: :func:`create` builds the current one in a new file (from
the models in ``storage/models.py``), and ``STEPS[n - 2]`` takes a file from version
``n - 1`` to ``n`` (version 1 is the first released schema). ``schema.upgrade_file``
runs them, after a verified backup, in one transaction."""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw

from ..columns import FILL_COUNTS, LIVE
from ..ddl import create_statements
from ..models import (
    CONTROL_ROW,
    SCHEDULE_MODELS,
    SQLITE_MODELS,
    HistoryRow,
    RateLimiterRow,
    TaskAttemptRow,
    TaskCountRow,
    TaskProgressRow,
)


def create(db: pw.Database) -> None:
    """The current schema, from the models, with the control row."""
    for statement in create_statements(SQLITE_MODELS, db):
        db.execute_sql(statement)
    db.execute_sql(CONTROL_ROW)


def _upgrade_v2(db: pw.Database) -> None:
    """The live dedup key index leaves out tasks without a key. In v1 every keyless task
    had an entry while it lived, so each insert, claim and finish also rewrote this index
    for nothing: dropping those entries made claims and finishes cheaper. Lookups by key
    read ``dedup_key = ?``, which implies ``IS NOT NULL``, so they still use it."""
    db.execute_sql("DROP INDEX tasks_dedup_live")
    db.execute_sql(
        "CREATE UNIQUE INDEX tasks_dedup_live ON tasks (dedup_key)"
        f" WHERE dedup_key IS NOT NULL AND {LIVE}"
    )


def _upgrade_v3(db: pw.Database) -> None:
    """Recurring schedules: the ``schedules`` table (pause flag, since when known) and
    ``schedule_ticks`` (one row per claimed tick, unique per schedule and tick)."""
    for statement in create_statements(SCHEDULE_MODELS, db):
        db.execute_sql(statement)


def _upgrade_v4(db: pw.Database) -> None:
    """The task_progress table: each running task's latest progress report."""
    for statement in create_statements((TaskProgressRow,), db):
        db.execute_sql(statement)


def _upgrade_v5(db: pw.Database) -> None:
    """Retention and counts without scans: an index of finished tasks by state and
    finish time (what a prune walks), and ``task_counts``, kept by the store's writes,
    filled here from a full count (inside the upgrade's transaction: no write can slip between)."""
    db.execute_sql(
        "CREATE INDEX tasks_finished ON tasks (state, finished_at, id)"
        " WHERE finished_at IS NOT NULL"
    )
    for statement in create_statements([TaskCountRow], db):
        db.execute_sql(statement)
    db.execute_sql(FILL_COUNTS)


def _upgrade_v6(db: pw.Database) -> None:
    """Tasks get a priority within their category (0-9, higher claimed first); every
    existing task is backfilled with 0, the default, so the claim order of what was
    already queued does not change. The claim index orders by it. Categories get an
    operator's rate limit (``rate``, ``burst``) and token buckets (``rate_limiters``)."""
    db.execute_sql("ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
    db.execute_sql("DROP INDEX tasks_claim")
    db.execute_sql("CREATE INDEX tasks_claim ON tasks (category, state, priority DESC, id)")
    db.execute_sql("ALTER TABLE category_settings ADD COLUMN rate TEXT")
    db.execute_sql("ALTER TABLE category_settings ADD COLUMN burst INTEGER")
    for statement in create_statements((RateLimiterRow,), db):
        db.execute_sql(statement)


def _upgrade_v7(db: pw.Database) -> None:
    """History by the minute: ``category_history``, one row per minute, category and node
    (tasks succeeded and failed, the deepest queue and longest latency sampled), written
    once a minute by each node's housekeeper. Starts empty."""
    for statement in create_statements((HistoryRow,), db):
        db.execute_sql(statement)


def _upgrade_v8(db: pw.Database) -> None:
    """The task list reads a page by an index walk, whatever the filter's state or
    category: ``tasks_state (state, id)`` and ``tasks_category (category, id)``, where a
    page of ``state:queued`` used to sort every queued task. ``tasks_state`` takes over
    the lookups by state of ``tasks_state_run_at``, whose other use, the due scheduled
    tasks, gets ``tasks_due``, which holds scheduled rows only: a claim or a finish still
    writes one index keyed by state, as before."""
    db.execute_sql("DROP INDEX tasks_state_run_at")
    db.execute_sql("CREATE INDEX tasks_state ON tasks (state, id)")
    db.execute_sql("CREATE INDEX tasks_category ON tasks (category, id)")
    db.execute_sql("CREATE INDEX tasks_due ON tasks (run_at) WHERE state = 'scheduled'")


def _upgrade_v9(db: pw.Database) -> None:
    """The claim index holds queued rows only, as on PostgreSQL: a claim deletes the task's
    entry and a finish leaves the index alone, where both rewrote an entry keyed by state."""
    db.execute_sql("DROP INDEX tasks_claim")
    db.execute_sql(
        "CREATE INDEX tasks_claim ON tasks (category, state, priority DESC, id)"
        " WHERE state = 'queued'"
    )


def _upgrade_v10(db: pw.Database) -> None:
    """Each attempt's error: ``task_attempts``, one row per attempt that was retried or
    interrupted by a crash (its number, error, reason and end time), at most 20 per task.
    Starts empty: a task's latest error stays in ``tasks.error``."""
    for statement in create_statements((TaskAttemptRow,), db):
        db.execute_sql(statement)


#: Every upgrade, oldest first. Append one with every change to the models; never edit a
#: released one.
STEPS: tuple[Callable[[pw.Database], None], ...] = (
    _upgrade_v2,
    _upgrade_v3,
    _upgrade_v4,
    _upgrade_v5,
    _upgrade_v6,
    _upgrade_v7,
    _upgrade_v8,
    _upgrade_v9,
    _upgrade_v10,
)
