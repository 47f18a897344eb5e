"""Recognising, creating and migrating the jobsched tables in a PostgreSQL schema.

A jobsched schema carries the table ``jobsched_meta`` with one row: the marker
``application = 'jobsched'`` and ``schema_version``. Opening goes:

1. :func:`inspect_schema` reads the catalog (nothing written) and refuses, untouched, a
   schema that holds another program's tables, a foreign marker, or a newer version.
2. A blank schema is created, and an older one upgraded, by :func:`prepare_schema` in one
   transaction under an advisory lock: ``UPGRADES[n - 1]`` takes the schema from version
   ``n`` to ``n + 1``. Two processes opening a blank or old schema at once serialise on
   the lock; the second finds the work done.

A blank schema gets the current tables at once, generated from the models in
``storage/models.py`` (where PostgreSQL's own columns and partial indexes are declared);
the upgrades take older schemas to the same tables.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee as pw
import psycopg
from jobsched.core.errors import (
    ForeignDatabaseError,
    JobschedError,
    SchemaTooNewError,
    StorageError,
    StoreReadOnlyError,
)
from psycopg import sql as pgsql

from ..columns import FILL_COUNTS, POSTGRES_COUNT_BODY, POSTGRES_COUNT_TRIGGERS
from ..ddl import create_statements
from ..models import (
    CONTROL_ROW,
    POSTGRES_MODELS,
    SCHEDULE_MODELS,
    HistoryRow,
    PostgresMeta,
    RateLimiterRow,
    TaskAttemptRow,
    TaskCountDeltaRow,
    TaskCountRow,
    TaskProgressRow,
)

log = logging.getLogger("jobsched.storage")

APPLICATION = "jobsched"
META_TABLE = PostgresMeta._meta.table_name
_UNTOUCHED = "jobsched left the database untouched"

#: Second halves of the advisory lock keys (the first half is 'JSC' and the schema's CRC).
LOCK_SETUP = 1
LOCK_RECOVERY = 2
LOCK_COUNTS = 3
#: The seed of the per-schedule tick locks (``hashtextextended(name, seed)``).
LOCK_TICKS = 4

#: The dialect the DDL is generated in (never connected).
_DIALECT = pw.PostgresqlDatabase(None)


def _create(conn: psycopg.Connection[Any]) -> None:
    """The current schema, from the models, with the control row."""
    for statement in create_statements(POSTGRES_MODELS, _DIALECT):
        conn.execute(statement)
    for statement in POSTGRES_COUNT_TRIGGERS:
        conn.execute(statement)
    conn.execute(CONTROL_ROW)


def _upgrade_v2(conn: psycopg.Connection[Any]) -> None:
    """Recurring schedules: the ``schedules`` table (pause flag, since when known) and
    ``schedule_ticks`` (one row per claimed tick, unique per schedule and tick)."""
    for statement in create_statements(SCHEDULE_MODELS, _DIALECT):
        conn.execute(statement)


def _upgrade_v3(conn: psycopg.Connection[Any]) -> None:
    """The task_progress table: each running task's latest progress report."""
    for statement in create_statements((TaskProgressRow,), _DIALECT):
        conn.execute(statement)


def _upgrade_v4(conn: psycopg.Connection[Any]) -> None:
    """Retention and counts without scans: an index of finished tasks by state and finish
    time (what a prune walks); ``task_counts`` and ``task_count_deltas``, kept by
    statement triggers and filled here from a full count. The task table is locked
    against writers (of older nodes still running) until the upgrade commits, so no
    write slips between the count and the triggers."""
    conn.execute("LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE")
    conn.execute(
        "CREATE INDEX tasks_finished ON tasks (state, finished_at, id)"
        " WHERE finished_at IS NOT NULL"
    )
    for statement in create_statements([TaskCountRow, TaskCountDeltaRow], _DIALECT):
        conn.execute(statement)
    for statement in POSTGRES_COUNT_TRIGGERS:
        conn.execute(statement)
    conn.execute(FILL_COUNTS)


def _upgrade_v5(conn: psycopg.Connection[Any]) -> None:
    """Tasks get a priority within their category (0-9, higher claimed first); every
    existing task is backfilled with 0, the default (a constant default: no table
    rewrite), so the claim order of what was already queued does not change. The claim
    index orders by it. Categories get an operator's rate limit (``rate``, ``burst``) and
    token buckets (``rate_limiters``), shared by every node."""
    conn.execute("ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
    conn.execute("DROP INDEX tasks_claim")
    conn.execute(
        "CREATE INDEX tasks_claim ON tasks (category, priority DESC, id) WHERE state = 'queued'"
    )
    conn.execute("ALTER TABLE category_settings ADD COLUMN rate TEXT")
    conn.execute("ALTER TABLE category_settings ADD COLUMN burst INTEGER")
    for statement in create_statements((RateLimiterRow,), _DIALECT):
        conn.execute(statement)


def _upgrade_v6(conn: psycopg.Connection[Any]) -> None:
    """Nodes publish a claim lease: how long after their last heartbeat other nodes may
    give back the tasks they claimed and have not begun. Existing rows get none (NULL:
    ``stale_after`` applies to them, as before)."""
    conn.execute("ALTER TABLE nodes ADD COLUMN claim_lease DOUBLE PRECISION")


def _upgrade_v7(conn: psycopg.Connection[Any]) -> None:
    """History by the minute: ``category_history``, one row per minute, category and node
    (tasks succeeded and failed, the deepest queue and longest latency sampled), written
    once a minute by each node's housekeeper; nodes never share a row. Starts empty."""
    for statement in create_statements((HistoryRow,), _DIALECT):
        conn.execute(statement)


def _upgrade_v8(conn: psycopg.Connection[Any]) -> None:
    """The task list reads a page by an index walk, whatever the filter's state or
    category: ``tasks_state (state, id)`` and ``tasks_category (category, id)``, where a
    page of a state far down the table (``state:succeeded`` behind a long queue) used to
    read every row above it."""
    conn.execute("CREATE INDEX tasks_state ON tasks (state, id)")
    conn.execute("CREATE INDEX tasks_category ON tasks (category, id)")


def _upgrade_v9(conn: psycopg.Connection[Any]) -> None:
    """Less written per task: the index of running rows by owner goes (``tasks_state``
    serves those lookups), and the count triggers skip sessions that promise not to move
    tasks between states (the start recorder's)."""
    conn.execute("DROP INDEX tasks_running")
    conn.execute("CREATE OR REPLACE FUNCTION " + POSTGRES_COUNT_BODY)


def _upgrade_v10(conn: psycopg.Connection[Any]) -> None:
    """Each attempt's error: ``task_attempts``, one row per attempt that was retried or
    interrupted by a crash (its number, error, reason and end time), at most 20 per task.
    Starts empty: a task's latest error stays in ``tasks.error``."""
    for statement in create_statements((TaskAttemptRow,), _DIALECT):
        conn.execute(statement)


#: ``UPGRADES[n - 1]`` upgrades a schema from version ``n`` to ``n + 1`` (version 1 is the
#: first released schema). Append a step with every change to the models; never edit a
#: released one.
UPGRADES: list[Callable[[psycopg.Connection[Any]], None]] = [
    _upgrade_v2, _upgrade_v3, _upgrade_v4, _upgrade_v5, _upgrade_v6, _upgrade_v7,
    _upgrade_v8, _upgrade_v9, _upgrade_v10,
]  # fmt: skip


def schema_version() -> int:
    """The schema version this program writes (and the newest it can read): the one the
    models describe."""
    return 1 + len(UPGRADES)


def lock_key(schema: str, purpose: int) -> int:
    """A bigint advisory lock key, distinct per schema (several jobsched schemas may share
    one database) and per purpose."""
    return (0x4A5343 << 40) | (purpose << 32) | zlib.crc32(schema.encode())


@dataclass(frozen=True, slots=True)
class SchemaState:
    """What :func:`inspect_schema` found; ``version`` 0 with ``blank`` for an empty schema."""

    version: int
    blank: bool = False


def current_schema(conn: psycopg.Connection[Any], wanted: str | None, location: str) -> str:
    """The schema the tables live in: ``wanted``, or the first of the ``search_path``."""
    if wanted is not None:
        return wanted
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise StorageError(
            "database",
            location,
            "has no schema on the search_path to keep the jobsched tables in",
            "Add ?schema=jobsched to the URL, or create the user's schema",
        )
    name: str = row[0]
    return name


def inspect_schema(conn: psycopg.Connection[Any], schema: str, location: str) -> SchemaState:
    """Look at ``schema`` without writing; raise if it must not be opened."""
    names = [
        row[0]
        for row in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
            " ORDER BY c.relname",
            (schema,),
        ).fetchall()
    ]
    where = f"{location} (schema {schema})"
    if META_TABLE not in names:
        if not names:
            return SchemaState(version=0, blank=True)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ForeignDatabaseError(
            "database",
            where,
            f"holds another program's tables ({shown}) and no jobsched mark",
            f"{_UNTOUCHED}; use an empty database, or another schema with ?schema=NAME",
        )
    try:
        with conn.transaction():  # a savepoint if the caller is in a transaction
            row = conn.execute(
                pgsql.SQL("SELECT application, schema_version FROM {}.{} WHERE id = 1").format(
                    pgsql.Identifier(schema), pgsql.Identifier(META_TABLE)
                )
            ).fetchone()
    except psycopg.ProgrammingError:
        row = None
    if row is None or row[0] != APPLICATION:
        owner = f" (marked {row[0]!r})" if row is not None else ""
        raise ForeignDatabaseError(
            "database",
            where,
            f"has a {META_TABLE} table that is not jobsched's{owner}",
            f"{_UNTOUCHED}; use an empty database, or another schema with ?schema=NAME",
        )
    version = int(row[1])
    if version > schema_version():
        raise SchemaTooNewError(
            "database",
            where,
            f"has schema version {version}, newer than this jobsched's {schema_version()}",
            f"Upgrade jobsched; {_UNTOUCHED}",
        )
    return SchemaState(version=version)


def prepare_schema(
    conn: psycopg.Connection[Any], schema: str, location: str, *, read_only: bool
) -> SchemaState:
    """Refuse what is not ours; create a blank schema, upgrade an older one.

    Everything that can be refused is checked before anything is written. Creating and
    upgrading run in one transaction that holds the setup advisory lock and inspects
    again under it, so concurrent openers do the work once.
    """
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    state = inspect_schema(conn, schema, location) if exists else SchemaState(0, blank=True)
    if state.version == schema_version():
        return state
    if read_only:
        need = "has no jobsched tables yet" if state.blank else f"has schema v{state.version}"
        raise StoreReadOnlyError(
            "database",
            location,
            f"{need} and needs to be set up, but is opened read-only",
            "Open it once without mode=ro (a node does this at start)",
        )
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema, LOCK_SETUP),))
            conn.execute(
                pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema))
            )
            again = inspect_schema(conn, schema, location)
            if again.version < schema_version():
                _run_steps(conn, schema, again.version)
    except (JobschedError, psycopg.OperationalError):
        raise  # refusals, and lost connections or locks: translated by the caller
    except Exception as exc:
        if state.blank:
            raise
        raise StorageError(
            "database",
            location,
            f"could not be upgraded from schema v{state.version} ({exc})",
            f"The upgrade was rolled back; it is still at v{state.version}. "
            "Report this with the message above",
        ) from exc
    if again.version < schema_version():
        if again.blank:
            log.info("created the jobsched tables in %s (schema v%d)", location, schema_version())
        else:
            log.warning(
                "upgraded database %s from schema v%d to v%d",
                location,
                again.version,
                schema_version(),
            )
    return SchemaState(version=schema_version())


def _run_steps(conn: psycopg.Connection[Any], schema: str, version: int) -> None:
    """Create the tables (version 0) or apply ``UPGRADES[version - 1:]``, inside the
    caller's transaction, and stamp the schema."""
    conn.execute(pgsql.SQL("SET LOCAL search_path TO {}").format(pgsql.Identifier(schema)))
    if version == 0:
        _create(conn)
    else:
        for step in UPGRADES[version - 1 :]:
            step(conn)
    conn.execute(
        f"INSERT INTO {META_TABLE} (id, application, schema_version) VALUES (1, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET schema_version = excluded.schema_version",
        (APPLICATION, schema_version()),
    )
