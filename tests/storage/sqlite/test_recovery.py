"""Recovery on a SQLite file: after a node dies, the next node re-queues what it had
claimed, counting an attempt only for runs that began (the start journal), and says
what it did once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig
from jobsched.core.task import NewTask, Outcome
from jobsched.storage import SqliteStore

from tests.store_contract import T0, new

MakeStore = Callable[..., SqliteStore]


def test_a_retried_task_claimed_but_not_started_at_a_crash_gets_its_attempt_back(
    make_store: MakeStore,
) -> None:
    # Given a node's store and a task of one attempt that ran once and failed
    first = make_store()
    first.open("node-1")
    first.recover("node-1", T0)
    [task_id] = first.insert([NewTask("a.job", "a", "null", T0, max_attempts=1)], T0)
    [task] = first.claim("a", 1, "node-1", T0)
    assert first.record_start(task)
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


def test_a_node_starting_after_a_crash_logs_what_it_recovered_once(
    make_store: MakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a file left by a node that died holding two claimed tasks, the second of which
    # had begun its last attempt
    dead = make_store()
    dead.open("dead-node")
    [waiting, begun] = dead.insert([new(), new(max_attempts=1)], T0)
    claimed = {t.id: t for t in dead.claim("email", 2, "dead-node", T0)}
    assert dead.record_start(claimed[begun])
    dead.close()
    # When a node starts on it
    config = SchedulerConfig(workers=1, categories={"email": CategoryConfig()})
    sched = Scheduler(config, make_store(), threaded=False)
    with caplog.at_level(logging.INFO, logger="jobsched"):
        sched.start()
        sched.stop(grace=0)
    # Then one line says which task went back to the queue and which failed as orphaned
    lines = [r.getMessage() for r in caplog.records if "recovered" in r.getMessage()]
    assert len(lines) == 1, lines
    assert f"[{waiting}]" in lines[0] and f"[{begun}]" in lines[0]
