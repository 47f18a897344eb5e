"""Group commit: while outcomes stream in, the completer waits up to ``commit_linger`` for
more, so one transaction carries many; when they do not, it writes at once.

``Completer.run_once`` is the completer thread's body; it is called here on the test's
thread, with outcomes put on its queue by a second thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import pytest
from jobsched.core import CategoryConfig, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.task import SUCCEEDED, Outcome


class BatchStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.wrote = threading.Event()

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        self.batches.append(len(outcomes))
        self.wrote.set()
        return super().finish(outcomes)


def node(linger: float) -> tuple[Scheduler, BatchStore]:
    store = BatchStore()
    config = SchedulerConfig(workers=1, categories={"a": CategoryConfig()}, commit_linger=linger)
    return Scheduler(config, store, threaded=False), store


def outcome(n: int) -> Outcome:
    return Outcome(n, "node", 1, SUCCEEDED, 0.0, result="null")


def streaming(sched: Scheduler) -> None:
    """The completer has just written a batch (outcomes are streaming in)."""
    store = sched.store
    assert isinstance(store, BatchStore)
    sched.completer.put(outcome(0))
    assert sched.completer.run_once(0)
    store.batches.clear()
    store.wrote.clear()


def put_later(sched: Scheduler, item: Outcome, after: threading.Event | float) -> threading.Thread:
    def run() -> None:
        if isinstance(after, threading.Event):
            after.wait(10)
        else:
            threading.Event().wait(after)  # the next outcome arrives a little later
        sched.completer.put(item)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(10)
def test_streaming_outcomes_are_written_together() -> None:
    # Given a completer that wrote a batch just now (outcomes are streaming in)
    sched, store = node(linger=0.1)
    object.__setattr__(sched.config, "commit_linger", 1.0)  # past validate(): room for a slow CI
    streaming(sched)
    # When one outcome is ready and the next arrives 50 ms later
    sched.completer.put(outcome(1))
    thread = put_later(sched, outcome(2), 0.05)
    # Then both go into one transaction
    assert sched.completer.run_once(0.1, sched.config.commit_linger)
    thread.join(5)
    assert store.batches == [2]


@pytest.mark.timeout(10)
def test_a_lone_outcome_is_written_at_once() -> None:
    # Given a completer that has written nothing for a while, and a linger of a minute
    sched, store = node(linger=0.1)
    object.__setattr__(sched.config, "commit_linger", 60.0)  # past validate(): a long wait
    assert sched.completer.last_commit == -math.inf
    # When one outcome is ready, and the next comes only after the first was written
    sched.completer.put(outcome(1))
    thread = put_later(sched, outcome(2), store.wrote)
    # Then the first is written without waiting (a wait would run into the test's timeout)
    assert sched.completer.run_once(0.1, sched.config.commit_linger)
    assert store.batches == [1]
    thread.join(5)
    assert sched.completer.pending() == 1


@pytest.mark.timeout(10)
def test_no_linger_writes_what_is_there() -> None:
    sched, store = node(linger=0)
    streaming(sched)
    sched.completer.put(outcome(1))
    thread = put_later(sched, outcome(2), store.wrote)
    assert sched.completer.run_once(0.1, sched.config.commit_linger)
    thread.join(5)
    assert store.batches == [1]
