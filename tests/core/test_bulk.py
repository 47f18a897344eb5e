"""Bulk actions through a running scheduler: a retry of every task a filter matches wakes
the dispatcher as a single retry does (the memory store is never polled), and the
result's description counts what was touched and what was skipped."""

from __future__ import annotations

import threading
from typing import Any

from jobsched.core import CategoryConfig, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.bulk import BulkResult
from jobsched.core.query import parse


def test_a_bulk_retry_wakes_the_running_node() -> None:
    config = SchedulerConfig(workers=2, categories={"a": CategoryConfig(min_workers=1)})
    sched = Scheduler(config, MemoryStore())
    failing = threading.Event()
    failing.set()
    succeeded: list[int] = []
    all_done = threading.Event()

    @sched.handler("a.flaky", category="a", max_attempts=1)
    def flaky(payload: Any) -> None:
        if failing.is_set():
            raise RuntimeError("down")
        succeeded.append(payload)
        if len(succeeded) == 30:
            all_done.set()

    with sched:
        handles = [sched.submit("a.flaky", n) for n in range(30)]
        for handle in handles:
            handle.wait(timeout=10)
        assert sched.count_tasks(parse("state:failed", 0)) == 30
        # When the cause is fixed and every failed task is retried at once
        failing.clear()
        result = sched.retry_matching(parse("state:failed error:down", 0))
        # Then they all run again, without waiting for any poll
        assert result.touched == 30
        assert all_done.wait(timeout=10)
    assert sorted(succeeded) == list(range(30))


def test_describe_counts_what_was_touched_and_skipped() -> None:
    assert BulkResult("retry", 3).describe() == "3 retried"
    assert BulkResult("cancel", 1_200, 2, dry_run=True).describe() == (
        "1,200 would be cancelled, 2 running would be asked to stop"
    )
    assert BulkResult("delete", 5, skipped=1).describe() == (
        "5 deleted, 1 skipped (not finished: only succeeded, failed or cancelled tasks are deleted)"
    )
