"""Files as a released jobsched wrote them, for the upgrade tests: the DDL of schema v1
exactly as it stands in a v1 file's ``sqlite_master``, and any later version by the
released upgrade steps (which are never edited). Never edit a released version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee as pw
from jobsched.storage import APPLICATION_ID
from jobsched.storage.sqlite.schema import UPGRADES

V1 = (
    """CREATE TABLE "tasks" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "handler" TEXT NOT NULL, "category" TEXT NOT NULL, "state" TEXT NOT NULL CHECK (state IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled')), "payload" TEXT NOT NULL, "result" TEXT, "error" TEXT, "reason" TEXT, "attempts" INTEGER NOT NULL DEFAULT 0, "max_attempts" INTEGER NOT NULL, "timeout" REAL, "dedup_key" TEXT, "created_at" REAL NOT NULL, "run_at" REAL NOT NULL, "started_at" REAL, "finished_at" REAL, "owner" TEXT, "cancel_requested" INTEGER NOT NULL DEFAULT 0)""",
    """CREATE INDEX "tasks_claim" ON "tasks" ("category", "state", "id")""",
    """CREATE INDEX "tasks_state_run_at" ON "tasks" ("state", "run_at")""",
    """CREATE UNIQUE INDEX "tasks_dedup_live" ON "tasks" ("dedup_key") WHERE ("state" IN ('scheduled', 'queued', 'running'))""",
    """CREATE TABLE "category_settings" ("category" TEXT NOT NULL PRIMARY KEY, "priority" REAL, "paused" INTEGER NOT NULL DEFAULT 0, "pinned" INTEGER, "min_workers" INTEGER, "max_workers" INTEGER)""",
    """CREATE TABLE "control" ("id" INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), "settings_version" INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE "decisions" ("id" INTEGER NOT NULL PRIMARY KEY, "at" REAL NOT NULL, "body" TEXT NOT NULL)""",
    """CREATE TABLE "nodes" ("node_id" TEXT NOT NULL PRIMARY KEY, "host" TEXT NOT NULL, "pid" INTEGER NOT NULL, "started_at" REAL NOT NULL, "heartbeat_at" REAL NOT NULL, "budget" INTEGER NOT NULL, "workers" TEXT NOT NULL, "counters" TEXT NOT NULL, "stopped" INTEGER NOT NULL DEFAULT 0)""",
    "INSERT INTO control (id, settings_version) VALUES (1, 0)",
)  # fmt: skip


def write_v1_file(path: Path) -> None:
    """A jobsched database file at schema v1, with no tasks."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for statement in V1:
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("COMMIT")
    finally:
        conn.close()


def write_file_at(path: Path, version: int) -> None:
    """A jobsched database file at schema ``version``, with no tasks: v1, then the
    released upgrade steps up to ``version``, as a file of that release would be."""
    write_v1_file(path)
    db = pw.SqliteDatabase(str(path), autoconnect=False)
    db.connect()
    try:
        conn = db.connection()
        conn.execute("BEGIN IMMEDIATE")
        for step in UPGRADES[: version - 1]:
            step(db)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    finally:
        db.close()
