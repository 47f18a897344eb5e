"""Bugs of the engine on a SQLite file found in review, each pinned by a failing test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig
from jobsched.core.task import NewTask, Outcome
from jobsched.storage import SqliteStore
from jobsched.storage.sqlite.startlog import StartJournal

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


T0 = 1_800_000_000.0


def test_a_retried_task_claimed_but_not_started_at_a_crash_gets_its_attempt_back(
    make_store: Callable[..., SqliteStore],
) -> None:
    # Given a node's store and a task of one attempt that ran once and failed
    first = make_store()
    first.open("node-1")
    first.recover("node-1", T0)
    [task_id] = first.insert([NewTask("a.job", "a", "null", T0, max_attempts=1)], T0)
    [task] = first.claim("a", 1, "node-1", T0)
    first.record_start(task.id, task.attempts)
    failed = Outcome(task.id, "node-1", task.attempts, "failed", T0 + 1, error="boom")
    assert first.finish([failed]) == [True]
    # And an operator retried it, and the node claimed it into its FIFO again
    assert first.retry([task_id], T0 + 2) == [task_id]
    [again] = first.claim("a", 1, "node-1", T0 + 3)
    assert again.attempts == 1
    # When the node dies before that attempt starts (its files are left as they are)
    first.close()
    second = make_store()
    second.open("node-2")
    report = second.recover("node-2", T0 + 4)
    # Then the task is queued again, not failed as `orphaned`: the start on file was the
    # earlier attempt's, which ended
    assert (report.requeued, report.orphaned) == ([task_id], [])
    row = second.get(task_id)
    assert row is not None and (row.state, row.attempts) == ("queued", 0)


def test_the_end_of_an_attempt_does_not_end_the_next_one_in_the_start_journal(
    tmp_path: Path,
) -> None:
    # Given a journal where attempt 2 of a task began before attempt 1's end was noted
    journal = StartJournal(str(tmp_path / "jobs.db.starts"))
    journal.reset()
    journal.record(5, 1)
    journal.record(5, 2)
    # When attempt 1's end is noted
    journal.forget([5], [1])
    journal.close()
    # Then attempt 2 still reads as begun
    assert StartJournal(journal.path).read() == {(5, 1), (5, 2)}
