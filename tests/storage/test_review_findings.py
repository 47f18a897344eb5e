"""Bugs of the engine on a SQLite file found in review, each pinned by a failing test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from core import CategoryConfig, Client, Scheduler, SchedulerConfig
from storage import SqliteStore

WAIT = 10.0
CONFIG = SchedulerConfig(workers=1, categories={"a": CategoryConfig()}, poll_interval=0.05)


def test_an_in_process_waiter_sees_a_cancel_written_by_another_process(
    make_store: Callable[..., SqliteStore],
) -> None:
    # Given a node on a SQLite file, a delayed task, and a thread of the node's process
    # waiting for that task's result
    sched = Scheduler(CONFIG, make_store())

    @sched.handler("a.job")
    def job(payload: Any) -> str:
        return "ran"

    with sched:
        task_id = sched.submit("a.job", delay=3600).id
        answer: list[Any] = []
        waiting = threading.Thread(target=lambda: answer.append(sched.wait(task_id, WAIT)))
        waiting.start()
        # When another process (the CLI) cancels the task in the file
        other = make_store()
        other.open()
        assert Client(CONFIG, other).cancel([task_id]) == {task_id: "cancelled"}
        # Then the waiter returns the cancelled record well within its timeout, instead of
        # sleeping on an event that nothing in this process will ever set
        waiting.join(WAIT / 2)
        alive = waiting.is_alive()
        sched.cancel([task_id])  # lets a hung waiter end so the test finishes
        waiting.join(WAIT)
        assert not alive, "the waiter did not notice the cancel"
        assert answer and answer[0].state == "cancelled"
