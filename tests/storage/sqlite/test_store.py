"""The SQLite store: the shared contract, plus what only a durable store promises."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig
from jobsched.core.task import CategorySettings, NodeInfo
from jobsched.storage import APPLICATION_ID, SqliteStore, query_sql, schema_version
from jobsched.storage.sqlite import queries as sql
from jobsched.storage.sqlite import upkeep as sqlite_upkeep
from jobsched.storage.sqlite.schema import create_file

from tests.store_contract import T0, StoreContract, new

MakeStore = Callable[..., SqliteStore]
WAIT = 10.0
CONFIG = SchedulerConfig(workers=1, categories={"a": CategoryConfig()}, poll_interval=0.05)


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    def store(self, make_store: MakeStore) -> Iterator[SqliteStore]:
        store = make_store()
        store.open("node-a")
        yield store


# --- what only a durable store promises ----------------------------------------------


def test_construction_touches_nothing(make_store: MakeStore, db_path: Path) -> None:
    store = make_store()
    assert store.location == str(db_path) and store.shared is True
    assert list(db_path.parent.iterdir()) == []


def test_open_creates_a_marked_wal_database_and_a_node_lock(
    make_store: MakeStore, db_path: Path
) -> None:
    store = make_store()
    store.open("node-a")
    facts = store.diagnostics()
    assert (facts["journal_mode"], facts["synchronous"]) == ("wal", "normal")
    assert facts["busy_timeout_ms"] == 5000
    assert Path(f"{db_path}.lock").read_text().strip() == str(os.getpid())
    assert sorted(p.name for p in db_path.parent.iterdir() if ".new-" in p.name) == []
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    conn.close()


def test_full_durability_syncs_every_commit(make_store: MakeStore) -> None:
    store = make_store(durability="full")
    store.open("node-a")
    assert store.diagnostics()["synchronous"] == "full"


def test_everything_survives_a_restart(make_store: MakeStore) -> None:
    # Given a node that wrote tasks, settings, a decision and a heartbeat
    store = make_store()
    store.open("node-a")
    ids = store.insert([new(), new(run_at=T0 + 60, key="k")], T0)
    store.save_settings("email", CategorySettings(priority=3.0, paused=True))
    store.add_decision(T0, {"changes": ["email 1->2"]})
    store.heartbeat(NodeInfo("node-a", "box", 1, T0, T0, 4))
    version = store.settings_version()
    store.close()
    # When another store opens the file
    again = make_store()
    again.open("node-a")
    # Then it is all there, and ids go on from where they were
    assert [t.id for t in again.list_tasks()] == ids[::-1]
    assert again.load_settings() == {"email": CategorySettings(priority=3.0, paused=True)}
    assert again.settings_version() == version
    assert again.recent_decisions() == [{"changes": ["email 1->2"], "at": T0}]
    assert [n.node_id for n in again.nodes()] == ["node-a"]
    assert again.insert([new(key="k")], T0) == [ids[1]]
    assert again.insert([new()], T0) == [ids[1] + 1]


def test_other_processes_writes_are_seen_by_the_node(make_store: MakeStore) -> None:
    # Given a running node and a second store without a node id (as the CLI opens it)
    node = make_store()
    node.open("node-a")
    cli = make_store()
    cli.open(None)
    version = node.settings_version()
    # When the CLI submits, changes a setting and cancels a running task
    [running] = node.insert([new(category="web")], T0)
    node.claim("web", 1, "node-a", T0)
    [submitted] = cli.insert([new()], T0)
    cli.save_settings("email", CategorySettings(priority=5.0))
    assert cli.cancel([running], T0) == {running: "requested"}
    # Then the node's next poll sees all of it
    assert [t.id for t in node.claim("email", 10, "node-a", T0)] == [submitted]
    assert node.settings_version() > version
    assert node.load_settings()["email"].priority == 5.0
    assert node.cancel_requests("node-a") == {running}


def test_an_in_process_waiter_sees_a_cancel_written_by_another_process(
    make_store: MakeStore,
) -> None:
    # Given a node on a SQLite file, a delayed task, and a thread of the node's process
    # waiting for that task's result
    sched = Scheduler(CONFIG, make_store())

    @sched.handler("a.job")
    def job(payload: Any) -> str:
        return "ran"

    with sched:
        task_id = sched.submit("a.job", delay=3600).id
        answer: list[Any] = []
        waiting = threading.Thread(target=lambda: answer.append(sched.wait(task_id, WAIT)))
        waiting.start()
        # When another process (the CLI) cancels the task in the file
        other = make_store()
        other.open()
        assert Client(CONFIG, other).cancel([task_id]) == {task_id: "cancelled"}
        # Then the waiter returns the cancelled record well within its timeout, instead of
        # sleeping on an event that nothing in this process will ever set
        waiting.join(WAIT / 2)
        alive = waiting.is_alive()
        sched.cancel([task_id])  # lets a hung waiter end so the test finishes
        waiting.join(WAIT)
        assert not alive, "the waiter did not notice the cancel"
        assert answer and answer[0].state == "cancelled"


def test_claimed_timestamps_are_floats(make_store: MakeStore) -> None:
    store = make_store()
    store.open("node-a")
    store.insert([new(run_at=T0, timeout=2.0)], T0)
    [task] = store.claim("email", 1, "node-a", T0 + 1)
    assert all(isinstance(v, float) for v in (task.run_at, task.created_at, task.started_at))
    assert isinstance(task.timeout, float)


def test_the_hot_queries_are_served_by_indexes(make_store: MakeStore, db_path: Path) -> None:
    make_store().open(None)
    conn = sqlite3.connect(db_path)

    def plan(query: str, params: tuple[object, ...]) -> str:
        return " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", params))

    # the claim walks the index in its order (priority, then id): no sort of the queue
    claim = plan(sql.CLAIM_NEXT, ("email", 10))
    assert "tasks_claim" in claim and "TEMP B-TREE" not in claim
    head = plan(query_sql.queue_head_sql("?"), ("email",))
    assert "tasks_claim" in head and "TEMP B-TREE" not in head
    # queued rows only are in the claim index: "anything queued?" must still read it, not
    # walk the category's claimed and finished rows in tasks_category
    assert "COVERING INDEX tasks_claim" in plan(sql.ANY_QUEUED, ("email",))
    assert "tasks_dedup_live" in plan(sql.LIVE_ID_FOR_KEY, ("k",))
    # the timer reads the due range of scheduled rows only, never every scheduled row
    assert "tasks_due (run_at<?)" in plan(sql.ANY_DUE, (T0,))
    assert "tasks_due (run_at<?)" in plan(sql.PROMOTE_DUE, (T0,))
    assert "tasks_due" in plan(sql.NEXT_RUN_AT, ())
    assert "tasks_state (state=?)" in plan(sql.CANCEL_REQUESTS, ("n",))
    assert "tasks_state (state=?)" in plan(sql.ORPHANS, ("n",))
    conn.close()


def test_only_the_newest_decisions_are_kept(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_upkeep, "DECISIONS_KEPT", 5)
    store = make_store()
    store.open("node-a")
    for i in range(12):
        store.add_decision(T0 + i, {"i": i})
    assert [d["i"] for d in store.recent_decisions(100)] == [11, 10, 9, 8, 7]


def test_close_closes_every_threads_connection(make_store: MakeStore) -> None:
    store = make_store()
    store.open("node-a")
    connections: list[sqlite3.Connection] = []

    def read() -> None:
        store.counts()
        connections.append(store._conn())  # the reader thread's own connection

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(timeout=10)
    store.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connections[0].execute("SELECT 1")
    store.open("node-a")  # the lock and the file are free again
    assert store.counts() == {}


def test_creating_never_replaces_a_file_that_appeared_meanwhile(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a database another process created after this one looked
    other = make_store()
    other.open(None)
    other.insert([new()], T0)
    other.close()
    before = db_path.read_bytes()
    # When this process finishes building its own new file
    placed = create_file(str(db_path), str(db_path), 5.0)
    # Then the existing one is kept and the temporary file is gone
    assert placed is False
    assert db_path.read_bytes() == before
    assert [p.name for p in db_path.parent.iterdir() if ".new-" in p.name] == []
