"""The wake-up that ``jobsched run`` waits on: given by other threads and by signal
handlers, never by a lock the waiting thread may hold."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from jobsched.console.wakeup import Wakeup


@pytest.mark.timeout(30)
def test_a_wake_from_another_thread_ends_the_wait() -> None:
    # Given a thread that wakes the waiter once the waiter is about to wait
    wakeup = Wakeup()
    about_to_wait = threading.Event()

    def waker() -> None:
        about_to_wait.wait(10)
        wakeup.wake()

    thread = threading.Thread(target=waker)
    thread.start()
    # When the main thread waits up to 20 s
    began = time.monotonic()
    about_to_wait.set()
    wakeup.wait(20)
    # Then it returns long before that
    assert time.monotonic() - began < 10
    thread.join(10)
    wakeup.close()


@pytest.mark.timeout(30)
def test_a_wake_given_before_the_wait_is_kept_once() -> None:
    # Given two wake-ups given before anyone waits
    wakeup = Wakeup()
    wakeup.wake()
    wakeup.wake()
    # When waited for twice
    began = time.monotonic()
    wakeup.wait(20)
    first = time.monotonic() - began
    began = time.monotonic()
    wakeup.wait(0.05)
    second = time.monotonic() - began
    # Then the first wait returns at once, and the second waits its whole timeout
    assert first < 10
    assert second >= 0.05
    wakeup.close()


@pytest.mark.timeout(60)
def test_a_signal_handler_that_wakes_it_never_hangs_the_waiting_thread() -> None:
    """A handler that set a threading.Event hung a node on its stop signal: the main
    thread, interrupted on its way into or out of waiting on that Event, held its lock."""
    # Given a signal every 2 ms whose handler wakes the main thread's wait
    wakeup = Wakeup()
    handled: list[int] = []

    def handler(signum: int, frame: object) -> None:
        handled.append(signum)
        wakeup.wake()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
    try:
        # When the main thread waits on it again and again for 2 s
        waits = 0
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            wakeup.wait(0.001)
            waits += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        wakeup.close()
    # Then it never hung (the test's timeout would end it), and the handler ran throughout
    assert len(handled) > 100
    assert waits > 100
