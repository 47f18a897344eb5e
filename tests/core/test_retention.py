"""Retention: rules parsed from the configuration, and the unit that prunes finished
tasks one batch at a time, driven step by step on a fake clock and the memory store."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from jobsched.core import CategoryConfig, ConfigError, FakeClock, MemoryStore, Scheduler
from jobsched.core import SchedulerConfig as Config
from jobsched.core.retention import (
    MIN_AGE,
    Retention,
    RetentionRule,
    parse_rule,
    parse_rules,
)
from jobsched.core.task import CANCELLED, FAILED, SUCCEEDED, Outcome

from tests.store_contract import new

DAY = 86400.0


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("7d", RetentionRule(SUCCEEDED, max_age=7 * DAY)),
        ("12h", RetentionRule(SUCCEEDED, max_age=12 * 3600.0)),
        ("30m", RetentionRule(SUCCEEDED, max_age=1800.0)),
        ("45s", RetentionRule(SUCCEEDED, max_age=45.0)),
        ("1.5h", RetentionRule(SUCCEEDED, max_age=5400.0)),
        ("2w", RetentionRule(SUCCEEDED, max_age=14 * DAY)),
        ("0s", RetentionRule(SUCCEEDED, max_age=0.0)),
        (10000, RetentionRule(SUCCEEDED, keep=10000)),
        (0, RetentionRule(SUCCEEDED, keep=0)),
        ("forever", RetentionRule(SUCCEEDED)),
        ("Forever", RetentionRule(SUCCEEDED)),
    ],
)
def test_a_rule_is_a_duration_a_count_or_forever(value: object, rule: RetentionRule) -> None:
    assert parse_rule(SUCCEEDED, value) == rule


@pytest.mark.parametrize("value", ["7 days", "7", "", "-1d", -1, True, 1.5, ["7d"]])
def test_a_bad_rule_names_the_key_and_the_value(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rule(FAILED, value)
    assert "retention.failed" in str(info.value)
    assert repr(value) in str(info.value) or str(value) in str(info.value)
    assert "forever" in str(info.value)  # the hint says what is accepted


def test_defaults_fill_the_states_left_out_and_other_states_are_refused() -> None:
    rules = parse_rules({CANCELLED: 100})
    assert rules == [
        RetentionRule(SUCCEEDED, max_age=7 * DAY),
        RetentionRule(FAILED, max_age=30 * DAY),
        RetentionRule(CANCELLED, keep=100),
    ]
    with pytest.raises(ConfigError, match="queued"):
        parse_rules({"queued": "1d"})


def test_the_scheduler_config_validates_retention_and_the_result_limit() -> None:
    cats = {"email": CategoryConfig()}
    assert Config(categories=cats).validate().retention[SUCCEEDED] == "7d"
    with pytest.raises(ConfigError, match="retention.succeeded"):
        Config(categories=cats, retention={SUCCEEDED: "soon"}).validate()
    with pytest.raises(ConfigError, match="max_result_bytes"):
        Config(categories=cats, max_result_bytes=0).validate()


# --- the unit ------------------------------------------------------------------------------
def finished(store: MemoryStore, clock: FakeClock, state: str, count: int) -> list[int]:
    """Given ``count`` tasks finished in ``state`` at the clock's now."""
    now = clock.now()
    store.insert([new() for _ in range(count)], now)
    tasks = store.claim("email", count, "node", now)
    store.finish([Outcome(t.id, "node", t.attempts, state, now) for t in tasks])
    return [t.id for t in tasks]


def unit(store: MemoryStore, clock: FakeClock, values: dict[str, Any], **options: Any) -> Retention:
    rules = parse_rules({SUCCEEDED: "forever", FAILED: "forever", CANCELLED: "forever", **values})
    return Retention(store, rules, clock, **options)


def test_each_step_deletes_one_batch_and_states_take_turns() -> None:
    clock, store = FakeClock(), MemoryStore()
    finished(store, clock, SUCCEEDED, 5)
    finished(store, clock, FAILED, 2)
    retention = unit(store, clock, {SUCCEEDED: "1h", FAILED: "1h"}, batch=2)
    clock.advance(3599)
    assert retention.run_once(clock.now()) == 0  # not old enough yet
    clock.advance(2)
    deleted = [retention.run_once(clock.now()) for _ in range(5)]
    assert deleted == [2, 2, 2, 1, 0]  # succeeded, failed, succeeded, succeeded, done
    assert store.counts() == {}
    assert retention.deleted == 7


def test_nothing_goes_before_the_minimum_age_even_with_a_rule_of_zero() -> None:
    clock, store = FakeClock(), MemoryStore()
    ids = finished(store, clock, SUCCEEDED, 3)
    retention = unit(store, clock, {SUCCEEDED: 0})
    clock.advance(MIN_AGE - 0.5)
    assert retention.run_once(clock.now()) == 0
    assert all(store.get(i) is not None for i in ids)
    clock.advance(1)
    assert retention.run_once(clock.now()) == 3


def test_keep_newest_n_leaves_exactly_n() -> None:
    clock, store = FakeClock(), MemoryStore()
    for _ in range(4):
        finished(store, clock, CANCELLED, 5)
        clock.advance(60)
    retention = unit(store, clock, {CANCELLED: 7})
    while retention.run_once(clock.now()):
        pass
    assert store.counts()["email"][CANCELLED] == 7
    assert min(t.id for t in store.list_tasks(limit=100)) == 14  # the newest seven


def test_a_task_someone_waits_on_is_spared_until_the_wait_ends() -> None:
    clock, store = FakeClock(), MemoryStore()
    ids = finished(store, clock, SUCCEEDED, 2)
    waited = {ids[0]}
    retention = unit(store, clock, {SUCCEEDED: "1m"}, spare=lambda: frozenset(waited))
    clock.advance(3600)
    assert retention.run_once(clock.now()) == 1
    assert store.get(ids[0]) is not None
    waited.clear()
    assert retention.run_once(clock.now()) == 1
    assert store.get(ids[0]) is None


def test_forever_everywhere_deletes_no_task() -> None:
    clock, store = FakeClock(), MemoryStore()
    finished(store, clock, SUCCEEDED, 3)
    retention = unit(store, clock, {})
    clock.advance(400 * DAY)
    assert retention.rules == [] and retention.run_once(clock.now()) == 0
    assert store.counts()["email"][SUCCEEDED] == 3


def test_the_loop_stops_when_asked() -> None:
    clock, store = FakeClock(), MemoryStore()
    finished(store, clock, SUCCEEDED, 3)
    clock.advance(DAY)
    retention = unit(store, clock, {SUCCEEDED: "1h"}, interval=30.0)
    thread = threading.Thread(target=retention.loop)
    thread.start()
    retention.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


# --- in the scheduler -------------------------------------------------------------------------
def test_the_scheduler_spares_a_task_its_wait_is_reading() -> None:
    clock, store = FakeClock(), MemoryStore()
    config = Config(workers=1, categories={"email": CategoryConfig()}, retention={CANCELLED: 0})
    sched = Scheduler(config, store, clock=clock, threaded=False)
    sched.handler("email.send")(lambda p: None)
    sched.start()
    try:
        [task_id] = sched.submit_many([("email.send", None)])
        asked = threading.Event()
        real_get = store.get

        def get(task: int) -> Any:
            asked.set()
            return real_get(task)

        store.get = get  # type: ignore[method-assign]
        answers: list[Any] = []
        waiter = threading.Thread(target=lambda: answers.append(sched.wait(task_id, 30)))
        waiter.start()
        assert asked.wait(5)
        # Given the task ended (cancelled by another process: no one woke the waiter)
        store.cancel([task_id], clock.now())
        clock.advance(DAY)
        # Then retention leaves it while the wait lasts, and takes it once it has ended
        assert sched.retention.run_once(clock.now()) == 0
        sched.waiters.notify([task_id])
        waiter.join(timeout=5)
        assert [a.state for a in answers] == [CANCELLED]
        assert sched.retention.run_once(clock.now()) == 1
        assert real_get(task_id) is None
    finally:
        sched.stop()


def test_a_result_over_the_limit_fails_the_task_saying_both_sizes() -> None:
    config = Config(workers=1, categories={"email": CategoryConfig()}, max_result_bytes=100)
    with Scheduler(config, MemoryStore(), threaded=False) as sched:
        sched.handler("email.send")(lambda p: "x" * p)
        small, large = sched.submit_many([("email.send", 50), ("email.send", 200)])
        sched.run_until_idle()
        assert sched.store.get(small).state == SUCCEEDED  # type: ignore[union-attr]
        record = sched.store.get(large)
        assert record is not None and record.state == FAILED
        assert record.reason == "result_too_large" and record.result is None
        assert "202 bytes" in (record.error or "") and "100 bytes" in (record.error or "")
        assert record.attempts == 1  # not retried: it would be as large again
