"""Retention and counts on a SQLite file: the file stops growing once pruning keeps up,
the counters survive an upgrade and a repair, and VACUUM is refused under a node."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from jobsched.core import NodeLockedError, StoreBusyError
from jobsched.core.retention import PruneRule
from jobsched.core.task import FAILED, QUEUED, SCHEDULED, SUCCEEDED
from jobsched.storage import SqliteStore
from jobsched.storage.sqlite import queries

from tests.storage.sqlite.released import write_v1_file
from tests.store_contract import T0, done, new

MakeStore = Callable[..., SqliteStore]
RESULT = '"' + "r" * 400 + '"'  # about half a kilobyte per finished task


def file_bytes(path: Path) -> int:
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


def cycle(store: SqliteStore, at: float, count: int = 2000) -> None:
    """Insert, claim and finish ``count`` tasks at ``at``, then prune all that finished
    before it, in batches, as the retention loop does."""
    store.insert([new(payload='{"n": ' + "1" * 300 + "}") for _ in range(count)], at)
    tasks = store.claim("email", count, "node-a", at)
    store.finish([done(t, at=at, result=RESULT) for t in tasks])
    while store.prune(PruneRule(SUCCEEDED, finished_before=at), 500):
        pass


def test_the_file_stops_growing_once_old_tasks_are_pruned(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a node's store that inserts, finishes and prunes the same volume each cycle
    store = make_store()
    store.open("node-a")
    sizes = []
    for n in range(12):
        cycle(store, T0 + n)
        store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes.append(file_bytes(db_path))
    # Then after the first cycles the freed pages are reused: the file stays the same size
    assert max(sizes[4:]) <= sizes[3] * 1.1, sizes
    assert store.counts()["email"][SUCCEEDED] == 2000
    assert store.check_counts() == []


def test_vacuum_is_refused_under_a_node_and_shrinks_the_file_after(
    make_store: MakeStore, db_path: Path
) -> None:
    node = make_store()
    node.open("node-a")
    cycle(node, T0, count=3000)
    assert node.prune(PruneRule(SUCCEEDED, finished_before=T0 + 1), 5000) == 3000
    reader = make_store()
    reader.open()
    with pytest.raises(NodeLockedError):
        reader.vacuum()
    node.close()
    before, after = reader.vacuum()
    assert after < before / 2
    assert reader.counts() == {} and reader.check_counts() == []


def test_a_damaged_counter_is_found_and_repaired(make_store: MakeStore, db_path: Path) -> None:
    store = make_store()
    store.open("node-a")
    store.insert([new() for _ in range(5)], T0)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE task_counts SET n = 2 WHERE state = 'queued'")
    conn.execute("INSERT INTO task_counts VALUES ('ghost', 'failed', 4)")
    conn.commit()
    conn.close()
    assert store.check_counts() == [("email", QUEUED, 2, 5), ("ghost", "failed", 4, 0)]
    assert store.check_counts(repair=True) == [("email", QUEUED, 2, 5), ("ghost", "failed", 4, 0)]
    assert store.check_counts() == []
    assert store.counts() == {"email": store.counts()["email"]}
    assert store.counts()["email"][QUEUED] == 5


def test_an_upgraded_file_counts_the_tasks_it_already_had(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a v1 file holding tasks in several states
    write_v1_file(db_path)
    conn = sqlite3.connect(db_path)
    for state, finished in (("queued", None), ("queued", None), ("succeeded", T0), ("failed", T0)):
        conn.execute(
            "INSERT INTO tasks (handler, category, state, payload, created_at, run_at,"
            " max_attempts, finished_at) VALUES ('email.send', 'email', ?, 'null', ?, ?, 3, ?)",
            (state, T0, T0, finished),
        )
    conn.commit()
    conn.close()
    # When this program opens it
    store = make_store()
    store.open("node-a")
    # Then the counters hold what was there, and keep up with new writes
    assert store.counts()["email"][QUEUED] == 2
    assert store.counts()["email"][SUCCEEDED] == 1
    assert store.count_prunable(PruneRule(SUCCEEDED, T0 + 1)) == 1
    store.insert([new()], T0)
    assert store.counts()["email"][QUEUED] == 3
    assert store.check_counts() == []


def test_counts_read_the_counters_not_the_task_table(make_store: MakeStore, db_path: Path) -> None:
    store = make_store()
    store.open(None)
    conn = sqlite3.connect(db_path)
    plan = str(conn.execute("EXPLAIN QUERY PLAN " + queries.COUNTS).fetchall())
    conn.close()
    assert "task_counts" in plan and "tasks " not in plan.replace("task_counts", "")


def test_a_pass_with_nothing_to_prune_does_not_take_the_write_lock(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a node's store with a task finished at T0 + 1, and another process holding
    # the file's write lock
    store = make_store(busy_timeout=0.2)
    store.open("node-a")
    store.insert([new()], T0)
    tasks = store.claim("email", 1, "node-a", T0 + 1)
    store.finish([done(t, at=T0 + 1) for t in tasks])
    other = sqlite3.connect(db_path)
    other.execute("BEGIN IMMEDIATE")
    try:
        # Then a pass that finds nothing to delete (the rule wants tasks finished before
        # T0 + 1) neither waits nor fails on that lock
        assert store.prune(PruneRule(SUCCEEDED, finished_before=T0 + 1), 500) == 0
        assert store.prune_history(int(T0 // 60), 500) == 0  # no minute recorded yet
        # while one that has rows to delete does wait for it (and gives up, busy)
        with pytest.raises(StoreBusyError):
            store.prune(PruneRule(SUCCEEDED, finished_before=T0 + 2), 500)
    finally:
        other.rollback()
        other.close()
    assert store.prune(PruneRule(SUCCEEDED, finished_before=T0 + 2), 500) == 1


def test_pruning_and_deleting_retried_tasks_leave_no_attempt_rows_in_the_file(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given 700 tasks that each failed once with a retry, then for good
    store = make_store()
    store.open("node-a")
    store.insert([new(max_attempts=2) for _ in range(700)], T0)
    first = store.claim("email", 700, "node-a", T0)
    store.finish([done(t, SCHEDULED, at=T0 + 1, error="first", run_at=T0 + 1) for t in first])
    again = store.claim("email", 700, "node-a", T0 + 2)
    store.finish([done(t, FAILED, at=T0 + 3, error="last") for t in again])
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT count(*) FROM task_attempts").fetchone()[0] == 700
        # When 600 are pruned in one batch (more than one chunk of ids) and the rest deleted
        assert store.prune(PruneRule(FAILED, finished_before=T0 + 10), 600) == 600
        assert store.delete([t.id for t in again]) == 100
        # Then no attempt row is left behind
        assert conn.execute("SELECT count(*) FROM task_attempts").fetchone()[0] == 0
    finally:
        conn.close()
    assert store.check_counts() == []
