"""The engine with real threads. Synchronisation is by events with timeouts, never sleeps."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig, TaskFailedError, current_task
from jobsched.core.pool import Worker

WAIT = 10.0  # upper bound for any single wait; tests normally finish far sooner


def make(workers: int = 4, **cats: CategoryConfig) -> Scheduler:
    cats = cats or {"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)}
    return Scheduler(
        SchedulerConfig(workers=workers, categories=cats, balance_interval=0.2, cooldown=0.0)
    )


def test_ten_thousand_tasks_in_three_categories_all_succeed_and_pools_sum_to_budget() -> None:
    # Given 3 categories of different priority and 10,000 tasks with mixed durations
    sched = make(
        8,
        email=CategoryConfig(priority=1, min_workers=1),
        web=CategoryConfig(kind="request-response", priority=3, min_workers=1),
        heavy=CategoryConfig(priority=2, max_workers=3),
    )
    pause = threading.Event()  # never set: handlers wait on it for their "duration"

    def work(payload: Any) -> int:
        if payload["ms"]:
            pause.wait(payload["ms"] / 1000)
        return int(payload["i"])

    for cat in ("email", "web", "heavy"):
        sched.handler(f"{cat}.job")(work)
    rng = random.Random(42)
    items = []
    for i in range(10_000):
        cat = rng.choice(("email", "web", "web", "heavy"))
        items.append((f"{cat}.job", {"i": i, "ms": rng.choice((0, 0, 0, 0, 1, 2))}))
    sizes: list[int] = []
    stop_watch = threading.Event()

    def watch() -> None:
        while not stop_watch.is_set():
            snap = sched.snapshot()
            sizes.append(snap.pool_total)
            assert all(
                c.min_workers <= c.workers <= (c.max_workers or snap.budget)
                for c in snap.categories
            )
            stop_watch.wait(0.01)

    with sched:
        watcher = threading.Thread(target=watch)
        watcher.start()
        ids = sched.submit_many(items)
        # When every task is waited for
        for task_id in ids:
            sched.wait(task_id, timeout=60)
        stop_watch.set()
        watcher.join(WAIT)
        # Then all succeeded, and the pools summed to the budget in every snapshot
        counts = sched.store.counts()
        assert sum(c["succeeded"] for c in counts.values()) == 10_000
        assert sum(c["failed"] + c["queued"] + c["running"] for c in counts.values()) == 0
        assert sizes and set(sizes) == {8}


def test_timed_out_task_fails_and_its_worker_is_replaced() -> None:
    sched = make(2, a=CategoryConfig(min_workers=1, max_workers=1), b=CategoryConfig(min_workers=1))
    release = threading.Event()
    started = threading.Event()

    @sched.handler("a.hang", timeout=0.3)
    def hang(payload: Any) -> None:
        started.set()
        release.wait(WAIT)

    @sched.handler("a.quick")
    def quick(payload: Any) -> str:
        return "ok"

    with sched:
        hung = sched.submit("a.hang", {})
        assert started.wait(WAIT)
        # When the timeout passes, the task fails with reason timed_out
        with pytest.raises(TaskFailedError) as info:
            hung.result(timeout=WAIT)
        assert info.value.reason == "timed_out"
        # Then the pool is back at strength and runs the next task
        assert sched.submit("a.quick", {}).result(timeout=WAIT) == "ok"
        snap = sched.snapshot()
        assert snap.abandoned_threads == 1
        assert snap.category("a").threads == snap.category("a").workers == 1
        release.set()  # the abandoned thread returns; its late outcome is discarded
    assert sched.get(hung.id).state == "failed"


def test_shrinking_a_pool_never_interrupts_a_running_task() -> None:
    sched = make(4, a=CategoryConfig(min_workers=1), b=CategoryConfig(min_workers=1))
    release = threading.Event()
    running = threading.Event()

    @sched.handler("a.long")
    def long(payload: Any) -> str:
        running.set()
        release.wait(WAIT)
        return "finished"

    with sched:
        sched.pin("a", 3)
        handle = sched.submit("a.long", {})
        assert running.wait(WAIT)
        busy = next(w for w in sched.snapshot().workers if w.state == "busy")
        # When the pool shrinks to one worker
        sched.pin("a", 1)
        done = threading.Event()
        threading.Thread(target=lambda: (handle.wait(WAIT), done.set())).start()
        # Then the busy worker is still running its task
        assert not done.wait(0.3)
        assert sched.get(handle.id).state == "running"
        assert any(w.name == busy.name and w.state == "busy" for w in sched.snapshot().workers)
        release.set()
        assert handle.result(timeout=WAIT) == "finished"
        # And afterwards the pool has its new size
        for _ in range(100):
            if sched.snapshot().category("a").threads == 1:
                break
            done.wait(0.05)
        assert sched.snapshot().category("a").threads == 1
        assert sched.snapshot().pool_total == 4


def test_running_task_sees_the_cancellation_flag() -> None:
    sched = make()
    started = threading.Event()

    @sched.handler("a.loop")
    def loop(payload: Any) -> str:
        started.set()
        stop = threading.Event()
        for _ in range(1000):
            if current_task().cancelled:
                return "stopped early"
            stop.wait(0.01)
        return "ran to the end"

    with sched:
        handle = sched.submit("a.loop", {})
        assert started.wait(WAIT)
        assert handle.cancel() == "requested"
        record = handle.wait(WAIT)
        assert record.state == "cancelled"
        assert record.result_value() == "stopped early"


def test_graceful_stop_lets_a_task_finish_within_grace_and_releases_the_rest() -> None:
    sched = make(2, a=CategoryConfig(min_workers=1, max_workers=1), b=CategoryConfig(min_workers=1))
    first_started = threading.Event()
    release = threading.Event()

    @sched.handler("a.slow")
    def slow(payload: Any) -> int:
        first_started.set()
        release.wait(0.2)
        return int(payload)

    sched.start()
    ids = [sched.submit("a.slow", i).id for i in range(5)]
    assert first_started.wait(WAIT)
    released = sched.stop(grace=5)
    rows = {i: sched.store.get(i) for i in ids}
    assert rows[ids[0]].state == "succeeded"  # type: ignore[union-attr]
    assert released and all(rows[i].state == "queued" and rows[i].attempts == 0 for i in released)  # type: ignore[union-attr]
    assert all(rows[i].state in ("succeeded", "queued") for i in ids)  # type: ignore[union-attr]


def test_stop_at_the_deadline_releases_a_task_still_running() -> None:
    sched = make(2)
    started = threading.Event()
    release = threading.Event()

    @sched.handler("a.stuck")
    def stuck(payload: Any) -> None:
        started.set()
        release.wait(WAIT)

    sched.start()
    handle = sched.submit("a.stuck", {})
    assert started.wait(WAIT)
    released = sched.stop(grace=0.1)
    assert released == [handle.id]
    row = sched.store.get(handle.id)
    assert row is not None and row.state == "queued" and row.attempts == 0
    release.set()


def test_a_worker_thread_that_dies_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    sched = make(2)
    original = Worker.attempt
    calls = {"n": 0}

    def flaky_attempt(worker: Worker, task: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker crashed outside the handler")
        original(worker, task)

    monkeypatch.setattr(Worker, "attempt", flaky_attempt)

    sched.handler("a.ok")(lambda p: p)
    with sched:
        sched.submit("a.ok", 1)  # lost by the crashing worker: released at stop, not run
        assert sched.submit("a.ok", 2).result(timeout=WAIT) == 2
        assert sched.snapshot().category("a").threads == sched.snapshot().category("a").workers


def test_a_second_stop_hurries_the_first_and_releases_running_tasks() -> None:
    sched = make(2)
    started = threading.Event()
    release = threading.Event()

    @sched.handler("a.stuck")
    def stuck(payload: Any) -> None:
        started.set()
        release.wait(WAIT)

    sched.start()
    handle = sched.submit("a.stuck", {})
    assert started.wait(WAIT)
    result: dict[str, Any] = {}
    first = threading.Thread(target=lambda: result.update(released=sched.stop(grace=60)))
    first.start()
    # Given a graceful stop waiting for the stuck task, when stop() is called again
    while sched.state != "stopping":
        first.join(0.01)
    t0 = time.monotonic()
    assert sched.stop() == []
    first.join(WAIT)
    # Then the first stop finishes within a second, releasing the running task
    assert not first.is_alive() and time.monotonic() - t0 < 1.0
    assert result["released"] == [handle.id]
    row = sched.store.get(handle.id)
    assert row is not None and row.state == "queued"
    release.set()


def test_stop_called_from_inside_a_handler_does_not_wait_for_itself() -> None:
    sched = make(2)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    @sched.handler("a.stopper")
    def stopper(payload: Any) -> None:
        try:
            outcome["released"] = sched.stop(grace=0)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            outcome["error"] = exc
        done.set()

    sched.start()
    handle = sched.submit("a.stopper", {})
    assert done.wait(WAIT)
    assert "error" not in outcome, outcome
    assert sched.state == "stopped"
    assert outcome["released"] == [handle.id]  # it was still running: given back
