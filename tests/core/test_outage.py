"""OutageTracker logs a store outage once per change of state, on a fake clock; and
call_within bounds a call that never returns."""

from __future__ import annotations

import logging
import threading

import pytest
from jobsched.core.clock import FakeClock
from jobsched.core.errors import StoreUnavailableError
from jobsched.core.outage import CallTimedOutError, OutageTracker, call_within, reason_of

pytestmark = pytest.mark.timeout(30)

LOCATION = "postgresql://app:***@db:5432/jobs"


def _error() -> StoreUnavailableError:
    return StoreUnavailableError(
        "PostgreSQL server", "db:5432", "closed the connection (server closed)", "Check it"
    )


def _lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def _tracker(clock: FakeClock, every: float = 10.0) -> OutageTracker:
    return OutageTracker("dispatcher", LOCATION, every=every, monotonic=clock.monotonic)


def test_an_outage_is_three_lines_however_many_calls_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a component that retries every 0.25 s through a 25 s outage
    caplog.set_level(logging.DEBUG, logger="jobsched")
    clock = FakeClock()
    tracker = _tracker(clock)
    for _ in range(100):
        tracker.failed(_error())
        clock.advance(0.25)
    # When a call works again
    back = tracker.ok()
    # Then: lost once, still down at 10 s and 20 s with the counts, back once
    assert _lines(caplog) == [
        f"dispatcher: connection to {LOCATION} lost: closed the connection (server closed)",
        "dispatcher: still down after 10 s (41 failed attempts): closed the connection "
        "(server closed)",
        "dispatcher: still down after 20 s (81 failed attempts): closed the connection "
        "(server closed)",
        f"dispatcher: connection to {LOCATION} back after 25.0 s (100 failed attempts)",
    ]
    assert back == _lines(caplog)[-1].removeprefix("dispatcher: ")
    # And the tracebacks are at DEBUG only, one per failure
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 100 and all(r.exc_info for r in debug)
    assert not any(r.exc_info for r in caplog.records if r.levelno > logging.DEBUG)


def test_success_while_up_logs_nothing_and_a_new_outage_starts_afresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    tracker = _tracker(clock, every=5.0)
    # Given calls that work
    assert tracker.ok() is None and tracker.ok() is None
    assert _lines(caplog) == []
    # When one outage ends and a second begins
    tracker.failed(_error())
    clock.advance(1)
    tracker.ok()
    clock.advance(100)
    line = tracker.failed(_error())
    # Then the second is told as a new loss, with its own count
    assert line is not None and line.startswith("connection to") and "lost" in line
    assert tracker.attempts == 1 and tracker.failures == 2 and tracker.down


def test_the_reason_is_one_line_and_short() -> None:
    assert reason_of(_error()) == "closed the connection (server closed)"
    assert reason_of(OSError("a\nb   c")) == "OSError: a b c"
    assert reason_of(RuntimeError()) == "RuntimeError"
    assert len(reason_of(ValueError("x" * 1000))) == 300


def test_workers_sharing_a_tracker_report_one_loss(caplog: pytest.LogCaptureFixture) -> None:
    # Given eight threads failing at once
    tracker = OutageTracker("workers", LOCATION)
    barrier = threading.Barrier(8)

    def fail() -> None:
        barrier.wait(5)
        for _ in range(50):
            tracker.failed(_error())

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Then one "lost" line, and every attempt counted
    assert len(_lines(caplog, logging.WARNING)) == 1
    assert tracker.attempts == 400


def test_call_within_returns_the_value_or_raises_the_error() -> None:
    assert call_within(lambda: 42, 5, "answer", LOCATION) == 42
    with pytest.raises(StoreUnavailableError, match="closed the connection"):
        call_within(lambda: (_ for _ in ()).throw(_error()), 5, "failing", LOCATION)


def test_call_within_gives_up_on_a_call_that_never_returns() -> None:
    # Given a call blocked until released (a server that does not answer)
    release = threading.Event()
    try:
        # When it is given 0.2 s
        with pytest.raises(CallTimedOutError) as caught:
            call_within(lambda: release.wait(20), 0.2, "release", LOCATION)
        # Then the error names the call, the place and the time given
        assert "release" in str(caught.value) and LOCATION in str(caught.value)
        assert "0.2 s" in str(caught.value)
    finally:
        release.set()
