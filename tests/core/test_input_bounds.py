"""Every bound is checked where input enters: a value that would overflow a clock, a
column or the printer raises a typed InvalidInputError naming the value, and stores
nothing. Error text is bounded on every path that stores it."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    Client,
    ConfigError,
    InvalidInputError,
    MemoryStore,
    PayloadError,
    ScheduleError,
    Scheduler,
    SchedulerConfig,
)
from jobsched.core.config import MAX_SECONDS
from jobsched.core.execute import Executor
from jobsched.core.handlers import CancelFlag
from jobsched.core.task import MAX_ERROR_TEXT, Outcome, TaskRecord

pytestmark = pytest.mark.timeout(30)

CATEGORIES = {"email": CategoryConfig()}


@pytest.fixture
def sched() -> Iterator[Scheduler]:
    store = MemoryStore()
    s = Scheduler(SchedulerConfig(workers=2, categories=CATEGORIES), store, threaded=False)
    s.handler("email.send")(lambda p: None)
    s.start()
    yield s
    s.stop()
    assert store.counts() == {}, "a rejected input must not store a row"


@pytest.mark.parametrize(
    "field", ["grace_period", "balance_interval", "cooldown", "poll_interval", "retry_base",
              "retry_max", "heartbeat_interval"],
)  # fmt: skip
@pytest.mark.parametrize("value", [1e12, 1e308, 10**400], ids=["1e12", "1e308", "10**400"])
def test_config_durations_are_bounded(field: str, value: float) -> None:
    config = SchedulerConfig(workers=2, categories=CATEGORIES, **{field: value})
    with pytest.raises(ConfigError, match=rf"{field}.*ten years") as info:
        config.validate()
    assert f"{MAX_SECONDS:,.0f}" in str(info.value)


def test_config_accepts_durations_up_to_the_bound() -> None:
    SchedulerConfig(workers=2, categories=CATEGORIES, grace_period=MAX_SECONDS).validate()


@pytest.mark.parametrize("timeout", [1e12, 10**400], ids=["1e12", "10**400"])
def test_category_and_handler_timeouts_are_bounded(timeout: float) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        CategoryConfig(timeout=timeout).validate("email")
    client = Client(SchedulerConfig(workers=2, categories=CATEGORIES), MemoryStore())
    with pytest.raises(ConfigError, match="timeout of handler"):
        client.handler("email.slow", timeout=timeout)(lambda p: None)


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"key": "\ud800"}, InvalidInputError, "lone surrogate"),
        ({"max_attempts": 10**30}, ConfigError, "max_attempts"),
        ({"delay": 10**400}, ScheduleError, "ten years"),
        ({"delay": 1e12}, ScheduleError, "ten years"),
        ({"timeout": 1e12}, ConfigError, "ten years"),
    ],
    ids=["surrogate-key", "max-attempts", "delay-10**400", "delay-1e12", "timeout-1e12"],
)
def test_submit_options_out_of_range_are_typed_errors(
    sched: Scheduler, options: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        sched.submit("email.send", {}, **options)


@pytest.mark.parametrize(
    "number", [10**5000, 2**63, -(2**63) - 1], ids=["10**5000", "2**63", "-2**63-1"]
)
def test_payload_integers_beyond_64_bits_are_rejected(sched: Scheduler, number: int) -> None:
    with pytest.raises(PayloadError, match=r"\$\.n.*64-bit"):
        sched.submit("email.send", {"n": number})


@pytest.fixture
def node() -> Iterator[Scheduler]:
    s = Scheduler(SchedulerConfig(workers=2, categories=CATEGORIES), MemoryStore(), threaded=False)
    s.handler("email.send")(lambda p: None)
    s.start()
    yield s
    s.stop()


def test_payload_integers_at_the_64_bit_bounds_are_accepted(node: Scheduler) -> None:
    sched = node
    ids = sched.submit_many([("email.send", {"n": 2**63 - 1}), ("email.send", {"n": -(2**63)})])
    assert [sched.get(i).payload_value()["n"] for i in ids] == [2**63 - 1, -(2**63)]


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("email.send", "item 1 .*is not a \\(handler, payload\\)"),
        (("email.send",), "item 1 .*is not a"),
        (("email.send", {}, {}, {}), "item 1 .*is not a"),
        ((42, {}), "item 1: handler 42: is not a string"),
        (("email.send", {}, "delay=5"), "item 1: options"),
        (("email.send", {}, {"dely": 5}), "item 1: option 'dely': is not a submit option"),
        (None, "item 1: is not a"),
    ],
)
def test_malformed_submit_many_items_are_typed_errors(
    sched: Scheduler, item: object, words: str
) -> None:
    with pytest.raises(InvalidInputError, match=words):
        sched.submit_many([("email.send", {}), item])  # type: ignore[list-item]


@pytest.mark.parametrize("seconds", [1e12, float("inf"), -1])
def test_stop_and_wait_bound_their_durations(sched: Scheduler, seconds: float) -> None:
    with pytest.raises(InvalidInputError, match="grace"):
        sched.stop(seconds)
    assert sched.state == "running"
    with pytest.raises(InvalidInputError, match="timeout"):
        sched.wait(1, seconds)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("raise RuntimeError('no config here')", "RuntimeError: no config here"),
        ("def broken(:\n    pass", "SyntaxError"),
        ("import sys\nsys.exit(9)", "SystemExit: 9"),
    ],
)
def test_a_handlers_module_that_fails_to_import_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, words: str
) -> None:
    name = f"bad_handlers_{abs(hash(body))}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = SchedulerConfig(workers=2, categories=CATEGORIES, handlers=(name,))
    with pytest.raises(ConfigError, match=f"handlers module '{name}'.*{words}"):
        Client(config, MemoryStore())
    sys.modules.pop(name, None)


def test_every_stored_error_is_bounded() -> None:
    # Given an error far over the bound, however the outcome is built
    huge = "x" * (MAX_ERROR_TEXT * 10) + "\nValueError: the end"
    outcome = Outcome(1, "node", 1, "failed", 0.0, error=huge)
    assert len(outcome.error or "") <= MAX_ERROR_TEXT
    assert (outcome.error or "").endswith("ValueError: the end")
    # A handler name from a foreign store makes the handler_missing error huge: bounded
    task = TaskRecord(1, "h" * (MAX_ERROR_TEXT * 2), "email", "running", "null", 0.0, 0.0, 1, 1)
    missing = Executor(_Clock(), "node", 1.0, 1.0).run(task, None, CancelFlag())
    assert len(missing.error or "") <= MAX_ERROR_TEXT


def test_a_huge_traceback_is_stored_bounded(node: Scheduler) -> None:
    sched = node

    @sched.handler("email.loud", max_attempts=1)
    def loud(payload: Any) -> None:
        raise RuntimeError("y" * (MAX_ERROR_TEXT * 5))

    task_id = sched.submit("email.loud", {}).id
    sched.run_until_idle()
    error = sched.get(task_id).error or ""
    assert 0 < len(error) <= MAX_ERROR_TEXT and error.startswith("... (truncated)")


class _Clock:
    def now(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0


@pytest.mark.parametrize("task_id", [0, -1, 2**63, 10**20, "3", True, 1.0, None])
def test_a_task_id_outside_what_the_store_knows_is_a_typed_error(task_id: object) -> None:
    """Every call that takes an id checks it where it enters: no OverflowError from the
    database driver, no TypeError from deep inside."""
    client = Client(SchedulerConfig(categories={"a": CategoryConfig()}), MemoryStore())
    calls = [
        lambda: client.get(task_id),  # type: ignore[arg-type]
        lambda: client.wait(task_id, timeout=0),  # type: ignore[arg-type]
        lambda: client.result(task_id, timeout=0),  # type: ignore[arg-type]
        lambda: client.cancel([task_id]),  # type: ignore[list-item]
        lambda: client.retry([task_id]),  # type: ignore[list-item]
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match="is not a task id"):
            call()


@pytest.mark.parametrize("db", [None, 123, 4.5])
def test_a_producer_given_neither_a_path_nor_a_store_is_told_so(db: object) -> None:
    with pytest.raises(InvalidInputError, match="neither a path, a URL nor an open store"):
        Client.connect(db)  # type: ignore[arg-type]
