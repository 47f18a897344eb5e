"""The PostgreSQL schema: a blank schema gets the tables the models describe, and a schema
of every released version, opened by this program, ends with the same tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from jobsched.core.history import MinuteStats
from jobsched.core.task import SCHEDULED, Outcome
from jobsched.storage import PostgresStore
from jobsched.storage.postgres.connection import parse_url
from jobsched.storage.postgres.schema import schema_version

from tests.conftest import with_query
from tests.storage.postgres.released import write_schema_at, write_v1_schema
from tests.store_contract import T0, new

pytestmark = pytest.mark.postgres


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(parse_url(pg_url).conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture
def old_schema(pg_url: str, conn: psycopg.Connection[Any]) -> Iterator[tuple[str, str]]:
    """(URL, schema) of a schema written at v1, dropped afterwards."""
    schema = f"jobsched_test_{uuid.uuid4().hex[:12]}_v1"
    write_v1_schema(conn, schema)
    try:
        yield with_query(pg_url, schema=schema), schema
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def describe(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    """Every table of ``schema`` as the catalog reads it: columns with types, defaults and
    nullability, constraints, indexes, storage options, and the control row."""
    conn.execute(f"SET search_path TO {schema}")  # names print unqualified
    try:
        columns = conn.execute(
            "SELECT table_name, ordinal_position, column_name, data_type, is_nullable,"
            " column_default FROM information_schema.columns WHERE table_schema = %s"
            " ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        constraints = conn.execute(
            "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)"
            " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1, 2",
            (schema,),
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, replace(indexdef, %s, 'S')"
            " FROM pg_indexes WHERE schemaname = %s ORDER BY 1, 2",
            (schema + ".", schema),
        ).fetchall()
        options = conn.execute(
            "SELECT c.relname, c.relkind, c.reloptions FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        triggers = conn.execute(
            "SELECT c.relname, t.tgname, replace(pg_get_triggerdef(t.oid), %s, 'S')"
            " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1, 2",
            (schema + ".", schema),
        ).fetchall()
        functions = conn.execute(
            "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n"
            " ON n.oid = p.pronamespace WHERE n.nspname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        rows = {
            "task_counts": conn.execute("SELECT * FROM task_counts ORDER BY 1, 2").fetchall(),
            "control": conn.execute("SELECT * FROM control").fetchall(),
            "meta": conn.execute(
                "SELECT id, application, schema_version FROM jobsched_meta"
            ).fetchall(),
        }
    finally:
        conn.execute("RESET search_path")
    return {"columns": columns, "constraints": constraints, "indexes": indexes,
            "options": options, "triggers": triggers, "functions": functions,
            "rows": rows}  # fmt: skip


def test_a_blank_schema_gets_the_tables_a_v1_schema_has_after_opening(
    pg_schema: tuple[str, str], old_schema: tuple[str, str], conn: psycopg.Connection[Any]
) -> None:
    # Given a schema made by this program from blank, and one written at v1 and opened by it
    for url, _ in (pg_schema, old_schema):
        store = PostgresStore(url)
        store.open(None)
        assert store.diagnostics()["schema_version"] == schema_version()
        store.close()
    # Then both have the same tables, columns, constraints, indexes and options
    fresh, old = describe(conn, pg_schema[1]), describe(conn, old_schema[1])
    assert fresh["indexes"] and fresh["columns"]
    assert fresh == old


def test_an_upgraded_schema_backfills_priority_0_and_claims_urgent_tasks_first(
    old_schema: tuple[str, str], conn: psycopg.Connection[Any]
) -> None:
    # Given a v1 schema (no priorities) holding three queued tasks
    url, schema = old_schema
    for _ in range(3):
        with conn.transaction():  # the counting trigger finds its tables on the path
            conn.execute(f"SET LOCAL search_path TO {schema}")
            conn.execute(
                "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
                " max_attempts) VALUES ('email.send', 'email', 'queued', 'null', 1, 1, 3)"
            )
    # When the current program opens it and an urgent task is submitted
    store = PostgresStore(url)
    store.open(None)
    try:
        [urgent] = store.insert([new(priority=9)], T0)
        # Then the old tasks have priority 0 and keep their order, behind the urgent one
        claimed = store.claim("email", 10, "node-a", T0)
        assert [(t.id, t.priority) for t in claimed] == [(urgent, 9), (1, 0), (2, 0), (3, 0)]
    finally:
        store.close()


def test_a_v6_schema_gets_an_empty_history_and_keeps_its_tasks_and_counts(
    pg_url: str, conn: psycopg.Connection[Any]
) -> None:
    # Given a schema of the release before the history (v6) holding a queued task
    schema = f"jobsched_test_{uuid.uuid4().hex[:12]}_v6"
    write_schema_at(conn, schema, 6)
    try:
        with conn.transaction():  # the counting trigger finds its tables on the path
            conn.execute(f"SET LOCAL search_path TO {schema}")
            conn.execute(
                "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
                " max_attempts) VALUES ('email.send', 'email', 'queued', 'null', 1, 1, 3)"
            )
        # When the current program opens it
        store = PostgresStore(with_query(pg_url, schema=schema))
        store.open(None)
        try:
            # Then it is upgraded, keeps its task and counts, and the history starts empty
            assert store.diagnostics()["schema_version"] == schema_version()
            assert store.counts()["email"]["queued"] == 1 and store.check_counts() == []
            assert store.history(0) == []
            row = MinuteStats("email", 1_800_000_000, 3, 1, 2, 0.5)
            store.add_history("node-a", [row])
            store.add_history("node-b", [row])
            assert store.history(0) == [MinuteStats("email", 1_800_000_000, 6, 2, 2, 0.5)]
        finally:
            store.close()
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_a_v9_schema_is_upgraded_in_place_and_keeps_each_retried_attempt(
    pg_url: str, conn: psycopg.Connection[Any]
) -> None:
    # Given a schema of the release before the attempt history (v9) holding a failed task
    schema = f"jobsched_test_{uuid.uuid4().hex[:12]}_v9"
    write_schema_at(conn, schema, 9)
    try:
        with conn.transaction():  # the counting trigger finds its tables on the path
            conn.execute(f"SET LOCAL search_path TO {schema}")
            conn.execute(
                "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
                " max_attempts, attempts, error, reason, finished_at) VALUES ('email.send',"
                " 'email', 'failed', 'null', 1, 1, 3, 3, 'boom', 'error', 2)"
            )
        # When the current program opens it
        store = PostgresStore(with_query(pg_url, schema=schema))
        store.open(None)
        try:
            # Then it is upgraded, the old task keeps its error and has no earlier
            # attempts, and a retried attempt of a new task is kept
            assert store.diagnostics()["schema_version"] == schema_version() == 10
            old = store.get(1)
            assert old is not None and (old.error, old.attempts) == ("boom", 3)
            assert store.attempt_errors(1) == []
            [task_id] = store.insert([new()], T0)
            store.claim("email", 1, "node-a", T0)
            retry = Outcome(task_id, "node-a", 1, SCHEDULED, T0 + 1, error="e1", run_at=T0 + 60)
            assert store.finish([retry]) == [True]
            assert [(a.number, a.error) for a in store.attempt_errors(task_id)] == [(1, "e1")]
            assert store.check_counts() == []
        finally:
            store.close()
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
