"""Schemas as a released jobsched wrote them, for the upgrade tests: the DDL of schema v1
exactly as that release ran it, and any later version by the released upgrade steps
(which are never edited). Never edit a released version."""

from __future__ import annotations

from typing import Any

import psycopg
from jobsched.storage.postgres.schema import UPGRADES
from psycopg import sql

_STATES = "'scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled'"
_LIVE = "'scheduled', 'queued', 'running'"

V1 = (
    """CREATE TABLE jobsched_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        application text NOT NULL,
        schema_version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""",
    f"""CREATE TABLE tasks (
        id bigserial PRIMARY KEY,
        handler text NOT NULL,
        category text NOT NULL,
        state text NOT NULL CHECK (state IN ({_STATES})),
        payload text NOT NULL,
        result text,
        error text,
        reason text,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL,
        timeout double precision,
        dedup_key text,
        created_at double precision NOT NULL,
        run_at double precision NOT NULL,
        started_at double precision,
        finished_at double precision,
        owner text,
        cancel_requested boolean NOT NULL DEFAULT false,
        run_began boolean NOT NULL DEFAULT false
    ) WITH (fillfactor = 90)""",
    "CREATE INDEX tasks_claim ON tasks (category, id) WHERE state = 'queued'",
    "CREATE INDEX tasks_due ON tasks (run_at) WHERE state = 'scheduled'",
    "CREATE INDEX tasks_running ON tasks (owner) WHERE state = 'running'",
    f"CREATE UNIQUE INDEX tasks_dedup_live ON tasks (dedup_key) WHERE state IN ({_LIVE})",
    """CREATE TABLE category_settings (
        category text PRIMARY KEY,
        priority double precision,
        paused boolean NOT NULL DEFAULT false,
        pinned integer,
        min_workers integer,
        max_workers integer)""",
    """CREATE TABLE control (
        id integer PRIMARY KEY CHECK (id = 1),
        settings_version bigint NOT NULL DEFAULT 0)""",
    "INSERT INTO control (id, settings_version) VALUES (1, 0)",
    """CREATE TABLE decisions (
        id bigserial PRIMARY KEY,
        at double precision NOT NULL,
        body text NOT NULL)""",
    """CREATE TABLE nodes (
        node_id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at double precision NOT NULL,
        heartbeat_at double precision NOT NULL,
        budget integer NOT NULL,
        workers text NOT NULL,
        counters text NOT NULL,
        stopped boolean NOT NULL DEFAULT false,
        seen_at timestamptz NOT NULL DEFAULT now(),
        recovered_at timestamptz,
        recovered_by text)""",
    "INSERT INTO jobsched_meta (id, application, schema_version) VALUES (1, 'jobsched', 1)",
)


def write_v1_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create ``schema`` holding the jobsched tables at v1, with no tasks."""
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for statement in V1:
            conn.execute(statement)


def write_schema_at(conn: psycopg.Connection[Any], schema: str, version: int) -> None:
    """Create ``schema`` holding the jobsched tables at ``version``, with no tasks: v1,
    then the released upgrade steps up to ``version``."""
    write_v1_schema(conn, schema)
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for step in UPGRADES[: version - 1]:
            step(conn)
        conn.execute("UPDATE jobsched_meta SET schema_version = %s WHERE id = 1", (version,))
