"""The direct hand-off: a submit that finds nothing older waiting inserts its task already
claimed and puts it straight into the FIFO, skipping the claim transaction. It must keep
every promise of the claim path: FIFO order, the window, pause, stop and retries.

Driven step by step on a fake clock (no thread): nothing runs until ``step()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jobsched.core import CategoryConfig, MemoryStore
from jobsched.core.task import QUEUED, RUNNING, NewTask

from tests.core.test_engine_stepped import Env


class CountingStore(MemoryStore):
    """The in-memory store, counting claims and claimed inserts."""

    def __init__(self) -> None:
        super().__init__()
        self.claims = 0
        self.direct = 0

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        self.claims += 1
        return super().claim(*args, **kwargs)

    def insert_claimed(self, *args: Any, **kwargs: Any) -> Any:
        self.direct += 1
        return super().insert_claimed(*args, **kwargs)


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env(store=CountingStore())
    e.sched.start()
    # One task has run (so the FIFO's depth follows its run time: instant on this fake
    # clock, so the deepest) and the dispatcher has looked: nothing waits in the store.
    e.sched.submit("email.send", "warm-up")
    e.sched.run_until_idle()
    e.ran.clear()
    store_of(e).claims = store_of(e).direct = 0
    yield e
    e.sched.stop(grace=0)


def store_of(env: Env) -> CountingStore:
    assert isinstance(env.store, CountingStore)
    return env.store


def window(env: Env, category: str = "email") -> int:
    return env.sched.dispatcher.window(env.sched.pools[category])


def test_a_submit_to_an_idle_category_is_claimed_in_the_same_write(env: Env) -> None:
    claims = store_of(env).claims
    # When a task is submitted to a category with nothing waiting
    handle = env.sched.submit("email.send", {"i": 1})
    # Then it is stored already claimed by this node and waits in the FIFO, with no claim
    row = env.sched.get(handle.id)
    assert (row.state, row.owner, row.attempts) == (RUNNING, env.sched.node_id, 1)
    assert env.sched.pools["email"].fifo.qsize() == 1
    assert (store_of(env).direct, store_of(env).claims) == (1, claims)
    # And it runs and succeeds like any other task
    env.sched.run_until_idle()
    assert env.ran == [("email.send", {"i": 1})]
    assert handle.result(timeout=0) is None


def test_submits_past_the_window_wait_in_the_store_and_order_holds(env: Env) -> None:
    # Given more one-at-a-time submits than the category's window holds
    n = window(env) + 25
    ids = [env.sched.submit("email.send", {"i": i}).id for i in range(n)]
    # Then the first window's worth were handed over, the rest are queued in the store
    states = [env.state(i) for i in ids]
    assert states == [RUNNING] * window(env) + [QUEUED] * 25
    # And once the store holds older tasks, later submits queue behind them too
    env.sched.submit("email.send", {"i": n})
    assert env.state(ids[-1] + 1) == QUEUED
    # When the engine runs, every task starts in submit order
    env.sched.run_until_idle()
    assert [p["i"] for _, p in env.ran] == list(range(n + 1))
    # And with the store empty again, the next submit is handed over directly
    direct = store_of(env).direct
    env.sched.submit("email.send", {"i": n + 1})
    assert store_of(env).direct == direct + 1


def test_an_urgent_submit_overtakes_the_store_but_not_the_fifo(env: Env) -> None:
    # Given a window's worth of tasks handed over to the FIFO and 25 more in the store
    n = window(env) + 25
    for i in range(n):
        env.sched.submit("email.send", {"i": i})
    # When a task is submitted at priority 9
    urgent = env.sched.submit("email.send", {"i": "urgent"}, priority=9)
    # Then it queues in the store (it may not pass the FIFO's claimed tasks) ...
    assert env.state(urgent.id) == QUEUED
    env.sched.run_until_idle()
    # ... and starts right after them, ahead of every task that waited in the store
    order = [p["i"] for _, p in env.ran]
    assert order == [*range(window(env)), "urgent", *range(window(env), n)]


def test_pause_and_resume_keep_submit_order(env: Env) -> None:
    for i in range(5):
        env.sched.submit("email.send", {"i": i})
    # When the category is paused: the FIFO's tasks go back to the store, new ones queue
    env.sched.set_paused("email", True)
    assert env.sched.pools["email"].fifo.qsize() == 0
    for i in range(5, 10):
        handle = env.sched.submit("email.send", {"i": i})
        assert env.state(handle.id) == QUEUED
    for _ in range(3):
        env.sched.step()
    assert env.ran == []
    # When it resumes and more arrive before the engine steps
    env.sched.set_paused("email", False)
    for i in range(10, 15):
        env.sched.submit("email.send", {"i": i})
    env.sched.run_until_idle()
    # Then all ran in submit order
    assert [p["i"] for _, p in env.ran] == list(range(15))


def test_stop_gives_handed_over_tasks_back_without_an_attempt(env: Env) -> None:
    ids = [env.sched.submit("email.send", {"i": i}).id for i in range(3)]
    assert store_of(env).direct == 3
    released = env.sched.stop(grace=0)
    assert sorted(released) == ids
    rows = [env.store.get(i) for i in ids]
    assert [(r.state, r.attempts, r.owner) for r in rows if r] == [(QUEUED, 0, None)] * 3


def test_a_retry_that_is_due_runs_before_a_later_submit(env: Env) -> None:
    # Given a fetch that failed once and waits for its retry
    env.fail_times[1] = 1
    first = env.sched.submit("web.fetch", {"n": 1})
    env.sched.run_until_idle()
    row = env.sched.get(first.id)
    assert row.state == "scheduled"
    # When its retry is due and a new task is submitted before the engine steps
    env.clock.advance(row.run_at - env.clock.now())
    second = env.sched.submit("web.fetch", {"n": 2})
    # Then the new one is not handed over ahead of the due retry
    assert env.state(second.id) == QUEUED
    env.sched.run_until_idle()
    assert [p["n"] for _, p in env.ran] == [1, 1, 2]


def test_dedup_keys_and_delays_take_the_claim_path(env: Env) -> None:
    keyed = env.sched.submit("email.send", {"k": 1}, key="once")
    later = env.sched.submit("email.send", {"k": 2}, delay=5)
    assert store_of(env).direct == 0
    assert (env.state(keyed.id), env.state(later.id)) == (QUEUED, "scheduled")
    assert env.sched.submit("email.send", {"k": 3}, key="once").id == keyed.id


def test_a_batch_for_one_category_is_handed_over_in_one_write(env: Env) -> None:
    ids = env.sched.submit_many([("email.send", {"i": i}) for i in range(4)])
    assert store_of(env).direct == 1
    assert {env.state(i) for i in ids} == {RUNNING}
    # A batch across categories, or larger than the room left, takes the claim path
    mixed = env.sched.submit_many([("email.send", {}), ("web.fetch", {"n": 9})])
    big = env.sched.submit_many([("email.send", {"i": i}) for i in range(window(env))])
    assert store_of(env).direct == 1
    assert {env.state(i) for i in mixed + big} == {QUEUED}


def test_the_fifo_holds_about_ten_ms_of_work_per_worker() -> None:
    # Given a category whose tasks take 1 ms and one whose tasks take a second
    e = Env(
        categories={"email": CategoryConfig(min_workers=1), "web": CategoryConfig(min_workers=1)}
    )
    e.sched.handler("email.quick")(lambda p: e.clock.advance(0.001))
    e.sched.handler("web.slow")(lambda p: e.clock.advance(1.0))
    e.sched.start()
    try:
        # Before any task ran, each worker holds one task waiting
        assert e.sched.dispatcher.prefetch(e.sched.pools["email"]) == 1
        # When some of each have run
        e.sched.submit_many([("email.quick", i) for i in range(20)])
        e.sched.submit_many([("web.slow", i) for i in range(3)])
        e.sched.run_until_idle()
        # Then quick tasks wait about 10 deep per worker, slow ones one deep
        assert e.sched.dispatcher.prefetch(e.sched.pools["email"]) == 10
        assert e.sched.dispatcher.prefetch(e.sched.pools["web"]) == 1
        # And instant tasks are capped by the prefetch setting
        e.sched.pools["email"].avg_run = 0.0
        assert e.sched.dispatcher.prefetch(e.sched.pools["email"]) == e.sched.config.prefetch
    finally:
        e.sched.stop(grace=0)


class SharedStore(CountingStore):
    """Polled by the node like a SQLite file that other processes write to."""

    shared = True


def test_a_backlog_queued_by_another_process_is_not_overtaken() -> None:
    e = Env(store=SharedStore())
    e.sched.start()
    try:
        e.sched.submit("email.send", "warm-up")
        e.sched.run_until_idle()  # nothing waits: submits are handed over directly
        e.ran.clear()
        # Given another process queues more tasks than the FIFO's window holds
        n = window(e) + 30
        now = e.clock.now()
        e.store.insert(
            [NewTask("email.send", "email", f'{{"i": {i}}}', now, 3) for i in range(n)], now
        )
        # When the node's poll claims a full window, and then a task is submitted here
        e.clock.advance(e.sched.config.poll_interval)
        e.sched.dispatcher.run_once()
        pool = e.sched.pools["email"]
        assert pool.fifo.qsize() == window(e)
        for _ in range(5):  # a worker takes a few, so the window has room again
            pool.workers[0].run_once(0)
        local = e.sched.submit("email.send", {"i": "local"})
        # Then the local task queues behind the backlog instead of jumping it
        assert e.state(local.id) == QUEUED
        e.sched.run_until_idle()
        assert [p["i"] for _, p in e.ran] == [*range(n), "local"]
    finally:
        e.sched.stop(grace=0)
