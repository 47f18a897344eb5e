"""Task counts on PostgreSQL: kept by statement triggers as append-only deltas (so nodes
never wait on a shared counter row), folded into totals, checked and repaired, and
filled by the upgrade of an older schema."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from jobsched.core.task import QUEUED, RUNNING, SUCCEEDED
from jobsched.storage import PostgresStore

from tests.conftest import with_query
from tests.storage.postgres.released import write_v1_schema
from tests.store_contract import T0, done, new

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(pg_schema: tuple[str, str]) -> Iterator[PostgresStore]:
    url, _ = pg_schema
    store = PostgresStore(url)
    store.open(None)
    yield store
    store.close()


def test_writes_append_deltas_and_a_fold_moves_them_into_the_totals(
    store: PostgresStore, admin: psycopg.Connection[Any]
) -> None:
    store.insert([new() for _ in range(50)], T0)
    tasks = store.claim("email", 30, "node-a", T0)
    store.finish([done(t) for t in tasks[:20]])
    # One delta row per (category, state) per statement, never one per task
    assert admin.execute("SELECT count(*) FROM task_count_deltas").fetchone()[0] <= 6
    before = store.counts()
    assert before["email"][QUEUED] == 20 and before["email"][RUNNING] == 10
    store.compact_counts()
    assert admin.execute("SELECT count(*) FROM task_count_deltas").fetchone() == (0,)
    assert store.counts() == before
    assert store.check_counts() == []


def test_two_nodes_claiming_and_finishing_at_once_keep_exact_counts(
    pg_schema: tuple[str, str], store: PostgresStore
) -> None:
    store.insert([new() for _ in range(2000)], T0)
    nodes = [PostgresStore(pg_schema[0]) for _ in range(2)]
    errors: list[BaseException] = []

    def work(node: PostgresStore, name: str) -> None:
        try:
            while tasks := node.claim("email", 25, name, T0):
                node.finish([done(t) for t in tasks])
                node.compact_counts()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    for node in nodes:
        node.open(None)
    threads = [threading.Thread(target=work, args=(n, f"node-{i}")) for i, n in enumerate(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for node in nodes:
        node.close()
    assert errors == []
    assert store.counts()["email"][SUCCEEDED] == 2000
    assert store.check_counts() == []


def test_a_damaged_counter_is_found_and_repaired(
    store: PostgresStore, admin: psycopg.Connection[Any]
) -> None:
    store.insert([new() for _ in range(5)], T0)
    store.compact_counts()
    admin.execute("UPDATE task_counts SET n = 2 WHERE state = 'queued'")
    admin.execute(
        "INSERT INTO task_count_deltas (category, state, n) VALUES ('ghost', 'failed', 4)"
    )
    expected = [("email", QUEUED, 2, 5), ("ghost", "failed", 4, 0)]
    assert store.check_counts() == expected
    assert store.check_counts(repair=True) == expected
    assert store.check_counts() == []
    assert set(store.counts()) == {"email"} and store.counts()["email"][QUEUED] == 5


def test_an_upgraded_schema_counts_the_tasks_it_already_had(
    pg_url: str, admin: psycopg.Connection[Any]
) -> None:
    schema = f"jobsched_test_{uuid.uuid4().hex[:12]}_v1"
    write_v1_schema(admin, schema)
    try:
        for state in ("queued", "queued", "succeeded"):
            admin.execute(
                f"INSERT INTO {schema}.tasks (handler, category, state, payload, created_at,"
                " run_at, max_attempts) VALUES ('email.send', 'email', %s, 'null', %s, %s, 3)",
                (state, T0, T0),
            )
        store = PostgresStore(with_query(pg_url, schema=schema))
        store.open(None)
        try:
            assert store.counts()["email"][QUEUED] == 2
            assert store.counts()["email"][SUCCEEDED] == 1
            store.insert([new()], T0)
            assert store.counts()["email"][QUEUED] == 3
            assert store.check_counts() == []
        finally:
            store.close()
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
