"""Async handlers: run to completion on the worker's event loop, with timeouts and cancel.

Real threads and a real SQLite file; synchronisation by events with timeouts."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    ConfigError,
    Scheduler,
    SchedulerConfig,
    TaskCancelledError,
    TaskFailedError,
    current_task,
)
from jobsched.core.handlers import HandlerSpec
from jobsched.storage import open_store

WAIT = 10.0


def make(tmp_path: Path, workers: int = 4, **options: Any) -> Scheduler:
    config = SchedulerConfig(
        workers=workers,
        categories={"io": CategoryConfig(min_workers=1, **options)},
        retry_base=0.01,
        retry_max=0.02,
    )
    return Scheduler(config, store=open_store(tmp_path / "jobs.db"))


def test_an_async_handler_returns_its_value(tmp_path: Path) -> None:
    sched = make(tmp_path)

    @sched.handler("io.fetch")
    async def fetch(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"url": payload["url"], "status": 200}

    with sched:
        # When it is submitted and awaited
        value = sched.submit("io.fetch", {"url": "u"}).result(timeout=WAIT)
    # Then the value the coroutine returned comes back, not a placeholder
    assert value == {"url": "u", "status": 200}


def test_an_async_handler_that_raises_fails_with_its_traceback(tmp_path: Path) -> None:
    sched = make(tmp_path)

    @sched.handler("io.broken", max_attempts=1)
    async def broken(payload: Any) -> None:
        await asyncio.sleep(0.01)
        raise ValueError("no route to host")

    with sched:
        handle = sched.submit("io.broken")
        with pytest.raises(TaskFailedError):
            handle.result(timeout=WAIT)
        record = sched.get(handle.id)
    assert record.state == "failed" and record.reason == "error"
    assert record.error is not None
    assert "ValueError: no route to host" in record.error and "in broken" in record.error


def test_an_async_handler_past_its_timeout_is_cancelled_and_timed_out(tmp_path: Path) -> None:
    sched = make(tmp_path)
    cancelled = threading.Event()

    @sched.handler("io.slow", timeout=0.2)
    async def slow(payload: Any) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @sched.handler("io.quick")
    async def quick(payload: Any) -> str:
        return "after"

    with sched:
        began = time.monotonic()
        record = sched.wait(sched.submit("io.slow").id, timeout=WAIT)
        took = time.monotonic() - began
        # The worker was kept: a task after it runs on the same pool of one worker
        assert sched.submit("io.quick").result(timeout=WAIT) == "after"
        snap = sched.snapshot()
    assert record.state == "failed" and record.reason == "timed_out"
    assert record.error is not None and "the coroutine was cancelled" in record.error
    assert cancelled.is_set()  # CancelledError reached the handler at its await
    assert took < 5.0  # at its timeout, not at the end of its 30 s sleep
    assert snap.abandoned_threads == 0
    assert snap.counters["timed_out"] == 1


def test_a_coroutine_that_blocks_its_loop_is_still_timed_out(tmp_path: Path) -> None:
    # Given an async handler that blocks the thread (so asyncio cannot cancel it)
    sched = make(tmp_path)
    release = threading.Event()

    @sched.handler("io.blocks", timeout=0.2)
    async def blocks(payload: Any) -> None:
        release.wait(WAIT)

    try:
        with sched:
            record = sched.wait(sched.submit("io.blocks").id, timeout=WAIT)
            abandoned = sched.snapshot().abandoned_threads
            release.set()
    finally:
        release.set()
    # Then the dispatcher abandons its worker after the grace, like a sync handler's
    assert record.state == "failed" and record.reason == "timed_out"
    assert abandoned == 1


def test_a_cancelled_async_handler_gets_cancelled_error(tmp_path: Path) -> None:
    sched = make(tmp_path)
    started = threading.Event()
    saw_cancel = threading.Event()

    @sched.handler("io.wait")
    async def wait_forever(payload: Any) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            saw_cancel.set()
            raise

    with sched:
        handle = sched.submit("io.wait")
        assert started.wait(WAIT)
        # When it is cancelled while running
        assert handle.cancel() == "requested"
        with pytest.raises(TaskCancelledError):
            handle.result(timeout=WAIT)
        assert sched.get(handle.id).state == "cancelled"
    assert saw_cancel.is_set()


def test_current_task_works_in_the_coroutine_its_tasks_and_its_threads(tmp_path: Path) -> None:
    sched = make(tmp_path)

    @sched.handler("io.who")
    async def who(payload: Any) -> list[int]:
        async def child() -> int:
            await asyncio.sleep(0)
            return current_task().id

        inline = current_task().id
        spawned = await asyncio.create_task(child())
        threaded = await asyncio.to_thread(lambda: current_task().id)
        return [inline, spawned, threaded, current_task().attempt]

    with sched:
        handle = sched.submit("io.who")
        assert handle.result(timeout=WAIT) == [handle.id, handle.id, handle.id, 1]


def test_a_sync_handler_returning_a_coroutine_is_awaited(tmp_path: Path) -> None:
    sched = make(tmp_path)

    async def compute(payload: Any) -> int:
        await asyncio.sleep(0.01)
        return int(payload) * 2

    sched.handler("io.partial")(functools.partial(compute))
    sched.handler("io.returns")(lambda payload: compute(payload))

    with sched:
        assert sched.submit("io.partial", 4).result(timeout=WAIT) == 8
        assert sched.submit("io.returns", 5).result(timeout=WAIT) == 10
    assert sched.handlers["io.partial"].is_async
    assert not sched.handlers["io.returns"].is_async  # found at run time, awaited all the same


def test_tasks_a_handler_leaves_behind_are_cancelled_when_it_returns(tmp_path: Path) -> None:
    sched = make(tmp_path)
    orphan_cancelled = threading.Event()

    async def background() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            orphan_cancelled.set()
            raise

    @sched.handler("io.spawns")
    async def spawns(payload: Any) -> str:
        asyncio.get_running_loop().create_task(background())
        await asyncio.sleep(0)
        return "done"

    with sched:
        assert sched.submit("io.spawns").result(timeout=WAIT) == "done"
    assert orphan_cancelled.is_set()


def test_the_handlers_own_timeout_error_is_an_ordinary_failure(tmp_path: Path) -> None:
    sched = make(tmp_path)

    @sched.handler("io.upstream", max_attempts=1, timeout=5)
    async def upstream(payload: Any) -> None:
        raise TimeoutError("upstream did not answer")

    with sched:
        record = sched.wait(sched.submit("io.upstream").id, timeout=WAIT)
    assert record.state == "failed" and record.reason == "error"


def test_async_handlers_run_stepped(tmp_path: Path) -> None:
    config = SchedulerConfig(workers=1, categories={"io": CategoryConfig(min_workers=1)})
    sched = Scheduler(config, store=open_store(tmp_path / "jobs.db"), threaded=False)

    @sched.handler("io.add")
    async def add(payload: list[int]) -> int:
        await asyncio.sleep(0)
        return sum(payload)

    with sched:
        task_id = sched.submit("io.add", [1, 2, 3]).id
        sched.run_until_idle()
        assert sched.get(task_id).result_value() == 6


@pytest.mark.slow(seconds=5)
@pytest.mark.timeout(60)
def test_a_hundred_async_tasks_on_four_workers_run_four_at_a_time(tmp_path: Path) -> None:
    # Given 4 workers, each with its own event loop, running one task at a time
    sched = make(tmp_path, workers=4)

    @sched.handler("io.nap")
    async def nap(payload: Any) -> int:
        await asyncio.sleep(0.2)
        return int(payload)

    with sched:
        began = time.monotonic()
        ids = sched.submit_many([("io.nap", i) for i in range(100)])
        records = [sched.wait(task_id, timeout=60) for task_id in ids]
        took = time.monotonic() - began
    # Then all succeed in about 100 x 0.2 s / 4 = 5 s: at least that (no overlap beyond
    # the budget), and well inside a generous bound
    assert [r.result_value() for r in records] == list(range(100))
    assert 4.9 <= took < 20.0


# --- registration ------------------------------------------------------------------------
def gen(payload: Any) -> Iterator[int]:
    yield 1


async def agen(payload: Any) -> AsyncIterator[int]:
    yield 1


class YieldsOnCall:
    def __call__(self, payload: Any) -> Iterator[int]:
        yield 1


class AwaitsOnCall:
    async def __call__(self, payload: Any) -> int:
        return 1


@pytest.mark.parametrize(
    ("fn", "why"),
    [
        (gen, "generator function"),
        (functools.partial(gen), "generator function"),
        (agen, "async generator function"),
        (YieldsOnCall(), "generator function"),
        (object(), "not callable"),
        ("io.send", "not callable"),
    ],
)
def test_what_cannot_return_a_value_is_refused_when_registered(
    tmp_path: Path, fn: Any, why: str
) -> None:
    sched = make(tmp_path)
    with pytest.raises(ConfigError) as error:
        sched.handler("io.bad")(fn)
    assert "io.bad" in str(error.value) and why in str(error.value)
    assert "io.bad" not in sched.handlers


def test_callables_and_coroutine_callables_are_accepted() -> None:
    assert HandlerSpec.of("io.obj", AwaitsOnCall(), None, None, None).is_async
    assert not HandlerSpec.of("io.cls", dict, None, None, None).is_async
    assert not HandlerSpec.of("io.lam", lambda p: p, None, None, None).is_async


def test_a_coroutine_returned_by_a_sync_handler_times_out_too(tmp_path: Path) -> None:
    sched = make(tmp_path)

    async def forever() -> None:
        await asyncio.sleep(30)

    sched.handler("io.lazy", timeout=0.3)(lambda payload: forever())
    with sched:
        record = sched.wait(sched.submit("io.lazy").id, timeout=WAIT)
    assert record.state == "failed" and record.reason == "timed_out"
    assert record.error is not None and "timed out after 0.3 s" in record.error
