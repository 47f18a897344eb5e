"""A stop whose release cannot be written says so: the ids stay out of the released list
and are listed in ``Scheduler.unreleased`` (they stay running until recovered)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest
from jobsched.core import CategoryConfig, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.errors import StoreUnavailableError

pytestmark = pytest.mark.timeout(30)


class _ReleaseFails(MemoryStore):
    """A store that stopped answering just when the node gives its tasks back."""

    def release(self, ids: Iterable[int], owner: str) -> int:
        raise StoreUnavailableError("database", "test", "does not answer", "Wait")


def test_tasks_whose_release_fails_are_reported_not_claimed_released() -> None:
    # Given a node running a task when its store stops answering
    config = SchedulerConfig(workers=1, categories={"a": CategoryConfig(min_workers=1)})
    store = _ReleaseFails()
    sched = Scheduler(config, store)
    started, never = threading.Event(), threading.Event()

    @sched.handler("a.block", category="a")
    def block(payload: Any) -> None:
        started.set()
        never.wait(20)

    sched.start()
    task_id = sched.submit("a.block").id
    assert started.wait(10)
    # When it stops at once (the running task must be released)
    released = sched.stop(0)
    never.set()
    # Then the task is not reported released; it is listed as unreleased and still running
    assert released == []
    assert sched.unreleased == [task_id]
    assert store.get(task_id).state == "running"
