"""Edge cases of a task's life in the engine: a result that cannot even be shown, a timeout
check racing the worker's next task, a task queued behind a timed-out one, one id cancelled
twice in one call, a delay that ends while its row is written, and a pause that could not
give its tasks back."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from jobsched.core import CategoryConfig, FakeClock, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.errors import StoreFullError

CATS = {"a": CategoryConfig(min_workers=1)}
WAIT = 10.0


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


class _LockWithPause:
    """The pool's lock, but the first time ``thread`` takes it, ``before`` runs first:
    the pause a preempted thread takes between reading a field and taking the lock."""

    def __init__(self, thread: threading.Thread, before: Callable[[], None]) -> None:
        self._lock = threading.RLock()
        self._thread = thread
        self._before: Callable[[], None] | None = before

    def __enter__(self) -> bool:
        if threading.current_thread() is self._thread and self._before is not None:
            before, self._before = self._before, None
            before()
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)


def test_a_timeout_check_does_not_abandon_the_next_task_of_the_same_worker() -> None:
    # Given one worker running task A (timeout 1 s) with task B waiting behind it
    sched, clock = stepped()
    a_started, release_a = threading.Event(), threading.Event()
    b_started, release_b = threading.Event(), threading.Event()

    @sched.handler("a.slow", timeout=1)
    def slow(payload: Any) -> str:
        a_started.set()
        release_a.wait(WAIT)
        return "a"

    @sched.handler("a.next")
    def nxt(payload: Any) -> str:
        b_started.set()
        release_b.wait(WAIT)
        return "b"

    sched.start()
    try:
        a = sched.submit("a.slow").id
        b = sched.submit("a.next").id
        sched.dispatcher.run_once()
        pool = sched.pools["a"]
        worker = pool.active()[0]
        runner = threading.Thread(target=lambda: (worker.run_once(0), worker.run_once(0)))
        runner.start()
        assert a_started.wait(WAIT)
        clock.advance(2)  # A is past its deadline

        def a_finishes_and_b_starts() -> None:
            release_a.set()
            assert b_started.wait(WAIT)

        # When the timeout check reads A's deadline, and A finishes and B starts before
        # the check takes the pool's lock
        pool.lock = _LockWithPause(threading.current_thread(), a_finishes_and_b_starts)  # type: ignore[assignment]
        sched.workers.expire(clock.monotonic())
        release_b.set()
        runner.join(WAIT)
        assert not runner.is_alive()
        while sched.completer.run_once(0):
            pass
        # Then B, which has no timeout, is neither abandoned nor failed as timed out
        assert not worker.abandoned
        assert sched.get(b).state == "succeeded", sched.get(b).reason
        assert sched.get(a).state == "succeeded"
    finally:
        release_a.set()
        release_b.set()
        sched.stop(grace=0)


def test_a_task_queued_behind_a_timed_out_one_runs_on_the_replacement_worker() -> None:
    # Given one worker (no prefetch) on the in-memory store, busy with a task that hangs
    sched = Scheduler(
        SchedulerConfig(workers=1, categories={"a": CategoryConfig(min_workers=1)}, prefetch=0)
    )
    release, started = threading.Event(), threading.Event()

    @sched.handler("a.hang", timeout=0.2)
    def hang(payload: Any) -> None:
        started.set()
        release.wait(WAIT)

    @sched.handler("a.quick")
    def quick(payload: Any) -> str:
        return "ok"

    with sched:
        try:
            sched.submit("a.hang")
            assert started.wait(WAIT)
            # And a second task queued while the window is full
            behind = sched.submit("a.quick")
            # When the first times out and its worker is replaced
            # Then the replacement claims and runs the one waiting behind it
            assert behind.result(timeout=WAIT) == "ok"
        finally:
            release.set()


def test_cancelling_the_same_id_twice_in_one_call_reports_it_cancelled_and_wakes_waiters() -> None:
    # Given a delayed task and a thread waiting for it
    sched = Scheduler(SchedulerConfig(workers=1, categories=CATS))

    @sched.handler("a.job")
    def job(payload: Any) -> str:
        return "ran"

    with sched:
        task_id = sched.submit("a.job", delay=3600).id
        answer: list[Any] = []
        waiting = threading.Thread(target=lambda: answer.append(sched.wait(task_id, WAIT)))
        waiting.start()
        # When one call cancels it twice (e.g. `jobsched cancel 7 7`)
        answers = sched.cancel([task_id, task_id])
        waiting.join(WAIT / 2)
        alive = waiting.is_alive()
        sched.waiters.notify([task_id])  # lets a hung waiter end so the test finishes
        waiting.join(WAIT)
        # Then this call cancelled it, says so, and the waiter has its record
        assert answers == {task_id: "cancelled"}
        assert not alive, "the waiter was not woken"
        assert answer and answer[0].state == "cancelled"


def test_a_delay_that_ends_during_the_write_still_gets_its_timer() -> None:
    # Given a store whose write takes 10 ms of (fake) time
    clock = FakeClock()

    class SlowStore(MemoryStore):
        def insert(self, tasks: Any, now: float) -> list[int]:
            ids = super().insert(tasks, now)
            clock.advance(0.01)
            return ids

    ran: list[Any] = []
    sched = Scheduler(
        SchedulerConfig(workers=1, categories={"a": CategoryConfig(min_workers=1)}),
        SlowStore(),
        clock=clock,
        threaded=False,
    )
    sched.handler("a.job")(ran.append)
    sched.start()
    try:
        # When a task is submitted 5 ms ahead: stored `scheduled`, due when the write ends
        handle = sched.submit("a.job", "late", delay=0.005)
        sched.run_until_idle()
        # Then the timer promotes it and it runs (it waited forever on an unpolled store)
        assert ran == ["late"] and sched.get(handle.id).state == "succeeded"
    finally:
        sched.stop(grace=0)


def test_tasks_a_pause_could_not_give_back_run_when_the_category_resumes() -> None:
    # Given a store whose next release fails, and tasks claimed into a FIFO
    class FailingRelease(MemoryStore):
        fail = True

        def release(self, ids: Any, owner: str) -> int:
            if self.fail:
                self.fail = False
                raise StoreFullError("database", "memory", "is full (injected)", "Free space")
            return super().release(ids, owner)

    ran: list[Any] = []
    store = FailingRelease()
    sched = Scheduler(
        SchedulerConfig(workers=1, categories={"a": CategoryConfig(min_workers=1)}),
        store,
        clock=FakeClock(),
        threaded=False,
    )
    sched.handler("a.job")(ran.append)
    sched.start()
    try:
        sched.submit("a.job", "warm-up")  # once a task ran, the FIFO holds more
        sched.run_until_idle()
        ran.clear()
        ids = [sched.submit("a.job", i).id for i in range(3)]
        assert sched.pools["a"].fifo.qsize() == 3
        # When the category is paused and giving the tasks back fails
        sched.set_paused("a", True)
        assert sched.pools["a"].fifo.qsize() == 0 and ran == []
        # Then they run once it resumes, none lost or stuck
        sched.set_paused("a", False)
        sched.run_until_idle()
        assert sorted(ran) == [0, 1, 2]
        assert {sched.get(i).state for i in ids} == {"succeeded"}
    finally:
        sched.stop(grace=0)
