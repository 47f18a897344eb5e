"""``current_task().progress(...)``: reports reach the store at most a few times a second
per task, the last one always; snapshots show the running task's latest report; bad
values are typed errors. Driven step by step on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    FakeClock,
    InvalidInputError,
    MemoryStore,
    Scheduler,
    SchedulerConfig,
    Snapshot,
    current_task,
)
from jobsched.core.progress import PROGRESS_EVERY, TaskProgress, make_progress


class CountingStore(MemoryStore):
    """A memory store that counts progress writes."""

    def __init__(self) -> None:
        super().__init__()
        self.progress_writes: list[TaskProgress] = []

    def set_progress(self, task_id: int, progress: TaskProgress) -> None:
        self.progress_writes.append(progress)
        super().set_progress(task_id, progress)


def stepped(store: MemoryStore, clock: FakeClock) -> Scheduler:
    cats = {"a": CategoryConfig(min_workers=1, max_attempts=1)}
    return Scheduler(SchedulerConfig(workers=1, categories=cats), store, clock=clock,
                     threaded=False)  # fmt: skip


def test_a_hundred_reports_in_one_second_make_a_few_writes_and_keep_the_last() -> None:
    # Given a handler that reports 100 times over one second of (fake) time
    clock, store = FakeClock(), CountingStore()
    sched = stepped(store, clock)

    @sched.handler("a.pages", category="a")
    def pages(payload: Any) -> None:
        for page in range(1, 101):
            clock.advance(0.01)
            current_task().progress(done=page, total=100, note="pages")

    with sched:
        task_id = sched.submit("a.pages").id
        sched.run_until_idle()
        # Then the throttle let through about one write per interval, plus the last one
        assert 2 <= len(store.progress_writes) <= 1 / PROGRESS_EVERY + 2
        # And the stored report is the last one
        assert sched.progress(task_id) == TaskProgress(1, 1.0, 100, 100, "pages", clock.now())
        assert sched.get(task_id).state == "succeeded"


def test_a_failed_task_keeps_how_far_it_got() -> None:
    clock, store = FakeClock(), CountingStore()
    sched = stepped(store, clock)

    @sched.handler("a.crash", category="a")
    def crash(payload: Any) -> None:
        current_task().progress(0.1)
        current_task().progress(0.3, note="copying")  # held back by the throttle
        raise RuntimeError("disk full")

    with sched:
        task_id = sched.submit("a.crash").id
        sched.run_until_idle()
        progress = sched.progress(task_id)
        assert sched.get(task_id).state == "failed"
    assert progress is not None and (progress.fraction, progress.note) == (0.3, "copying")
    assert len(store.progress_writes) == 2


def test_the_snapshot_shows_the_running_tasks_latest_report() -> None:
    clock = FakeClock()
    sched = stepped(MemoryStore(), clock)
    seen: list[Snapshot] = []

    @sched.handler("a.look", category="a")
    def look(payload: Any) -> None:
        current_task().progress(0.5, note="halfway")
        seen.append(sched.snapshot())

    with sched:
        sched.submit("a.look")
        sched.run_until_idle()
        after = sched.snapshot()
    [busy] = [w for w in seen[0].workers if w.state == "busy"]
    assert busy.progress is not None and busy.progress.describe() == "50% (halfway)"
    assert busy.to_dict()["progress"]["fraction"] == 0.5
    assert all(w.progress is None for w in after.workers)


def test_a_task_that_reports_nothing_has_no_progress() -> None:
    clock = FakeClock()
    sched = stepped(MemoryStore(), clock)

    @sched.handler("a.quiet", category="a")
    def quiet(payload: Any) -> None:
        pass

    with sched:
        task_id = sched.submit("a.quiet").id
        sched.run_until_idle()
        assert sched.progress(task_id) is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((1.5, None, None, None), "from 0 to 1"),
        ((float("nan"), None, None, None), "from 0 to 1"),
        ((True, None, None, None), "from 0 to 1"),
        ((None, -1, None, None), "whole number"),
        ((None, 5, 4, None), "at most total"),
        ((None, 0, 0, None), "at most total"),
        ((None, None, 10, None), "needs done"),
        ((None, None, None, 7), "must be a string"),
        ((None, None, None, None), "says nothing"),
    ],
)
def test_bad_reports_are_typed_errors(args: tuple[Any, ...], words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        make_progress(1, *args, at=0.0)


def test_counts_give_the_fraction_and_a_long_note_is_cut() -> None:
    progress = make_progress(2, None, 40, 100, "x" * 1000, at=5.0)
    assert (progress.fraction, progress.done, progress.total) == (0.4, 40, 100)
    assert progress.note is not None and len(progress.note) == 200
    assert make_progress(1, None, 12, None, "rows", 0.0).describe() == "12 rows"
