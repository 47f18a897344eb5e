"""Rate limits: the token bucket's arithmetic (a property over random arrivals on a fake
clock), the stores' claims through it, and a limited category drained by real threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.core.errors import ConfigError, InvalidInputError
from jobsched.core.limits import RateLimit, TokenBucket, parse_rate
from jobsched.core.query import Page
from jobsched.core.store import TaskStore

RATE, BURST, TASKS = 20, 5, 100


def most_in_any_window(times: list[float], width: float) -> int:
    """The most of ``times`` inside any half-open window ``[t, t + width)``."""
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - width:
            first += 1
        most = max(most, last - first + 1)
    return most


# --- the bucket -----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(
    per_second=st.floats(0.1, 1000),
    burst=st.integers(1, 50),
    steps=st.lists(
        st.tuples(st.floats(0, 2, allow_nan=False), st.integers(0, 100)), min_size=1, max_size=80
    ),
    width=st.floats(0.01, 5),
)
def test_a_bucket_never_grants_more_than_rate_times_window_plus_burst(
    per_second: float, burst: int, steps: list[tuple[float, int]], width: float
) -> None:
    # Given a bucket on a fake clock and random arrivals, each wanting some tokens
    limit = RateLimit(per_second, burst, "x")
    now = 1000.0
    bucket = TokenBucket.full(limit, now)
    granted: list[float] = []
    for gap, wanted in steps:
        now += gap
        taken = bucket.take(wanted, now)
        assert 0 <= taken <= wanted
        granted += [now] * taken
    # Then no window of any width holds more than rate x width + burst grants
    assert most_in_any_window(granted, width) <= per_second * width + burst + 1e-6


@given(st.floats(0.1, 1000), st.integers(1, 20))
def test_a_bucket_that_waits_as_long_as_it_says_has_a_token(per_second: float, burst: int) -> None:
    limit = RateLimit(per_second, burst, "x")
    bucket = TokenBucket.full(limit, 0.0)
    assert bucket.take(10**6, 0.0) == burst
    wait = bucket.wait()
    assert wait > 0
    assert bucket.take(1, wait * (1 + 1e-9) + 1e-9) == 1


@pytest.mark.parametrize(
    ("text", "burst", "per_second"),
    [("20/s", None, 20.0), ("90/min", 3, 1.5), ("3600/h", 1, 1.0), ("0.5 / s", 2, 0.5)],
)
def test_rates_are_read_per_second_minute_or_hour(
    text: str, burst: int | None, per_second: float
) -> None:
    limit = parse_rate(text, burst)
    assert limit is not None and limit.per_second == pytest.approx(per_second)
    assert limit.burst == (burst or 1)
    assert parse_rate("none") is None and parse_rate(None) is None


@pytest.mark.parametrize(
    ("text", "burst", "named"),
    [("20", None, "'20'"), ("20/d", None, "20/d"), ("0/s", None, "0/s"), ("-1/s", None, "-1/s"),
     ("20/s", 0, "burst 0"), ("20/s", 2.5, "burst 2.5"), (20, None, "20")],
)  # fmt: skip
def test_a_bad_rate_or_burst_is_refused_naming_it(text: object, burst: object, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_rate(text, burst)
    with pytest.raises(ConfigError, match="rate"):
        CategoryConfig(rate=text, burst=burst).validate("web")  # type: ignore[arg-type]


# --- a limited category drained by real threads ------------------------------------------------
@pytest.mark.slow(seconds=5)
@pytest.mark.timeout(60)
def test_a_category_limited_to_20_a_second_drains_100_tasks_in_about_5_s(
    store: TaskStore,
) -> None:
    # Given a category limited to 20/s (burst 5) with 4 workers, and 100 no-op tasks queued
    config = SchedulerConfig(
        workers=4,
        categories={"web": CategoryConfig(min_workers=4, rate=f"{RATE}/s", burst=BURST)},
    )
    sched = Scheduler(config, store=store)
    starts: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    @sched.handler("web.ping")
    def ping(payload: Any) -> None:
        with lock:
            starts.append(time.monotonic())
            if len(starts) == TASKS:
                done.set()

    with sched:
        sched.set_paused("web", True)
        sched.submit_many([("web.ping", i) for i in range(TASKS)])
        began = time.monotonic()
        # When it resumes
        sched.set_paused("web", False)
        assert done.wait(45)
        took = time.monotonic() - began
        claimed = [t.started_at for t in sched.find_tasks(Page(limit=TASKS))]
    # Then no one-second window holds more than the rate plus the burst of tasks started in
    # the store (claimed: the bucket pays for each at its claim). The handlers' own start
    # times follow by each worker's wake-up delay, which a starved CPU can stretch and
    # bunch (see the README), so they are checked against the total only.
    assert len(claimed) == TASKS and None not in claimed
    assert most_in_any_window([float(c) for c in claimed if c is not None], 1.0) <= RATE + BURST
    # And the drain takes about (100 - burst) / 20 = 4.75 s
    assert (TASKS - BURST) / RATE - 0.5 <= took <= (TASKS - BURST) / RATE * 2


# --- the balancer -----------------------------------------------------------------------------
def test_the_balancer_gives_a_limited_category_no_more_workers_than_its_rate_keeps_busy() -> None:
    from jobsched.core.balancer import Balancer, Demand
    from jobsched.core.limits import rate_cap

    # Given 20/s of 0.1 s tasks (2 workers' worth) with a long queue, beside an unlimited one
    cap = rate_cap(parse_rate("20/s"), 0.1, CategoryConfig())
    assert cap == 2
    items = [
        Demand("web", 1.0, queued=500, rate_cap=cap, current=4),
        Demand("email", 1.0, queued=500, current=4),
    ]
    # When the balancer decides
    decision = Balancer(8, 0).decide(items, 0.0, 0.0, force=True)
    # Then web gets 2 workers, email the rest, and the reason names the rate limit
    assert decision is not None and decision.targets == {"web": 2, "email": 6}
    assert any("web 4->2" in line and "rate limit" in line for line in decision.changes)


@pytest.mark.parametrize(
    ("limit", "avg_run", "minimum", "cap"),
    [(None, 0.1, 0, None), ("20/s", None, 0, None), ("20/s", 0.001, 0, 1), ("20/s", 0.001, 3, 3),
     ("1/min", 30.0, 0, 1), ("100/s", 0.25, 0, 25)],
)  # fmt: skip
def test_rate_cap_is_rate_times_run_time_at_least_one_and_the_minimum(
    limit: str | None, avg_run: float | None, minimum: int, cap: int | None
) -> None:
    from jobsched.core.limits import rate_cap

    assert rate_cap(parse_rate(limit), avg_run, CategoryConfig(min_workers=minimum)) == cap


# --- stepped, on a fake clock ------------------------------------------------------------------
def test_a_held_category_starts_one_task_per_token_and_says_it_is_held() -> None:
    from jobsched.core import FakeClock

    def steps(sched: Scheduler) -> None:  # queued tasks held: never idle, so a few steps
        for _ in range(5):
            sched.step()

    # Given a category limited to 1/min with 3 tasks, stepped on a fake clock
    config = SchedulerConfig(
        workers=2, categories={"email": CategoryConfig(min_workers=2, rate="1/min")}
    )
    clock = FakeClock()
    sched = Scheduler(config, clock=clock, threaded=False)
    ran: list[int] = []
    sched.handler("email.send")(ran.append)
    sched.start()
    try:
        sched.submit_many([("email.send", i) for i in range(3)])
        # When the engine runs now: one task (the bucket's one token), the rest held
        steps(sched)
        assert ran == [0]
        snap = sched.snapshot().category("email")
        assert (snap.limit, snap.held, snap.queued) == ("1/min", True, 2)
        # A little later nothing more starts; a minute after the first, the next does
        clock.advance(30)
        steps(sched)
        assert ran == [0]
        clock.advance(30)
        steps(sched)
        assert ran == [0, 1]
        # And lifting the limit lets the last one start at once
        sched.set_rate("email", "none")
        steps(sched)
        assert ran == [0, 1, 2] and not sched.snapshot().category("email").held
    finally:
        sched.stop(grace=0)


# --- a handler's own limit ---------------------------------------------------------------------
def test_a_limited_handler_waits_for_its_tokens_while_the_others_of_its_category_run() -> None:
    from jobsched.core import FakeClock

    # Given a "web" category whose web.fetch handler is limited to 1/min (burst 2), with
    # five fetches queued ahead of three pings
    config = SchedulerConfig(workers=2, categories={"web": CategoryConfig(min_workers=2)})
    clock = FakeClock()
    sched = Scheduler(config, clock=clock, threaded=False)
    ran: list[str] = []
    sched.handler("web.fetch", rate="1/min", burst=2)(lambda p: ran.append(f"fetch{p}"))
    sched.handler("web.ping")(lambda p: ran.append(f"ping{p}"))
    sched.start()
    try:
        sched.submit_many([("web.fetch", i) for i in range(5)])
        sched.submit_many([("web.ping", i) for i in range(3)])
        # When the engine runs: two fetches (the burst), then the pings pass the rest
        for _ in range(10):
            sched.step()
        assert ran == ["fetch0", "fetch1", "ping0", "ping1", "ping2"]
        snap = sched.snapshot().category("web")
        assert snap.held and snap.limit == "web.fetch 1/min burst 2"
        # And a minute later, one more fetch
        clock.advance(60)
        for _ in range(5):
            sched.step()
        assert ran[5:] == ["fetch2"]
    finally:
        sched.stop(grace=0)


def test_a_configured_handler_limit_replaces_the_one_it_registers() -> None:
    from jobsched.core.limits import HandlerLimit

    config = SchedulerConfig(
        categories={"web": CategoryConfig()},
        handler_limits={"web.fetch": HandlerLimit("5/s", 2)},
    )
    sched = Scheduler(config)
    sched.handler("web.fetch", rate="100/s")(lambda p: None)
    sched.handler("web.ping", rate="3/min")(lambda p: None)
    limits = {n: s.rate_limit for n, s in sched.handlers.items()}
    assert limits["web.fetch"] == RateLimit(5.0, 2, "5/s")
    assert limits["web.ping"] is not None and limits["web.ping"].per_second == 3 / 60
    with pytest.raises(ConfigError, match="rate of handler 'web.x'"):
        sched.handler("web.x", rate="fast")(lambda p: None)
    with pytest.raises(ConfigError, match=r"handlers\.web\.fetch\.rate"):
        SchedulerConfig(
            categories={"web": CategoryConfig()},
            handler_limits={"web.fetch": HandlerLimit("5/fortnight")},
        ).validate()


def test_the_operator_sets_and_lifts_a_handlers_limit_at_run_time() -> None:
    from jobsched.core import FakeClock
    from jobsched.core.limits import HandlerLimit

    # Given web.fetch configured at 1/min, and a stepped engine
    config = SchedulerConfig(
        workers=2,
        categories={"web": CategoryConfig(min_workers=2)},
        handler_limits={"web.fetch": HandlerLimit("1/min")},
    )
    clock = FakeClock()
    sched = Scheduler(config, clock=clock, threaded=False)
    ran: list[int] = []
    sched.handler("web.fetch")(ran.append)
    sched.start()

    def steps() -> None:
        for _ in range(6):
            sched.step()

    try:
        # When the operator stops fetches entirely (well below one a day), then the
        # configured bucket's token is spent and the second fetch waits
        sched.submit_many([("web.fetch", i) for i in range(6)])
        assert sched.set_handler_rate("web.fetch", "1/h", 2) == RateLimit(1 / 3600, 2, "1/h")
        assert sched.handler_rates()["web.fetch"] == RateLimit(1 / 3600, 2, "1/h")
        steps()
        assert ran == [0, 1]
        assert sched.snapshot().category("web").limit == "web.fetch 1/h burst 2"
        clock.advance(60)  # a minute: the configured limit would have let one more start
        steps()
        assert ran == [0, 1]
        # When "none" lifts the operator's limit, the configured one applies again
        assert sched.set_handler_rate("web.fetch", "none") == RateLimit(1 / 60, 1, "1/min")
        clock.advance(60)
        steps()
        assert len(ran) == 3 and sched.snapshot().category("web").limit == "web.fetch 1/min"
        # And "unlimited" lifts every limit: the rest start at once
        assert sched.set_handler_rate("web.fetch", "unlimited") is None
        steps()
        assert ran == list(range(6)) and sched.snapshot().category("web").limit is None
        assert sched.handler_rates()["web.fetch"] is None
        assert "handler:web.fetch" not in sched.load_settings()
    finally:
        sched.stop(grace=0)


@pytest.mark.parametrize(
    ("name", "rate", "burst", "words"),
    [
        ("web.nope", "5/s", None, ["unknown handler", "'web.nope'", "web.fetch"]),
        ("web.fetch", "5/fortnight", None, ["rate of handler 'web.fetch'", "'5/fortnight'"]),
        ("web.fetch", "5/s", 0, ["burst", "0"]),
    ],
)
def test_a_bad_handler_limit_is_refused_and_changes_nothing(
    name: str, rate: str, burst: int | None, words: list[str]
) -> None:
    sched = Scheduler(SchedulerConfig(categories={"web": CategoryConfig()}))
    sched.handler("web.fetch", rate="3/s")(lambda p: None)
    with pytest.raises(InvalidInputError) as raised:
        sched.set_handler_rate(name, rate, burst)
    for word in words:
        assert word in str(raised.value)
    assert sched.handler_rates()["web.fetch"] == RateLimit(3.0, 1, "3/s")


def test_a_handler_limit_the_operator_sets_from_another_process_applies_here(
    tmp_path: Path,
) -> None:
    from jobsched.core import Client, FakeClock
    from jobsched.storage import open_store

    # Given a stepped node on a SQLite file, web.fetch unlimited, with fetches queued
    db = str(tmp_path / "jobs.db")
    config = SchedulerConfig(workers=2, categories={"web": CategoryConfig(min_workers=2)})
    clock = FakeClock()
    sched = Scheduler(config, store=open_store(db), clock=clock, threaded=False)
    ran: list[int] = []
    sched.handler("web.fetch")(ran.append)
    sched.start()
    try:
        # When the operator's client, on the same file, limits it to 1/h
        operator = Client(config, open_store(db))
        operator.store.open(None)
        operator.handler("web.fetch")(lambda p: None)
        operator.set_handler_rate("web.fetch", "1/h")
        sched.submit_many([("web.fetch", i) for i in range(3)])
        for _ in range(6):
            sched.step()
        # Then the node reads it from the store: one fetch, the rest held
        assert ran == [0] and sched.snapshot().category("web").held
        # And lifting it there lets the rest start here at its next poll of the store
        operator.set_handler_rate("web.fetch", "none")
        operator.store.close()
        clock.advance(config.poll_interval)  # far from the next token of 1/h
        for _ in range(6):
            sched.step()
        assert ran == [0, 1, 2]
    finally:
        sched.stop(grace=0)
