"""The database schema as Peewee models. Nothing outside ``storage/`` sees these.

The models define the tables and indexes (``schema.py`` creates them); the store's hot
paths use plain SQL on the same columns (``sql.py``). Models are not bound to a database:
each store passes its own, so several stores can live in one process.
"""

from __future__ import annotations

import peewee as pw
from jobsched.core.task import QUEUED, RUNNING, SCHEDULED, STATES
from playhouse.sqlite_ext import AutoIncrementField

#: States in which a dedup key is taken (the partial unique index covers exactly these).
LIVE_STATES = (SCHEDULED, QUEUED, RUNNING)


def quoted(values: tuple[str, ...]) -> str:
    """``'a', 'b'``: a SQL list of fixed names (never user input)."""
    return ", ".join(f"'{v}'" for v in values)


def _default(value: str) -> pw.SQL:
    """A SQL-side default, so rows written by other programs get it too."""
    return pw.SQL(f"DEFAULT {value}")


class _Base(pw.Model):
    class Meta:
        database = None
        legacy_table_names = False


class TaskRow(_Base):
    # AUTOINCREMENT: an id is never handed out twice, even after the newest rows are pruned.
    id = AutoIncrementField()
    handler = pw.TextField()
    category = pw.TextField()
    state = pw.TextField(constraints=[pw.Check(f"state IN ({quoted(STATES)})")])
    payload = pw.TextField()
    result = pw.TextField(null=True)
    error = pw.TextField(null=True)
    reason = pw.TextField(null=True)
    attempts = pw.IntegerField(constraints=[_default("0")])
    max_attempts = pw.IntegerField()
    timeout = pw.FloatField(null=True)
    dedup_key = pw.TextField(null=True)
    created_at = pw.FloatField()
    run_at = pw.FloatField()
    started_at = pw.FloatField(null=True)
    finished_at = pw.FloatField(null=True)
    owner = pw.TextField(null=True)
    cancel_requested = pw.BooleanField(constraints=[_default("0")])

    class Meta:
        table_name = "tasks"


# claim: WHERE category = ? AND state = 'queued' ORDER BY id
TaskRow.add_index(TaskRow.category, TaskRow.state, TaskRow.id, name="tasks_claim")
# promote_due / next_run_at: WHERE state = 'scheduled' [AND run_at <= ?]; also serves the
# small lookups by state = 'running' (recover, cancel_requests).
TaskRow.add_index(TaskRow.state, TaskRow.run_at, name="tasks_state_run_at")
# One live task per dedup key; a finished task frees its key. (Schema v2 narrows it to
# tasks that have a key: see schema._upgrade_v2. The models are the v1 schema.)
TaskRow.add_index(
    TaskRow.dedup_key, unique=True, where=TaskRow.state.in_(LIVE_STATES), name="tasks_dedup_live"
)


class CategorySettingsRow(_Base):
    category = pw.TextField(primary_key=True)
    priority = pw.FloatField(null=True)
    paused = pw.BooleanField(constraints=[_default("0")])
    pinned = pw.IntegerField(null=True)
    min_workers = pw.IntegerField(null=True)
    max_workers = pw.IntegerField(null=True)

    class Meta:
        table_name = "category_settings"


class ControlRow(_Base):
    """The single row (id = 1) of values shared by every process on the database."""

    id = pw.IntegerField(primary_key=True, constraints=[pw.Check("id = 1")])
    settings_version = pw.IntegerField(constraints=[_default("0")])

    class Meta:
        table_name = "control"


class DecisionRow(_Base):
    id = pw.AutoField()
    at = pw.FloatField()
    body = pw.TextField()  # JSON object

    class Meta:
        table_name = "decisions"


class NodeRow(_Base):
    node_id = pw.TextField(primary_key=True)
    host = pw.TextField()
    pid = pw.IntegerField()
    started_at = pw.FloatField()
    heartbeat_at = pw.FloatField()
    budget = pw.IntegerField()
    workers = pw.TextField()  # JSON list
    counters = pw.TextField()  # JSON object
    stopped = pw.BooleanField(constraints=[_default("0")])

    class Meta:
        table_name = "nodes"


MODELS_V1: tuple[type[pw.Model], ...] = (
    TaskRow,
    CategorySettingsRow,
    ControlRow,
    DecisionRow,
    NodeRow,
)
