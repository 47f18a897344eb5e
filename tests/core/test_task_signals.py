"""Failure signals: one log record per task event, and hooks called off the hot path.

Real threads and a real SQLite file; synchronisation by events with timeouts."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from jobsched.core import CategoryConfig, ConfigError, Scheduler, SchedulerConfig
from jobsched.core.hooks import Hooks, TaskEvent
from jobsched.core.task import NewTask
from jobsched.storage import open_store

WAIT = 10.0


def make(tmp_path: Path, threaded: bool = True, **options: Any) -> Scheduler:
    config = SchedulerConfig(
        workers=2,
        categories={"mail": CategoryConfig(min_workers=1), "web": CategoryConfig(min_workers=1)},
        retry_base=0.01,
        retry_max=0.02,
        **options,
    )
    return Scheduler(config, store=open_store(tmp_path / "jobs.db"), threaded=threaded)


def records_of(caplog: pytest.LogCaptureFixture, task_id: int) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "jobsched" and getattr(r, "task_id", None) == task_id
    ]


class Collector:
    """A hook that keeps events and lets a test wait for a number of them."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self.cond = threading.Condition()

    def __call__(self, event: TaskEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, n: int) -> list[TaskEvent]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= n, WAIT), self.events
            return list(self.events)


def test_each_failed_attempt_is_logged_once_with_its_fields(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a handler that always fails, with 3 attempts
    caplog.set_level(logging.DEBUG, logger="jobsched")
    sched = make(tmp_path)

    @sched.handler("mail.send", max_attempts=3)
    def send(payload: Any) -> None:
        raise ConnectionRefusedError("smtp down")

    with sched:
        task_id = sched.submit("mail.send").id
        record = sched.wait(task_id, timeout=WAIT)
    assert record.state == "failed"
    # Then exactly one record at WARNING or above per failed attempt: two retries, one end
    loud = [r for r in records_of(caplog, task_id) if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.attempt, r.event) for r in loud] == [  # type: ignore[attr-defined]
        ("WARNING", 1, "retrying"),
        ("WARNING", 2, "retrying"),
        ("ERROR", 3, "failed"),
    ]
    final = loud[-1]
    assert final.handler == "mail.send" and final.category == "mail"  # type: ignore[attr-defined]
    assert final.reason == "error"  # type: ignore[attr-defined]
    assert "ConnectionRefusedError: smtp down" in final.getMessage()
    assert "Traceback" in final.error  # type: ignore[attr-defined]
    # And nothing else at WARNING or above names the task
    others = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r not in loud and str(task_id) in r.getMessage()
    ]
    assert others == []


def test_a_success_is_logged_at_debug_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="jobsched")
    sched = make(tmp_path)
    sched.handler("web.ok")(lambda payload: 1)
    with sched:
        task_id = sched.submit("web.ok").id
        sched.wait(task_id, timeout=WAIT)
    assert [r.levelname for r in records_of(caplog, task_id)] == ["DEBUG"]


def test_a_timeout_is_one_error_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sched = make(tmp_path)
    release = threading.Event()

    @sched.handler("web.hang", timeout=0.2)
    def hang(payload: Any) -> None:
        release.wait(WAIT)

    try:
        with sched:
            task_id = sched.submit("web.hang").id
            sched.wait(task_id, timeout=WAIT)
            release.set()
    finally:
        release.set()
    logged = records_of(caplog, task_id)
    assert [(r.levelname, r.reason) for r in logged] == [("ERROR", "timed_out")]  # type: ignore[attr-defined]


def test_an_orphaned_task_is_logged_and_signalled_at_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a task whose only attempt began and was interrupted (its node died)
    store = open_store(tmp_path / "jobs.db")
    store.open("dead-node")
    [task_id] = store.insert([NewTask("mail.send", "mail", "null", 0.0, 1)], 0.0)
    [claimed] = store.claim("mail", 1, "dead-node", 0.0)
    assert store.record_start(claimed)
    store.close()
    sched = make(tmp_path)
    hook = Collector()
    sched.on("failed")(hook)
    # When a new node starts and recovers it
    with sched:
        [event] = hook.wait_for(1)
    # Then one ERROR record and one `failed` event, reason orphaned
    logged = records_of(caplog, task_id)
    assert [(r.levelname, r.reason) for r in logged] == [("ERROR", "orphaned")]  # type: ignore[attr-defined]
    assert (event.kind, event.task_id, event.reason) == ("failed", task_id, "orphaned")


def test_hooks_get_a_tasks_events_in_order(tmp_path: Path) -> None:
    sched = make(tmp_path)
    hook = Collector()
    for kind in ("submitted", "started", "succeeded", "failed", "retrying", "cancelled"):
        sched.on(kind)(hook)

    @sched.handler("mail.flaky", max_attempts=3)
    def flaky(payload: Any) -> str:
        from jobsched.core import current_task

        if current_task().attempt < 3:
            raise RuntimeError("try again")
        return "sent"

    sched.handler("web.ok")(lambda payload: {"n": payload})

    with sched:
        flaky_id = sched.submit("mail.flaky").id
        ok_ids = [sched.submit("web.ok", i).id for i in range(20)]
        events = hook.wait_for(7 + 3 * 20)
    by_task: dict[int, list[tuple[str, int]]] = {}
    for event in events:
        by_task.setdefault(event.task_id, []).append((event.kind, event.attempt))
    assert by_task[flaky_id] == [
        ("submitted", 0),
        ("started", 1),
        ("retrying", 1),
        ("started", 2),
        ("retrying", 2),
        ("started", 3),
        ("succeeded", 3),
    ]
    for task_id in ok_ids:
        assert by_task[task_id] == [("submitted", 0), ("started", 1), ("succeeded", 1)]
    retry = next(e for e in events if e.kind == "retrying")
    assert retry.error == "RuntimeError: try again" and retry.retry_at is not None
    done = next(e for e in events if e.task_id == ok_ids[3] and e.kind == "succeeded")
    assert done.result == '{"n":3}' and done.handler == "web.ok" and done.category == "web"


def test_per_handler_hooks_only_see_their_handler(tmp_path: Path) -> None:
    sched = make(tmp_path)
    mine = Collector()
    every = Collector()
    sched.on("failed", handler="mail.send")(mine)
    sched.on("failed")(every)

    def boom(payload: Any) -> None:
        raise ValueError(payload)

    sched.handler("mail.send", max_attempts=1)(boom)
    sched.handler("web.post", max_attempts=1)(boom)
    with sched:
        sched.wait(sched.submit("web.post", "w").id, timeout=WAIT)
        mail_id = sched.submit("mail.send", "m").id
        sched.wait(mail_id, timeout=WAIT)
        every.wait_for(2)
        [event] = mine.wait_for(1)
    assert (event.task_id, event.error) == (mail_id, "ValueError: m")
    assert len(mine.events) == 1


def test_a_raising_hook_is_logged_and_the_engine_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sched = make(tmp_path)
    after = Collector()

    @sched.on("succeeded")
    def broken_hook(event: TaskEvent) -> None:
        raise KeyError("no mailbox")

    sched.on("succeeded")(after)
    sched.handler("web.ok")(lambda payload: payload)
    with sched:
        first = sched.submit("web.ok", 1)
        assert first.result(timeout=WAIT) == 1
        # Later tasks still run, and the hooks after the broken one still get events
        assert sched.submit("web.ok", 2).result(timeout=WAIT) == 2
        after.wait_for(2)
    errors = [r for r in caplog.records if "broken_hook" in r.getMessage()]
    assert len(errors) == 2
    assert all(r.levelname == "ERROR" and r.exc_info for r in errors)
    assert errors[0].task_id == first.id  # type: ignore[attr-defined]


def test_no_hook_means_no_event_is_queued(tmp_path: Path) -> None:
    # Given a stepped scheduler without hooks
    sched = make(tmp_path, threaded=False)
    sched.handler("web.ok")(lambda payload: payload)
    sched.handler("mail.bad", max_attempts=2)(lambda payload: 1 / 0)
    with sched:
        sched.submit("web.ok", 1)
        sched.submit("mail.bad")
        sched.cancel([sched.submit("web.ok", 2, delay=60).id])
        # When everything has run, a step at a time
        while sched.step() or sched.hooks.pending():
            assert sched.hooks.pending() == 0
        sched.run_until_idle()
        # Then no event was ever queued
        assert not sched.hooks.active and sched.hooks.pending() == 0


def test_stepped_hooks_run_in_step(tmp_path: Path) -> None:
    sched = make(tmp_path, threaded=False)
    seen: list[str] = []
    sched.on("succeeded")(lambda event: seen.append(event.kind))
    sched.handler("web.ok")(lambda payload: payload)
    with sched:
        sched.submit("web.ok", 1)
        sched.step()
        assert seen == ["succeeded"]


def test_cancelling_a_waiting_task_signals_it(tmp_path: Path) -> None:
    sched = make(tmp_path)
    hook = Collector()
    sched.on("cancelled")(hook)
    sched.handler("web.ok")(lambda payload: payload)
    with sched:
        task_id = sched.submit("web.ok", delay=60).id
        assert sched.cancel([task_id]) == {task_id: "cancelled"}
        [event] = hook.wait_for(1)
    assert (event.kind, event.task_id, event.handler) == ("cancelled", task_id, "web.ok")


def test_stop_drains_the_hook_queue(tmp_path: Path) -> None:
    sched = make(tmp_path)
    seen: list[int] = []
    gate = threading.Event()

    @sched.on("succeeded")
    def slow_hook(event: TaskEvent) -> None:
        gate.wait(WAIT)
        seen.append(event.task_id)

    sched.handler("web.ok")(lambda payload: payload)
    sched.start()
    ids = [sched.submit("web.ok", i).id for i in range(5)]
    for task_id in ids:
        sched.wait(task_id, timeout=WAIT)
    gate.set()
    sched.stop()
    # Then every queued event was handled before stop() returned
    assert sorted(seen) == ids and sched.hooks.pending() == 0


# --- the unit ------------------------------------------------------------------------------
def event(kind: str = "failed", handler: str = "mail.send") -> TaskEvent:
    return TaskEvent(kind, 1, handler, "mail", 1, 0.0)


def test_the_unit_queues_nothing_until_a_hook_is_added() -> None:
    hooks = Hooks(threaded=False)
    hooks.emit(event())
    assert hooks.pending() == 0 and not hooks.step()
    seen: list[TaskEvent] = []
    hooks.add("failed", seen.append)
    hooks.emit(event())
    hooks.emit(event("succeeded"))
    assert hooks.pending() == 2
    assert hooks.step() and hooks.step() and not hooks.step()
    assert seen == [event()]


async def async_hook(event: TaskEvent) -> None:
    pass


def gen_hook(event: TaskEvent) -> Any:
    yield event


@pytest.mark.parametrize(
    ("kind", "fn", "why"),
    [
        ("finished", print, "is not an event kind"),
        ("failed", async_hook, "is an async function"),
        ("failed", gen_hook, "generator function"),
        ("failed", 42, "not callable"),
    ],
)
def test_bad_hooks_are_refused(kind: str, fn: Any, why: str) -> None:
    hooks = Hooks()
    with pytest.raises(ConfigError) as error:
        hooks.add(kind, fn)
    assert why in str(error.value)
    assert not hooks.active
