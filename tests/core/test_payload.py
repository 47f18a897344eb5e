"""Submit-time validation: a rejected submit stores nothing."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from jobsched.core import (
    CategoryConfig,
    InvalidNameError,
    MemoryStore,
    PayloadError,
    ScheduleError,
    Scheduler,
    SchedulerConfig,
    UnknownCategoryError,
    UnknownHandlerError,
)


@pytest.fixture
def sched() -> Scheduler:
    store = MemoryStore()
    s = Scheduler(
        SchedulerConfig(workers=2, categories={"email": CategoryConfig(), "web": CategoryConfig()}),
        store,
        threaded=False,
    )
    s.handler("email.send")(lambda p: None)
    s.start()
    yield s
    s.stop()
    assert store.counts() == {}, "a rejected submit must not store a row"


def test_unknown_category_lists_known_and_suggests_closest(sched: Scheduler) -> None:
    with pytest.raises(UnknownCategoryError) as info:
        sched.submit("email.send", {}, category="emial")
    assert "Did you mean 'email'?" in str(info.value)
    assert "Known categories: email, web" in str(info.value)


def test_unknown_handler_is_rejected_with_suggestion(sched: Scheduler) -> None:
    with pytest.raises(UnknownHandlerError, match="Did you mean 'email.send'"):
        sched.submit("email.sned", {})


@pytest.mark.parametrize("name", ["x'; DROP TABLE tasks;--", "a\x00b", "y" * 10_000])
def test_malicious_handler_names_are_rejected_as_invalid(sched: Scheduler, name: str) -> None:
    with pytest.raises(InvalidNameError):
        sched.submit(name, {})


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"a": {1, 2}}, "$.a"),
        ({"a": [1, b"x"]}, "$.a[1]"),
        ({"a": object()}, "$.a"),
        ({"t": (1, 2)}, "$.t"),
        ({"n": {1: "x"}}, "$.n[1]"),
        ({"f": math.nan}, "$.f"),
        ([math.inf], "$[0]"),
    ],
)
def test_payload_that_is_not_json_or_changes_names_the_path(
    sched: Scheduler, payload: object, path: str
) -> None:
    with pytest.raises(PayloadError) as info:
        sched.submit("email.send", payload)
    assert path in str(info.value)


def test_payload_over_one_mib_names_size_and_limit(sched: Scheduler) -> None:
    with pytest.raises(PayloadError, match="1,048,576"):
        sched.submit("email.send", {"blob": "x" * (1024 * 1024)})


def test_payload_nested_too_deep_is_rejected(sched: Scheduler) -> None:
    deep: list[object] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(PayloadError, match="deeper than 64"):
        sched.submit("email.send", deep)


@pytest.mark.parametrize("delay", [-1, math.nan, math.inf, 10**12, "5", True])
def test_bad_delays_are_rejected(sched: Scheduler, delay: object) -> None:
    with pytest.raises(ScheduleError, match="delay"):
        sched.submit("email.send", {}, delay=delay)


def test_naive_run_at_is_rejected(sched: Scheduler) -> None:
    with pytest.raises(ScheduleError, match="naive"):
        sched.submit("email.send", {}, run_at=dt.datetime(2030, 1, 1))


def test_past_run_at_means_now() -> None:
    s = Scheduler(
        SchedulerConfig(workers=1, categories={"email": CategoryConfig()}), threaded=False
    )
    s.handler("email.send")(lambda p: None)
    with s:
        handle = s.submit("email.send", {}, run_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        assert s.get(handle.id).state == "queued"
        row = s.get(handle.id)
        assert abs(row.run_at - row.created_at) < 1.0


def test_submit_many_validates_everything_before_inserting(sched: Scheduler) -> None:
    with pytest.raises(PayloadError):
        sched.submit_many([("email.send", {"ok": 1}), ("email.send", {"bad": {1}})])


def test_payload_with_a_lone_surrogate_is_rejected_not_crashed(sched: Scheduler) -> None:
    with pytest.raises(PayloadError, match="lone surrogate"):
        sched.submit("email.send", {"text": "\ud800"})
