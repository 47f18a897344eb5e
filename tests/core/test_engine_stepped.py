"""The engine driven step by step on a fake clock: no thread, no sleep.

Each test reads Given / When / Then.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    FakeClock,
    MemoryStore,
    Scheduler,
    SchedulerConfig,
    TaskFailedError,
    WaitTimeoutError,
    current_task,
)

CATS = {
    "email": CategoryConfig(min_workers=1),
    "web": CategoryConfig(kind="request-response", priority=3, max_attempts=3),
}


class Env:
    """A stepped scheduler on a fake clock, with handlers that record what ran."""

    def __init__(self, store: MemoryStore | None = None, workers: int = 2, **cfg: Any) -> None:
        self.clock = FakeClock()
        self.store = store or MemoryStore()
        self.ran: list[tuple[str, Any]] = []
        self.sched = Scheduler(
            SchedulerConfig(workers=workers, categories=cfg.pop("categories", CATS), **cfg),
            self.store,
            clock=self.clock,
            threaded=False,
            rng=random.Random(7),
        )
        self.fail_times: dict[Any, int] = {}

        @self.sched.handler("email.send")
        def send(payload: Any) -> None:
            self.ran.append(("email.send", payload))

        @self.sched.handler("web.fetch")
        def fetch(payload: Any) -> Any:
            self.ran.append(("web.fetch", payload))
            key = payload.get("n") if isinstance(payload, dict) else None
            if self.fail_times.get(key, 0) > 0:
                self.fail_times[key] -= 1
                raise RuntimeError(f"fetch {key} failed")
            return {"page": payload, "attempt": current_task().attempt}

    def state(self, task_id: int) -> str:
        return self.sched.get(task_id).state


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    e.sched.start()
    yield e
    e.sched.stop(grace=0)


def test_tasks_of_a_category_start_in_submit_order(env: Env) -> None:
    # Given 30 tasks submitted to one category
    ids = [env.sched.submit("email.send", {"i": i}).id for i in range(30)]
    # When the engine runs until idle
    env.sched.run_until_idle()
    # Then they ran in the order they were submitted, and all succeeded
    assert [p["i"] for _, p in env.ran] == list(range(30))
    assert {env.state(i) for i in ids} == {"succeeded"}


def test_delayed_task_is_never_early(env: Env) -> None:
    # Given a task delayed by 10 s
    handle = env.sched.submit("email.send", {"late": True}, delay=10)
    assert env.state(handle.id) == "scheduled"
    # When time advances to just before it is due
    env.clock.advance(9.999)
    for _ in range(3):
        env.sched.step()
    # Then it has not run
    assert env.ran == []
    assert env.state(handle.id) == "scheduled"
    # When it is due, it runs on the next step
    env.clock.advance(0.001)
    env.sched.step()
    assert env.ran == [("email.send", {"late": True})]
    assert env.state(handle.id) == "succeeded"


def test_timer_deadline_matches_the_delay(env: Env) -> None:
    env.sched.submit("email.send", {}, delay=5)
    deadline = env.sched.timer.next_deadline()
    assert deadline == pytest.approx(env.clock.monotonic() + 5)


def test_failed_attempt_is_retried_with_exponential_backoff_and_jitter(env: Env) -> None:
    # Given a handler that fails twice, then succeeds (web allows 3 attempts)
    env.fail_times[1] = 2
    handle = env.sched.submit("web.fetch", {"n": 1})
    base = env.sched.config.retry_base
    # When the first attempt fails
    env.sched.step()
    row = env.sched.get(handle.id)
    # Then it waits in `scheduled` between 50% and 100% of the base backoff, keeping its error
    assert row.state == "scheduled" and row.attempts == 1
    assert "fetch 1 failed" in (row.error or "")
    assert env.clock.now() + 0.5 * base <= row.run_at <= env.clock.now() + base
    # When the backoff passes, the second attempt fails and waits twice as long
    env.clock.advance(row.run_at - env.clock.now())
    env.sched.step()
    row = env.sched.get(handle.id)
    assert row.state == "scheduled" and row.attempts == 2
    assert env.clock.now() + 1.0 * base <= row.run_at <= env.clock.now() + 2 * base
    # Then the third attempt succeeds and reports its attempt number
    env.clock.advance(row.run_at - env.clock.now())
    env.sched.step()
    assert handle.result(timeout=0) == {"page": {"n": 1}, "attempt": 3}


def test_exhausted_attempts_fail_with_the_error_text(env: Env) -> None:
    env.fail_times[2] = 99
    handle = env.sched.submit("web.fetch", {"n": 2}, max_attempts=1)
    env.sched.step()
    with pytest.raises(TaskFailedError, match="RuntimeError: fetch 2 failed") as info:
        handle.result(timeout=0)
    assert "Traceback" in (info.value.error or "")
    assert env.state(handle.id) == "failed"


def test_request_response_result_comes_back(env: Env) -> None:
    handle = env.sched.submit("web.fetch", {"n": 5})
    with pytest.raises(WaitTimeoutError):
        handle.result(timeout=0)
    env.sched.step()
    assert handle.result(timeout=0) == {"page": {"n": 5}, "attempt": 1}


def test_pause_stops_feeding_and_resume_restarts_it(env: Env) -> None:
    # Given a paused category with work waiting
    env.sched.set_paused("email", True)
    ids = [env.sched.submit("email.send", {"i": i}).id for i in range(3)]
    # When the engine steps
    for _ in range(3):
        env.sched.step()
    # Then nothing ran and nothing was lost
    assert env.ran == []
    assert {env.state(i) for i in ids} == {"queued"}
    assert env.store.load_settings()["email"].paused is True
    # When resumed, everything runs
    env.sched.set_paused("email", False)
    env.sched.run_until_idle()
    assert len(env.ran) == 3


def test_pause_gives_back_tasks_already_claimed_into_the_fifo(env: Env) -> None:
    # Given tasks claimed into the FIFO but not started
    for i in range(4):
        env.sched.submit("email.send", {"i": i})
    env.sched.dispatcher.run_once()
    assert env.sched.pools["email"].fifo.qsize() > 0
    # When the category is paused
    env.sched.set_paused("email", True)
    # Then the FIFO is empty and the tasks are queued again with no attempt counted
    assert env.sched.pools["email"].fifo.qsize() == 0
    rows = env.store.list_tasks(category="email")
    assert {(r.state, r.attempts) for r in rows} == {("queued", 0)}


def test_cancel_a_queued_task_means_it_never_runs(env: Env) -> None:
    keep = env.sched.submit("email.send", {"keep": 1})
    drop = env.sched.submit("email.send", {"drop": 1})
    assert env.sched.cancel([drop.id]) == {drop.id: "cancelled"}
    env.sched.run_until_idle()
    assert env.ran == [("email.send", {"keep": 1})]
    assert env.state(drop.id) == "cancelled"
    assert env.state(keep.id) == "succeeded"


def test_cancel_a_claimed_task_before_it_starts(env: Env) -> None:
    handle = env.sched.submit("email.send", {"x": 1})
    env.sched.dispatcher.run_once()  # claimed into the FIFO: `running` in the store
    assert env.sched.cancel([handle.id]) == {handle.id: "requested"}
    env.sched.run_until_idle()
    assert env.ran == []
    assert env.state(handle.id) == "cancelled"


def test_cancel_of_unknown_and_finished_tasks_says_so(env: Env) -> None:
    handle = env.sched.submit("email.send", {})
    env.sched.run_until_idle()
    assert env.sched.cancel([handle.id, 999]) == {handle.id: "terminal", 999: "missing"}


def test_dedup_key_returns_the_live_task(env: Env) -> None:
    first = env.sched.submit("web.fetch", {"n": 1}, key="page-1")
    second = env.sched.submit("web.fetch", {"n": 1}, key="page-1")
    assert second.id == first.id
    env.sched.run_until_idle()
    assert len(env.ran) == 1
    # Once the first is terminal the key is free again
    third = env.sched.submit("web.fetch", {"n": 1}, key="page-1")
    assert third.id != first.id


def test_handler_that_raises_systemexit_is_a_failure_and_the_worker_lives(env: Env) -> None:
    @env.sched.handler("email.exit")
    def leave(payload: Any) -> None:
        raise SystemExit(3)

    bad = env.sched.submit("email.exit", {}, max_attempts=1)
    good = env.sched.submit("email.send", {"after": 1})
    env.sched.run_until_idle()
    assert env.state(bad.id) == "failed"
    assert "SystemExit" in (env.sched.get(bad.id).error or "")
    assert env.state(good.id) == "succeeded"


def test_result_that_is_not_json_succeeds_with_a_placeholder(env: Env) -> None:
    @env.sched.handler("email.weird")
    def weird(payload: Any) -> Any:
        return {1, 2}

    handle = env.sched.submit("email.weird", {})
    env.sched.run_until_idle()
    assert env.state(handle.id) == "succeeded"
    assert handle.result(0) == {"unserialisable_result": "{1, 2}"}


def test_current_task_outside_a_handler_raises() -> None:
    from jobsched.core import SchedulerStateError

    with pytest.raises(SchedulerStateError):
        current_task()


def test_stop_releases_claimed_tasks_back_to_queued_without_an_attempt(env: Env) -> None:
    for i in range(4):
        env.sched.submit("email.send", {"i": i})
    env.sched.dispatcher.run_once()
    in_fifo = [t.id for t in list(env.sched.pools["email"].fifo.queue)]
    assert in_fifo
    released = env.sched.stop()
    assert sorted(released) == sorted(in_fifo)
    assert env.ran == []
    rows = {r.id: r for r in env.store.list_tasks()}
    assert all(rows[i].state == "queued" and rows[i].attempts == 0 for i in released)


def test_restart_recovers_interrupted_tasks_and_orphans_the_exhausted() -> None:
    # Given a node that claimed three tasks, began running two of them, and "died"
    store = MemoryStore()
    first = Env(store)
    first.sched.start()
    first.sched.submit("email.send", {"warm-up": 1})  # once a task ran, the FIFO is deep
    first.sched.run_until_idle()
    begun = first.sched.submit("email.send", {"a": 1}, max_attempts=2).id
    poison = first.sched.submit("email.send", {"b": 1}, max_attempts=1).id
    waiting = first.sched.submit("email.send", {"c": 1}, max_attempts=1).id
    first.sched.dispatcher.run_once()
    assert {store.get(i).state for i in (begun, poison, waiting)} == {"running"}  # type: ignore[union-attr]
    assert store.record_start(store.get(begun))  # type: ignore[arg-type]
    assert store.record_start(store.get(poison))  # type: ignore[arg-type]
    # When a new node starts on the same store
    second = Env(store)
    second.sched.start()
    # Then the begun task with attempts left is queued again with its attempt counted,
    row = store.get(begun)
    assert row is not None and (row.state, row.attempts) == ("queued", 1)
    # the begun task with no attempt left is orphaned (the poison rule),
    row = store.get(poison)
    assert row is not None and row.state == "failed" and row.reason == "orphaned"
    # and the task that only waited in the FIFO gets its attempt back
    row = store.get(waiting)
    assert row is not None and (row.state, row.attempts) == ("queued", 0)
    second.sched.run_until_idle()
    assert store.get(begun).state == store.get(waiting).state == "succeeded"  # type: ignore[union-attr]
    assert sorted(p["a" if "a" in p else "c"] for _, p in second.ran) == [1, 1]
    assert len(second.ran) == 2
    second.sched.stop()


def test_stored_task_whose_handler_disappeared_fails_without_retrying() -> None:
    store = MemoryStore()
    first = Env(store)
    first.sched.start()
    task_id = first.sched.submit("email.send", {}).id
    first.sched.stop()
    # A new version of the program no longer has the handler
    clock = FakeClock()
    second = Scheduler(
        SchedulerConfig(workers=2, categories=CATS), store, clock=clock, threaded=False
    )
    with second:
        second.run_until_idle()
        row = second.get(task_id)
        assert row.state == "failed" and row.reason == "handler_missing"
        assert row.attempts == 1


def test_balancer_moves_workers_to_the_busy_category_after_the_interval(env: Env) -> None:
    # Given a budget of 2 with email min 1
    assert env.sched.snapshot().pool_total == 2
    env.sched.set_paused("email", True)
    for i in range(50):
        env.sched.submit("web.fetch", {"n": 100 + i})
    # When the balance interval passes
    env.clock.advance(env.sched.config.balance_interval)
    env.sched.step()
    snap = env.sched.snapshot()
    # Then web got every worker above email's minimum, and the decision says why
    assert snap.category("web").workers == 1 and snap.category("email").workers == 1
    env.sched.set_paused("email", False)
    env.sched.pin("email", 1)
    assert env.sched.snapshot().pool_total == 2


def test_category_with_no_workers_gets_one_when_work_arrives() -> None:
    e = Env(workers=2, categories={"email": CategoryConfig(), "web": CategoryConfig(priority=3)})
    e.sched.start()
    e.sched.pin("web", 2)
    e.sched.step()
    assert e.sched.snapshot().category("email").workers == 0
    e.sched.pin("web", None)
    e.sched.step()
    e.sched.pin("email", 0)
    e.sched.step()
    # Given email has no worker, when it is unpinned and work arrives
    e.sched.pin("email", None)
    for i in range(5):
        e.sched.submit("email.send", {"i": i})
    e.sched.step()
    # Then the balancer gives it a worker at once (no waiting for the interval)
    assert e.sched.snapshot().category("email").workers >= 1
    e.sched.run_until_idle()
    assert len(e.ran) == 5
    e.sched.stop()


def test_snapshot_is_immutable_and_complete(env: Env) -> None:
    env.sched.submit("email.send", {})
    env.sched.step()
    env.clock.advance(1)
    env.sched.step()
    snap = env.sched.snapshot()
    assert {c.name for c in snap.categories} == {"email", "web"}
    assert snap.budget == 2 and snap.pool_total == 2
    assert len(snap.workers) == 2
    assert snap.decisions and "changes" in snap.decisions[0]
    with pytest.raises(AttributeError):
        snap.budget = 3  # type: ignore[misc]
    assert snap.category("email").succeeded == 1


def test_wall_clock_jumps_make_no_task_early_and_none_run_twice(env: Env) -> None:
    # Given a task delayed by 10 s
    handle = env.sched.submit("email.send", {"n": 1}, delay=10)
    # When the wall clock jumps an hour ahead
    env.clock.jump_wall(3600)
    env.sched.step()
    # Then the task is not early: it waits for 10 s of real (monotonic) time
    assert env.ran == []
    env.clock.advance(9.9)
    env.sched.step()
    assert env.ran == []
    env.clock.advance(0.1)
    env.sched.step()
    assert env.ran == [("email.send", {"n": 1})]
    # And when the clock jumps back two hours, nothing runs again
    env.clock.jump_wall(-7200)
    for _ in range(3):
        env.clock.advance(5)
        env.sched.step()
    assert len(env.ran) == 1 and env.state(handle.id) == "succeeded"


def test_min_and_max_workers_change_at_run_time_and_persist(env: Env) -> None:
    from jobsched.core import ConfigError

    # When web's maximum is lowered to 1 and email's minimum raised to 1 at run time
    cat = env.sched.set_limits("web", max_workers=1)
    assert cat.max_workers == 1
    env.sched.step()
    # Then the pools follow at once, and the change is stored for every node and restart
    assert env.sched.snapshot().category("web").workers <= 1
    assert env.store.load_settings()["web"].max_workers == 1
    # And limits the budget cannot fit are refused, keeping the old ones
    with pytest.raises(ConfigError, match="min_workers"):
        env.sched.set_limits("email", min_workers=3)
    with pytest.raises(ConfigError, match="sum of minimum"):
        env.sched.set_limits("web", min_workers=2, max_workers=2)
    with pytest.raises(ConfigError, match="max_workers"):
        env.sched.set_limits("email", max_workers=0)
    assert env.store.load_settings().get("email") is None
    assert env.sched.snapshot().pool_total == 2
