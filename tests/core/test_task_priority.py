"""Priority within a category: ``submit(priority=N)`` is validated, and an urgent task
is claimed ahead of a backlog, on every store, with real threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.core.errors import TaskPriorityError
from jobsched.core.store import TaskStore

WAIT = 60.0  # upper bound for a wait; the test normally finishes far sooner
BACKLOG = 10_000


def make(store: TaskStore | None = None) -> Scheduler:
    # One worker: what starts first is exactly what was claimed first.
    config = SchedulerConfig(workers=1, categories={"email": CategoryConfig(min_workers=1)})
    return Scheduler(config, store=store)


@pytest.mark.timeout(120)
def test_an_urgent_task_starts_before_a_paused_backlog_of_ten_thousand(
    store: TaskStore,
) -> None:
    # Given a paused category with 10,000 queued tasks, and one submitted at priority 9
    sched = make(store)
    started: list[str] = []
    enough = threading.Event()

    @sched.handler("email.send")
    def send(payload: Any) -> None:
        started.append(payload)
        if len(started) >= 3:
            enough.set()

    with sched:
        sched.set_paused("email", True)  # applied before it returns
        sched.submit_many([("email.send", f"backlog-{i}") for i in range(BACKLOG)])
        urgent = sched.submit("email.send", "urgent", priority=9)
        assert sched.get(urgent.id).priority == 9
        # When the category resumes
        sched.set_paused("email", False)
        assert enough.wait(WAIT)
        sched.set_paused("email", True)  # the rest need not run
    # Then the urgent task is the first to start, and the backlog follows in id order
    assert started[:3] == ["urgent", "backlog-0", "backlog-1"]


@pytest.mark.parametrize("bad", [-1, 10, 2.5, True, "9"])
def test_a_priority_outside_0_to_9_is_refused_naming_it(bad: object) -> None:
    sched = make()
    sched.handler("email.send")(lambda payload: None)
    with pytest.raises(TaskPriorityError, match=repr(bad)) as caught:
        sched.submit("email.send", priority=bad)
    assert "0 to 9" in str(caught.value)
    with pytest.raises(TaskPriorityError):
        sched.submit_many([("email.send", None, {"priority": bad})])
    assert sched.counts() == {}


def test_submit_many_options_and_inject_carry_the_priority() -> None:
    sched = make()
    sched.handler("email.send")(lambda payload: None)
    ids = sched.submit_many([("email.send", 1), ("email.send", 2, {"priority": 4})])
    [injected] = sched.inject("email", 1, priority=8)
    assert [sched.get(i).priority for i in (*ids, injected)] == [0, 4, 8]
