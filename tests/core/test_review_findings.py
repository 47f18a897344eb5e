"""Engine bugs found in review, each pinned by a test that failed before its fix."""

from __future__ import annotations

import random
from typing import Any

import pytest

from core import CategoryConfig, FakeClock, MemoryStore, Scheduler, SchedulerConfig

CATS = {"a": CategoryConfig(min_workers=1)}


def stepped(workers: int = 1, **cfg: Any) -> tuple[Scheduler, FakeClock]:
    clock = FakeClock()
    sched = Scheduler(
        SchedulerConfig(workers=workers, categories=cfg.pop("categories", CATS), **cfg),
        MemoryStore(),
        clock=clock,
        threaded=False,
        rng=random.Random(1),
    )
    return sched, clock


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [10**5000, _nested(100_000)],
    ids=["int-too-long-for-str", "nested-too-deep"],
)
def test_a_result_that_cannot_even_be_repr_d_still_ends_the_task(value: Any) -> None:
    # Given a handler whose return value neither json.dumps nor repr can turn into text
    sched, _ = stepped()

    @sched.handler("a.odd")
    def odd(payload: Any) -> Any:
        return value

    sched.start()
    try:
        task_id = sched.submit("a.odd").id
        # When it runs
        sched.run_until_idle()
        # Then the task succeeded with a placeholder (it ran; it is never run again),
        # instead of the worker dying and the task staying `running`
        record = sched.get(task_id)
        assert record.state == "succeeded"
        assert "unserialisable_result" in (record.result or "")
    finally:
        sched.stop(grace=0)
