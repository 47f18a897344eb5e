"""The SQLite schema: a new file gets the tables the models describe, and a file of every
released version, upgraded, ends with the same tables and keeps its rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobsched.core.history import MinuteStats
from jobsched.core.task import SCHEDULED, Outcome
from jobsched.storage import SqliteStore, schema_version
from jobsched.storage.sqlite import queries as sql

from tests.storage.sqlite.released import write_file_at, write_v1_file
from tests.store_contract import T0, new

MakeStore = Callable[..., SqliteStore]


def describe(path: Path) -> dict[str, Any]:
    """Every table and index of a file as SQLite reads them: columns, index columns and
    uniqueness, and each object's DDL (spelling of identifiers' quotes aside)."""
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        found: dict[str, Any] = {}
        for kind, name, table, text in objects:
            entry: dict[str, Any] = {"sql": " ".join((text or "").replace('"', "").split())}
            if kind == "table":
                entry["columns"] = conn.execute(f"PRAGMA table_info({name})").fetchall()
            elif kind == "trigger":
                entry["table"] = table
            else:
                entry["table"] = table
                entry["columns"] = conn.execute(f"PRAGMA index_xinfo({name})").fetchall()
                entry["unique"] = {
                    row[1]: row[2:] for row in conn.execute(f"PRAGMA index_list({table})")
                }[name]
            found[f"{kind} {name}"] = entry
        found["control"] = conn.execute("SELECT * FROM control").fetchall()
        found["task_counts"] = conn.execute("SELECT * FROM task_counts ORDER BY 1, 2").fetchall()
        return found
    finally:
        conn.close()


def test_a_new_file_has_the_tables_an_upgraded_v1_file_has(
    make_store: MakeStore, tmp_path: Path
) -> None:
    # Given a file made new by this program, and one written at v1 and upgraded by it
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    make_store(fresh).open(None)
    write_v1_file(old)
    make_store(old).open(None)
    # Then both are at the current version with the same tables, columns and indexes
    for path in (fresh, old):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()
        conn.close()
    assert describe(fresh) == describe(old)


def test_a_v1_file_gets_the_narrower_dedup_index_and_keeps_its_keys(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a v1 file with a live keyed task and a keyless one
    write_v1_file(db_path)
    conn = sqlite3.connect(db_path)
    for key in ("k", None):
        conn.execute(
            "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
            " max_attempts, dedup_key) VALUES ('email.send', 'email', 'queued', 'null', ?, ?,"
            " 3, ?)",
            (T0, T0, key),
        )
    conn.commit()
    conn.close()
    # When the current program opens it
    store = make_store()
    store.open("node-a")
    # Then the index leaves out keyless tasks, a live key still finds its task through it
    assert store.diagnostics()["schema_version"] == schema_version()
    assert Path(f"{db_path}.v1-backup").exists()
    assert store.insert([new(key="k")], T0) == [1]
    assert store.insert([new()], T0) == [3]
    store.close()
    conn = sqlite3.connect(db_path)
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'tasks_dedup_live'").fetchone()
    assert "dedup_key IS NOT NULL" in ddl[0]
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql.LIVE_ID_FOR_KEY}", ("k",)).fetchall()
    assert "tasks_dedup_live" in str(plan)
    conn.close()


def test_an_upgraded_file_backfills_priority_0_and_claims_urgent_tasks_first(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a v1 file (no priorities) holding three queued tasks
    write_v1_file(db_path)
    conn = sqlite3.connect(db_path)
    for _ in range(3):
        conn.execute(
            "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
            " max_attempts) VALUES ('email.send', 'email', 'queued', 'null', ?, ?, 3)",
            (T0, T0),
        )
    conn.commit()
    conn.close()
    # When the current program opens it and an urgent task is submitted
    store = make_store()
    store.open("node-a")
    [urgent] = store.insert([new(priority=9)], T0)
    # Then the old tasks have priority 0 and keep their order, behind the urgent one
    claimed = store.claim("email", 10, "node-a", T0)
    assert [(t.id, t.priority) for t in claimed] == [(urgent, 9), (1, 0), (2, 0), (3, 0)]
    store.close()


def test_a_v6_file_gets_an_empty_history_and_keeps_its_tasks_and_counts(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a file of the release before the history (v6) holding a finished task
    write_file_at(db_path, 6)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
        " max_attempts, finished_at) VALUES ('email.send', 'email', 'succeeded', 'null', ?, ?,"
        " 3, ?)",
        (T0, T0, T0),
    )
    conn.execute("INSERT INTO task_counts (category, state, n) VALUES ('email', 'succeeded', 1)")
    conn.commit()
    conn.close()
    # When the current program opens it
    store = make_store()
    store.open("node-a")
    # Then it is upgraded (with a backup), its task and counts are kept, and the history
    # starts empty and takes rows
    assert store.diagnostics()["schema_version"] == schema_version()
    assert Path(f"{db_path}.v6-backup").exists()
    assert store.counts()["email"]["succeeded"] == 1 and store.check_counts() == []
    assert store.history(0) == []
    store.add_history("node-a", [MinuteStats("email", 1_800_000_000, 3, 1, 2, 0.5)])
    assert store.history(0) == [MinuteStats("email", 1_800_000_000, 3, 1, 2, 0.5)]
    store.close()


def test_a_v9_file_is_upgraded_in_place_and_keeps_each_retried_attempt(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a file of the release before the attempt history (v9) holding a failed task
    write_file_at(db_path, 9)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
        " max_attempts, attempts, error, reason, finished_at) VALUES ('email.send', 'email',"
        " 'failed', 'null', ?, ?, 3, 3, 'boom', 'error', ?)",
        (T0, T0, T0),
    )
    conn.execute("INSERT INTO task_counts (category, state, n) VALUES ('email', 'failed', 1)")
    conn.commit()
    conn.close()
    # When the current program opens it
    store = make_store()
    store.open("node-a")
    # Then it is upgraded (with a backup), the old task keeps its error and has no earlier
    # attempts, and a retried attempt of a new task is kept
    assert store.diagnostics()["schema_version"] == schema_version() == 10
    assert Path(f"{db_path}.v9-backup").exists()
    old = store.get(1)
    assert old is not None and (old.error, old.attempts) == ("boom", 3)
    assert store.attempt_errors(1) == []
    [task_id] = store.insert([new()], T0)
    [task] = store.claim("email", 1, "node-a", T0)
    store.finish([Outcome(task_id, "node-a", 1, SCHEDULED, T0 + 1, error="e1", run_at=T0 + 60)])
    assert [(a.number, a.error) for a in store.attempt_errors(task_id)] == [(1, "e1")]
    assert store.check_counts() == []
    store.close()
