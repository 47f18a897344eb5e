"""The PostgreSQL store: the shared contract, plus what several nodes on one database need.

Every test gets a schema of its own (``pg_schema``), dropped afterwards. Without a
reachable server these tests skip (or fail when CI is set); see tests/conftest.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from jobsched.core.errors import (
    ConfigError,
    ForeignDatabaseError,
    InvalidInputError,
    SchemaTooNewError,
    StorageError,
    StoreMissingError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from jobsched.core.task import QUEUED, RUNNING, CategorySettings, NodeInfo
from jobsched.storage import PostgresStore, open_store
from jobsched.storage.postgres import queries
from jobsched.storage.postgres import schema as postgres_schema
from jobsched.storage.postgres.connection import parse_url
from jobsched.storage.postgres.schema import LOCK_RECOVERY, lock_key, schema_version

from tests.store_contract import T0, StoreContract, done, new

pytestmark = pytest.mark.postgres

MakeStore = Callable[..., PostgresStore]


@pytest.fixture
def make_store(pg_schema: tuple[str, str]) -> Iterator[MakeStore]:
    """Build stores on the test's schema; every one is closed afterwards."""
    url, _ = pg_schema
    made: list[PostgresStore] = []

    def make(**options: Any) -> PostgresStore:
        store = PostgresStore(url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


class TestPostgresStoreContract(StoreContract):
    @pytest.fixture
    def store(self, make_store: MakeStore) -> Iterator[PostgresStore]:
        # Opened as a CLI process opens it (no node id): the contract's owners (node-a,
        # node-b, ...) never heartbeat, so for recovery every one but the caller is dead.
        store = make_store()
        store.open(None)
        yield store


def node_info(node_id: str, beat: float = T0, **fields: Any) -> NodeInfo:
    return NodeInfo(node_id, "box", 1, T0, beat, 4, **fields)


def age(admin: psycopg.Connection[Any], node_id: str, seconds: float) -> None:
    """Make ``node_id``'s last heartbeat ``seconds`` old on the server's clock."""
    admin.execute(
        "UPDATE nodes SET seen_at = now() - make_interval(secs => %s) WHERE node_id = %s",
        (seconds, node_id),
    )


# --- URL, options and errors -------------------------------------------------------------


def test_open_store_dispatches_and_hides_the_password() -> None:
    store = open_store("postgres://jobs:s3cret@db.example:6543/jobs?stale_after=5&schema=js")
    assert isinstance(store, PostgresStore)
    assert store.shared is True and store.multi_node is True
    assert "s3cret" not in store.location and "jobs:***@db.example:6543" in store.location
    assert (store.stale_after, store.schema) == (5.0, "js")
    assert PostgresStore("postgresql://h/db", stale_after=2).stale_after == 2.0
    assert "p4ss" not in open_store("postgresql://h/db?password=p4ss").location


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("postgresql://h/db?stale_after=soon", InvalidInputError),
        ("postgresql://h/db?stale_after=0", ConfigError),
        ("postgresql://h/db?stale_after=inf", ConfigError),
        ("postgresql://h/db?schema=Robert');DROP", InvalidInputError),
        ("postgresql://h/db?mode=rwc", InvalidInputError),
        ("postgresql://h/db?no_such_libpq_option=1", InvalidInputError),
    ],
)
def test_bad_options_are_bad_input(url: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        open_store(url)
    assert caught.value.exit_code == 2  # type: ignore[attr-defined]


def test_unreachable_server_names_host_and_port_and_says_what_to_do() -> None:
    store = PostgresStore("postgresql://jobs:s3cret@127.0.0.1:1/jobs")
    with pytest.raises(StoreUnavailableError) as caught:
        store.open("node-a")
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "Start PostgreSQL" in message
    assert "s3cret" not in message and caught.value.exit_code == 3


def test_bad_credentials_name_the_user_never_the_password(pg_url: str) -> None:
    settings = parse_url(pg_url)
    host, port = settings.params.get("host", "127.0.0.1"), settings.params.get("port", "5432")
    db = settings.params.get("dbname", "test")
    store = PostgresStore(f"postgresql://no_such_user:s3cret@{host}:{port}/{db}")
    with pytest.raises(StoreUnavailableError) as caught:
        store.open(None)
    message = str(caught.value)
    assert "no_such_user" in message and "password" in message
    assert "s3cret" not in message and caught.value.exit_code == 3


def test_a_missing_database_is_named(pg_url: str) -> None:
    settings = parse_url(pg_url)
    host, port = settings.params.get("host", "127.0.0.1"), settings.params.get("port", "5432")
    user = settings.params.get("user", "postgres")
    store = PostgresStore(f"postgresql://{user}@{host}:{port}/jobsched_no_such_db")
    with pytest.raises(StoreMissingError, match="jobsched_no_such_db.*createdb"):
        store.open(None)


# --- the schema --------------------------------------------------------------------------


def tables(admin: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = admin.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
    )
    return [r[0] for r in rows]


def test_open_creates_a_marked_schema_with_the_pg_indexes(
    make_store: MakeStore, admin: psycopg.Connection[Any], pg_schema: tuple[str, str]
) -> None:
    make_store().open(None)
    _, schema = pg_schema
    assert tables(admin, schema) == [
        "category_history", "category_settings", "control", "decisions", "jobsched_meta",
        "nodes", "rate_limiters",
        "schedule_ticks", "schedules", "task_attempts", "task_count_deltas", "task_counts",
        "task_progress", "tasks",
    ]  # fmt: skip
    assert admin.execute("SELECT application, schema_version FROM jobsched_meta").fetchall() == [
        ("jobsched", schema_version())
    ]
    indexes = dict(
        admin.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks'")
    )
    assert "WHERE (state = 'queued'::text)" in indexes["tasks_claim"]
    assert "UNIQUE" in indexes["tasks_dedup_live"] and "running" in indexes["tasks_dedup_live"]


def test_the_claim_uses_the_partial_index(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    store = make_store()
    store.open(None)
    # Given a table where most rows are finished or in other categories
    store.insert([new(category="web") for _ in range(3000)] + [new() for _ in range(20)], T0)
    store.finish([done(t) for t in store.claim("web", 2500, "node-a", T0)])
    admin.execute("ANALYZE tasks")
    # When the planner is asked for the claim's pick (priority first, then id)
    plan = "\n".join(
        r[0]
        for r in admin.execute(
            "EXPLAIN SELECT id FROM tasks WHERE category = 'email' AND state = 'queued'"
            " ORDER BY priority DESC, id LIMIT 10 FOR UPDATE SKIP LOCKED"
        )
    )
    # Then it walks the claim index in that order: no sort of the queue
    assert "tasks_claim" in plan and "Sort" not in plan


def test_another_programs_tables_are_refused_untouched(
    make_store: MakeStore, admin: psycopg.Connection[Any], pg_schema: tuple[str, str]
) -> None:
    _, schema = pg_schema
    admin.execute(f"CREATE SCHEMA {schema}")
    admin.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(ForeignDatabaseError, match="invoices") as caught:
        make_store().open("node-a")
    assert caught.value.exit_code == 3
    assert tables(admin, schema) == ["invoices"]


def test_a_foreign_marker_is_refused(make_store: MakeStore, admin: psycopg.Connection[Any]) -> None:
    make_store().open(None)
    admin.execute("UPDATE jobsched_meta SET application = 'other'")
    with pytest.raises(ForeignDatabaseError, match="'other'"):
        make_store().open(None)


def test_a_newer_schema_is_refused_untouched(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    store = make_store()
    store.open(None)
    store.insert([new()], T0)
    store.close()
    admin.execute("UPDATE jobsched_meta SET schema_version = 99")
    with pytest.raises(SchemaTooNewError, match="99"):
        make_store().open("node-a")
    assert admin.execute("SELECT count(*) FROM nodes").fetchone() == (0,)


def test_an_older_schema_is_upgraded_in_one_transaction(
    make_store: MakeStore, admin: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a schema at the current version with a task, and a program whose next version
    # adds a column
    current = postgres_schema.schema_version()
    # Given a current schema with a task, and a program whose next version adds a column
    old = make_store()
    old.open(None)
    [task_id] = old.insert([new()], T0)
    old.close()

    def add_column(conn: psycopg.Connection[Any]) -> None:
        conn.execute("ALTER TABLE tasks ADD COLUMN note text")

    steps = [*postgres_schema.UPGRADES, add_column]
    monkeypatch.setattr(postgres_schema, "UPGRADES", steps)
    # When it opens the database
    store = make_store()
    store.open("node-a")
    # Then the schema is at the next version, with the column, and the task is still there
    assert admin.execute("SELECT schema_version FROM jobsched_meta").fetchone() == (current + 1,)
    # Then the schema is at that version, with the column, and the task is still there
    assert admin.execute("SELECT schema_version FROM jobsched_meta").fetchone() == (len(steps) + 1,)
    assert admin.execute("SELECT id, note FROM tasks").fetchall() == [(task_id, None)]


def test_a_failed_upgrade_leaves_the_old_schema(
    make_store: MakeStore, admin: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store().open(None)
    current = postgres_schema.schema_version()
    before = schema_version()

    def half_done(conn: psycopg.Connection[Any]) -> None:
        conn.execute("ALTER TABLE tasks ADD COLUMN note text")
        raise RuntimeError("step failed")

    monkeypatch.setattr(postgres_schema, "UPGRADES", [*postgres_schema.UPGRADES, half_done])
    with pytest.raises(StorageError, match=f"could not be upgraded from schema v{current}"):
        make_store().open(None)
    assert admin.execute("SELECT schema_version FROM jobsched_meta").fetchone() == (current,)
    with pytest.raises(StorageError, match=f"could not be upgraded from schema v{before}"):
        make_store().open(None)
    assert admin.execute("SELECT schema_version FROM jobsched_meta").fetchone() == (before,)
    columns = [r[0] for r in admin.execute("SELECT column_name FROM information_schema"
                                           ".columns WHERE table_name = 'tasks'")]  # fmt: skip
    assert "note" not in columns


def test_processes_opening_a_blank_schema_at_once_create_it_once(
    make_store: MakeStore,
) -> None:
    stores = [make_store() for _ in range(6)]
    errors: list[BaseException] = []

    def open_it(store: PostgresStore) -> None:
        try:
            store.open(None)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert stores[0].insert([new()], T0) == [1]


def test_read_only_mode_reads_but_refuses_nodes_and_writes(make_store: MakeStore) -> None:
    with pytest.raises(StoreReadOnlyError, match="needs to be set up"):
        make_store(read_only=True).open(None)
    writer = make_store()
    writer.open(None)
    writer.insert([new()], T0)
    reader = make_store(read_only=True)
    with pytest.raises(StoreReadOnlyError, match="node cannot run"):
        reader.open("node-a")
    reader.open(None)
    assert reader.counts()["email"][QUEUED] == 1
    with pytest.raises(StoreReadOnlyError) as caught:
        reader.insert([new()], T0)
    assert caught.value.exit_code == 3


# --- several nodes -----------------------------------------------------------------------


def test_concurrent_claims_never_take_a_task_twice(make_store: MakeStore) -> None:
    # Given 2,000 queued tasks and 8 claimers in 4 stores (as 4 nodes would)
    first = make_store()
    first.open(None)
    ids = first.insert([new() for _ in range(2000)], T0)
    stores = [first] + [make_store() for _ in range(3)]
    for store in stores[1:]:
        store.open(None)
    taken: list[list[int]] = [[] for _ in range(8)]

    def claimer(n: int) -> None:
        store = stores[n % 4]
        while batch := store.claim("email", 7, f"node-{n}", T0):
            taken[n].extend(t.id for t in batch)

    # When they all claim in small batches at once
    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then every task was claimed exactly once, and the work was shared
    every = [i for part in taken for i in part]
    assert sorted(every) == ids
    assert sum(1 for part in taken if part) >= 2


def test_inserts_and_settings_changes_notify_subscribers(make_store: MakeStore) -> None:
    node, cli = make_store(), make_store()
    node.open("node-a")
    cli.open(None)
    woken = threading.Event()
    node.subscribe(woken.set)
    assert woken.wait(5)  # the listener calls back once it is connected
    for change in (
        lambda: cli.insert([new()], T0),
        lambda: cli.save_settings("email", CategorySettings(paused=True)),
        cli.request_rebalance,
    ):
        woken.clear()
        change()
        assert woken.wait(5), change
    node.close()
    assert not [t for t in threading.enumerate() if t.name == "jobsched-pg-listener"]


def test_settings_are_shared_by_every_store(make_store: MakeStore) -> None:
    a, b = make_store(), make_store()
    a.open("node-a")
    b.open("node-b")
    version = b.settings_version()
    a.save_settings("email", CategorySettings(priority=4.0, pinned=2))
    assert b.settings_version() > version
    assert b.load_settings() == {"email": CategorySettings(priority=4.0, pinned=2)}


def test_a_live_node_keeps_its_tasks_and_a_stale_one_loses_them(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    # Given node-a, alive (it opened the store and heartbeats), running two tasks
    a, b = make_store(stale_after=30), make_store(stale_after=30)
    a.open("node-a")
    b.open("node-b")
    a.heartbeat(node_info("node-a"))
    a.insert([new(), new()], T0)
    first, second = a.claim("email", 2, "node-a", T0)
    assert a.record_start(first)
    # When node-b recovers while node-a's heartbeat is fresh: nothing happens
    assert b.recover("node-b", T0 + 1).requeued == []
    assert a.get(first.id).state == RUNNING  # type: ignore[union-attr]
    # When node-a's heartbeat is 31 s old on the server's clock
    age(admin, "node-a", 31)
    report = b.recover("node-b", T0 + 2)
    # Then its tasks are queued again: the started one keeps its attempt, the other not
    assert report.requeued == [first.id, second.id]
    assert [(r.state, r.attempts) for r in (a.get(first.id), a.get(second.id))] == [  # type: ignore[union-attr]
        (QUEUED, 1),
        (QUEUED, 0),
    ]
    dead = {n.node_id: n.stopped for n in b.nodes()}
    assert dead == {"node-a": True, "node-b": False}
    assert a.finish([done(first)]) == [False]  # the dead node's outcome is fenced out


def test_staleness_is_judged_on_the_servers_clock_not_the_nodes(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    a, b = make_store(), make_store()
    a.open(None)
    b.open(None)
    a.insert([new(), new(category="web")], T0)
    # node-a's clock is an hour behind: its heartbeat still counts as fresh
    a.heartbeat(node_info("node-a", beat=T0 - 3600))
    [slow] = a.claim("email", 1, "node-a", T0)
    # node-c's clock is an hour ahead, but it stopped beating 40 s ago (server time)
    a.heartbeat(node_info("node-c", beat=T0 + 3600))
    [dead] = a.claim("web", 1, "node-c", T0)
    age(admin, "node-c", 40)
    report = b.recover("node-b", T0)
    assert report.requeued == [dead.id]
    assert b.get(slow.id).state == RUNNING  # type: ignore[union-attr]


def test_a_gracefully_stopped_node_is_recovered_at_once(make_store: MakeStore) -> None:
    a, b = make_store(), make_store()
    a.open("node-a")
    b.open("node-b")
    [task_id] = a.insert([new()], T0)
    a.claim("email", 1, "node-a", T0)
    a.heartbeat(node_info("node-a", stopped=True))  # e.g. a release that failed at stop
    assert b.recover("node-b", T0).requeued == [task_id]


def test_one_recoverer_at_a_time(
    make_store: MakeStore, admin: psycopg.Connection[Any], pg_schema: tuple[str, str]
) -> None:
    # Given a dead node's task, and another node holding the recovery lock
    b = make_store()
    b.open("node-b")
    [task_id] = b.insert([new()], T0)
    b.claim("email", 1, "node-dead", T0)
    key = lock_key(pg_schema[1], LOCK_RECOVERY)
    admin.execute("SELECT pg_advisory_lock(%s)", (key,))
    # Then this node leaves the work to the holder
    assert b.recover("node-b", T0).requeued == []
    # And does it once the holder is gone
    admin.execute("SELECT pg_advisory_unlock(%s)", (key,))
    assert b.recover("node-b", T0).requeued == [task_id]


def test_a_node_declared_dead_says_so_at_its_next_heartbeat(
    make_store: MakeStore, admin: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = make_store(), make_store()
    a.open("node-a")
    b.open("node-b")
    age(admin, "node-a", 60)
    b.recover("node-b", T0)
    with caplog.at_level(logging.ERROR, logger="jobsched.storage"):
        a.heartbeat(node_info("node-a"))
        a.heartbeat(node_info("node-a"))
    assert caplog.text.count("node-a was declared dead by node-b") == 1
    assert {n.node_id: n.stopped for n in b.nodes()}["node-a"] is False  # alive again


def test_starts_recorded_by_many_workers_at_once_all_count(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    store = make_store()
    store.open("node-a")
    store.insert([new(max_attempts=1) for _ in range(200)], T0)
    tasks = store.claim("email", 200, "node-x", T0)

    def start(part: list[Any]) -> None:
        for task in part:
            assert store.record_start(task)

    threads = [threading.Thread(target=start, args=(tasks[n::16],)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert admin.execute("SELECT count(*) FROM tasks WHERE run_began").fetchone() == (200,)
    assert len(store.recover("node-a", T0).orphaned) == 200


def test_a_lost_connection_is_replaced_on_the_next_call(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    store = make_store()
    store.open(None)
    store.insert([new()], T0)
    backend = store._conn().info.backend_pid  # this thread's connection
    admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    with pytest.raises(StoreUnavailableError):
        store.counts()
    assert store.counts()["email"][QUEUED] == 1


def test_stopped_nodes_are_forgotten_after_a_day(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    store = make_store()
    store.open(None)
    store.heartbeat(node_info("old", stopped=True))
    store.heartbeat(node_info("recent", stopped=True))
    age(admin, "old", 25 * 3600)
    store.recover("node-b", T0)
    assert [n.node_id for n in store.nodes()] == ["recent"]


# --- the claim lease: claims not begun go back before the node is declared dead ---------


def test_a_silent_node_s_claims_not_begun_go_back_once_its_lease_runs_out(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    # Given node-a (lease 2 s) holding three claimed tasks, the first of which began
    a, b = make_store(stale_after=30), make_store(stale_after=30)
    a.open("node-a")
    b.open("node-b")
    a.heartbeat(node_info("node-a", claim_lease=2.0))
    a.insert([new(), new(), new()], T0)
    first, second, third = a.claim("email", 3, "node-a", T0)
    assert a.record_start(first)
    # When its heartbeat is 1 s old: nothing goes back
    age(admin, "node-a", 1)
    assert b.recover("node-b", T0 + 1).requeued == []
    # When it is 3 s old (past the lease, far from stale_after)
    age(admin, "node-a", 3)
    report = b.recover("node-b", T0 + 3)
    # Then the two claims not begun are queued again with their attempt given back
    assert (report.requeued, report.orphaned) == ([second.id, third.id], [])
    rows = [a.get(t.id) for t in (first, second, third)]
    assert [(r.state, r.attempts, r.owner) for r in rows if r] == [
        (RUNNING, 1, "node-a"),
        (QUEUED, 0, None),
        (QUEUED, 0, None),
    ]
    # while the run that began stays node-a's, which is not declared dead
    assert {n.node_id: n.stopped for n in b.nodes()} == {"node-a": False, "node-b": False}
    # And should node-a come back, its starts of those two are refused; its run goes on
    assert (a.record_start(second), a.record_start(third)) == (False, False)
    assert a.record_start(first) is True  # the same claim again: still its own
    assert a.finish([done(first)]) == [True]


def test_a_node_that_publishes_no_lease_keeps_its_claims_until_stale_after(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    # Given a node of an older version: its heartbeat carries no claim lease
    a, b = make_store(stale_after=30), make_store(stale_after=30)
    a.open(None)
    b.open(None)
    a.heartbeat(node_info("node-a"))
    a.insert([new()], T0)
    [task] = a.claim("email", 1, "node-a", T0)
    age(admin, "node-a", 20)
    assert b.recover("node-b", T0).requeued == []
    # Then stale_after alone gives the claim back (not begun: attempt returned)
    age(admin, "node-a", 31)
    assert b.recover("node-b", T0).requeued == [task.id]
    assert a.get(task.id).attempts == 0  # type: ignore[union-attr]


def test_a_lease_longer_than_stale_after_counts_as_stale_after(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    a = make_store(stale_after=5)
    a.open(None)
    a.heartbeat(node_info("node-a", claim_lease=60.0))
    a.insert([new()], T0)
    [task] = a.claim("email", 1, "node-a", T0)
    age(admin, "node-a", 6)
    assert a.recover("node-b", T0).requeued == [task.id]


def test_a_start_is_fenced_by_the_claim_not_by_the_attempt_number(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    # Given a claim of node-a given back (lease run out) and the task claimed again, by
    # node-a itself and then by node-b: every claim has attempt number 1
    a, b = make_store(stale_after=30), make_store(stale_after=30)
    a.open(None)
    b.open(None)
    a.heartbeat(node_info("node-a", claim_lease=1.0))
    a.insert([new()], T0)
    [old] = a.claim("email", 1, "node-a", T0)
    age(admin, "node-a", 2)
    assert b.recover("node-b", T0).requeued == [old.id]
    [again] = a.claim("email", 1, "node-a", T0 + 1)
    assert (again.attempts, again.owner) == (old.attempts, old.owner)
    # Then the old record's start is refused (its claim time tells it apart)
    assert a.record_start(old) is False
    a.release([again.id], "node-a")
    [other] = b.claim("email", 1, "node-b", T0 + 2)
    assert a.record_start(again) is False
    assert b.record_start(other) is True
    assert admin.execute("SELECT owner, run_began FROM tasks").fetchall() == [("node-b", True)]


def test_a_start_waiting_on_the_give_back_s_row_lock_is_refused(
    make_store: MakeStore, admin: psycopg.Connection[Any]
) -> None:
    # Given node-a's claim, and a recoverer that has locked its row to give it back
    a = make_store()
    a.open(None)
    a.heartbeat(node_info("node-a", claim_lease=1.0))
    a.insert([new()], T0)
    [task] = a.claim("email", 1, "node-a", T0)
    age(admin, "node-a", 2)
    answers: list[bool] = []
    with admin.transaction():
        assert admin.execute(queries.LOCK_LAPSED, ("node-b", 30.0, 30.0)).fetchall() == [
            (task.id, "node-a")
        ]
        # When node-a's start arrives meanwhile (it waits for the row lock)
        starter = threading.Thread(target=lambda: answers.append(a.record_start(task)))
        starter.start()
        _wait_for_lock_wait(admin)
        assert admin.execute(queries.HAND_BACK, ([task.id],)).fetchall() == [(task.id,)]
    starter.join(timeout=30)
    # Then, the give-back committed first, the start finds the claim gone: not run
    assert answers == [False]
    assert admin.execute("SELECT state, run_began FROM tasks").fetchall() == [(QUEUED, False)]


def _wait_for_lock_wait(admin: psycopg.Connection[Any], timeout: float = 10.0) -> None:
    """Until another session of this database waits for a row lock."""
    deadline = time.monotonic() + timeout
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    while True:
        # Inside a transaction the server keeps the first view of pg_stat_activity until
        # it ends: clear it, or a wait that began after the first look is never seen.
        admin.execute("SELECT pg_stat_clear_snapshot()")
        if admin.execute(query).fetchone() != (0,):
            return
        assert time.monotonic() < deadline, "no session waited for the row lock"
        time.sleep(0.01)  # polling the server's view of another session, bounded
