"""Whole schedulers sharing one PostgreSQL schema, in one process (fast, threaded).

The real-process version, with a node killed, is postgres/test_cluster.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.storage import PostgresStore
from jobsched.storage.postgres.connection import parse_url

pytestmark = pytest.mark.postgres

CONFIG = SchedulerConfig(
    workers=3,
    categories={"email": CategoryConfig(min_workers=1), "web": CategoryConfig(min_workers=1)},
    poll_interval=0.05,
    balance_interval=0.2,
    heartbeat_interval=0.2,
    grace_period=5.0,
)

MakeNode = Callable[..., Scheduler]


@pytest.fixture
def make_node(pg_schema: tuple[str, str]) -> Iterator[MakeNode]:
    """Build schedulers on the test's schema, with the handlers of these tests; every
    one is stopped afterwards."""
    url, _ = pg_schema
    made: list[Scheduler] = []
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def make(**options: Any) -> Scheduler:
        sched = Scheduler(CONFIG, PostgresStore(url), **options)
        name = sched.node_id

        def work(payload: Any) -> str:
            from jobsched.core import current_task

            with lock:
                runs[current_task().id] += 1
            return name

        sched.handler("email.send", category="email")(work)
        sched.handler("web.fetch", category="web")(work)
        sched.runs = runs  # type: ignore[attr-defined]
        made.append(sched)
        return sched

    yield make
    for sched in made:
        sched.stop(grace=5)


def test_two_nodes_share_the_work_and_run_each_task_once(make_node: MakeNode) -> None:
    # Given two running nodes on one database
    a, b = make_node().start(), make_node().start()
    # When one of them is given 600 tasks
    ids = a.submit_many([("email.send", {"n": n}) for n in range(300)])
    ids += a.submit_many([("web.fetch", {"n": n}) for n in range(300)])
    # Then every task succeeds once, and both nodes ran some
    ran_on = Counter(a.wait(task_id, timeout=30).result_value() for task_id in ids)
    assert set(ran_on) == {a.node_id, b.node_id}
    assert sorted(a.runs) == sorted(ids) and set(a.runs.values()) == {1}  # type: ignore[attr-defined]


def test_a_result_is_awaited_on_one_node_while_another_runs_the_task(
    make_node: MakeNode,
) -> None:
    # Given a node that never runs anything itself (stepped, and never stepped), and a
    # threaded node that does the work
    idle = make_node(threaded=False).start()
    make_node().start()
    # When the idle node submits a task and waits for its result
    began = time.monotonic()
    result = idle.submit("web.fetch", {}).result(timeout=10)
    # Then it gets it as soon as the other node has run it, by reading the store
    assert result != idle.node_id
    assert time.monotonic() - began < 5


def test_operator_changes_reach_every_node_within_a_balancer_interval(
    make_node: MakeNode,
) -> None:
    a, b = make_node().start(), make_node().start()
    a.set_paused("email", True)
    a.set_priority("web", 7)
    deadline = time.monotonic() + 10 * CONFIG.balance_interval
    while time.monotonic() < deadline:
        cats = {c.name: c for c in b.snapshot().categories}
        if cats["email"].paused and cats["web"].priority == 7:
            break
        threading.Event().wait(0.02)
    else:
        raise AssertionError("node b never saw the change")
    # A paused category runs nowhere: a task submitted on b waits, queued
    handle = b.submit("email.send", {})
    threading.Event().wait(5 * CONFIG.poll_interval)
    assert handle.state() == "queued"
    b.set_paused("email", False)
    assert handle.result(timeout=10) in (a.node_id, b.node_id)


def test_nodes_list_each_other(make_node: MakeNode) -> None:
    a, b = make_node().start(), make_node().start()
    listed = {n.node_id: n for n in a.store.nodes()}
    assert {a.node_id, b.node_id} <= set(listed)
    b.stop()
    assert {n.node_id: n.stopped for n in a.store.nodes()}[b.node_id] is True


def test_two_nodes_keep_their_own_history_rows_and_a_read_adds_them_up(
    make_node: MakeNode, pg_url: str, pg_schema: tuple[str, str]
) -> None:
    # Given two nodes that shared 300 tasks, then stopped (each writing its last minute)
    a, b = make_node().start(), make_node().start()
    ids = a.submit_many([("email.send", {"n": n}) for n in range(300)])
    ran_on = Counter(a.wait(task_id, timeout=30).result_value() for task_id in ids)
    a.stop(grace=5)
    b.stop(grace=5)
    # Then each node's rows count exactly the tasks it ran: neither wrote over the other
    with psycopg.connect(
        parse_url(pg_url).conninfo, autocommit=True, options=f"-c search_path={pg_schema[1]}"
    ) as conn:
        rows = conn.execute(
            "SELECT node_id, sum(succeeded), sum(failed) FROM category_history"
            " WHERE category = 'email' GROUP BY node_id"
        ).fetchall()
    assert {node: int(done) for node, done, _ in rows} == {
        node: n for node, n in ran_on.items() if n
    }
    assert all(failed == 0 for _, _, failed in rows)
    # And a read adds the nodes up, minute by minute
    store = PostgresStore(pg_schema[0])
    store.open(None)
    try:
        assert sum(row.succeeded for row in store.history(0)) == 300
    finally:
        store.close()
