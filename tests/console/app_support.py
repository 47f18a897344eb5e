"""Helpers for the console tests: a stepped scheduler on a fake clock with fixed data, the
app built over it by the console's own factory, a source that can be made to fail, and a
way to let the app's operator calls finish before asserting."""

from __future__ import annotations

import asyncio
import html
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from jobsched.console.app import JobschedApp
from jobsched.console.compose import build_app
from jobsched.console.local import LocalNode
from jobsched.console.screens.detail import TaskDetailScreen
from jobsched.console.source import Source
from jobsched.core import (
    CategoryConfig,
    Clock,
    FakeClock,
    MemoryStore,
    Scheduler,
    SchedulerConfig,
    Snapshot,
)
from jobsched.core.bulk import BulkResult
from jobsched.core.errors import StoreUnavailableError
from jobsched.core.history import MINUTE, History, MinuteStats, minute_of
from jobsched.core.limits import RateLimit
from jobsched.core.progress import TaskProgress
from jobsched.core.query import Page, TaskQuery
from jobsched.core.schedule_book import ScheduleInfo
from jobsched.core.store import TaskStore
from jobsched.core.task import AttemptError, NodeInfo, Outcome, TaskRecord
from textual import events
from textual.pilot import Pilot

MARKUP = "[bold]x[/] [/nope]"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "handlers.py", line 12, in fetch\n'
    "    raise RuntimeError(note)\n"
    f"RuntimeError: boom {MARKUP}"
)


def build_scheduler(node_id: str = "test-node") -> tuple[Scheduler, FakeClock]:
    """A started scheduler with no threads: the test calls ``step()``."""
    config = SchedulerConfig(
        workers=4,
        categories={
            "email": CategoryConfig(priority=1, min_workers=1, max_workers=3),
            "web": CategoryConfig(kind="request-response", priority=3, min_workers=1),
        },
        balance_interval=1.0,
        cooldown=0,
        grace_period=5,
    )
    clock = FakeClock()
    sched = Scheduler(
        config, MemoryStore(), clock=clock, threaded=False, node_id=node_id, rng=random.Random(1)
    )

    @sched.handler("email.send", category="email")
    def send(payload: Any) -> dict[str, Any]:
        return {"sent": payload.get("to")}

    @sched.handler("web.fetch", category="web", max_attempts=1)
    def fetch(payload: Any) -> dict[str, Any]:
        if payload.get("fail"):
            raise RuntimeError(f"boom {payload['fail']}")
        return {"status": 200}

    sched.start()
    return sched, clock


def step(sched: Scheduler, clock: FakeClock, times: int = 1, seconds: float = 1.0) -> None:
    for _ in range(times):
        clock.advance(seconds)
        sched.step()


def populate(sched: Scheduler, clock: FakeClock) -> int:
    """Fixed data: done, failed, queued and scheduled tasks, and one failed task whose
    payload and error look like markup. Returns that task's id (the newest)."""
    sched.submit_many([("email.send", {"to": f"user{n}@example.com"}) for n in range(6)])
    sched.submit_many([("web.fetch", {"url": f"http://example.com/{n}"}) for n in range(3)])
    sched.submit("web.fetch", {"url": "http://example.com/bad", "fail": "page missing"})
    sched.submit("email.send", {"to": "later@example.com"}, delay=600)
    step(sched, clock, 3)
    sched.inject("email", 30, duration_ms=0)
    step(sched, clock, 1)
    # A task another node ran and failed, with a fixed traceback.
    row = sched.build_task("web.fetch", {"url": "http://example.com/x", "note": MARKUP})
    task_id = sched.store.insert([row], clock.now())[0]
    claimed = sched.store.claim("web", 1, "other-node", clock.now())
    assert [t.id for t in claimed] == [task_id]
    clock.advance(0.5)
    outcome = Outcome(
        task_id, "other-node", 1, "failed", clock.now(), error=TRACEBACK, reason="error"
    )
    assert sched.store.finish([outcome]) == [True]
    step(sched, clock, 1)
    return task_id


def past_history(store: TaskStore, now: float, node_id: str = "node-before-restart") -> None:
    """Fixed history: the four hours before ``now`` as a node that has since stopped
    wrote them: email busy in two waves with a few failures, web steady, a queue that
    built up and drained."""
    first = minute_of(now) - 240 * MINUTE
    rows = []
    for n in range(240):
        wave = 40 + round(35 * math.sin(n / 20)) if n < 200 else 0
        failed = 3 if n % 37 == 5 else 0
        depth = max(0, 120 - abs(n - 150) * 4)
        rows.append(
            MinuteStats("email", first + n * MINUTE, wave, failed, depth, depth / 10 or None)
        )
        rows.append(MinuteStats("web", first + n * MINUTE, 12, 1 if n == 230 else 0, 0, None))
    store.add_history(node_id, rows)


def make_app(sched: Scheduler | Source, **kwargs: Any) -> JobschedApp:
    """The console over a stepped scheduler (or any source), with no refresh timer."""
    source = LocalNode(sched) if isinstance(sched, Scheduler) else sched
    kwargs.setdefault("refresh_interval", None)
    app = build_app(source, **kwargs)
    app.animation_level = "none"
    return app


T = TypeVar("T")


class FailingSource:
    """A source in front of another whose store can be made to fail, as a dead database
    would: while ``down`` is set, every read and change raises StoreUnavailableError;
    the methods named in ``down_for`` raise it always."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.down = False
        self.down_for: set[str] = set()

    def _call(self, name: str, call: Callable[[], T]) -> T:
        if self.down or name in self.down_for:
            raise StoreUnavailableError(
                "database", "jobs.db", "cannot be reached", "Check the disk"
            )
        return call()

    @property
    def config(self) -> SchedulerConfig:
        return self.inner.config

    @property
    def clock(self) -> Clock:
        return self.inner.clock

    @property
    def location(self) -> str:
        return self.inner.location

    @property
    def state(self) -> str:
        return self.inner.state

    def start(self) -> None:
        self._call("start", self.inner.start)

    def stop(self, grace: float | None = None) -> list[int]:
        return self.inner.stop(grace)

    def snapshot(self) -> Snapshot:
        return self._call("snapshot", self.inner.snapshot)

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        return self._call("list_tasks", lambda: self.inner.list_tasks(state, category, limit))

    def get(self, task_id: int) -> TaskRecord:
        return self._call("get", lambda: self.inner.get(task_id))

    def nodes(self) -> list[NodeInfo]:
        return self._call("nodes", self.inner.nodes)

    def is_paused(self, category: str) -> bool:
        return self._call("is_paused", lambda: self.inner.is_paused(category))

    def category_config(self, name: str) -> CategoryConfig:
        return self._call("category_config", lambda: self.inner.category_config(name))

    def set_priority(self, category: str, priority: object) -> float:
        return self._call("set_priority", lambda: self.inner.set_priority(category, priority))

    def set_paused(self, category: str, paused: bool) -> None:
        self._call("set_paused", lambda: self.inner.set_paused(category, paused))

    def set_rate(
        self, category: str, rate: str | None, burst: int | None = None
    ) -> RateLimit | None:
        return self._call("set_rate", lambda: self.inner.set_rate(category, rate, burst))

    def pin(self, category: str, workers: int | None) -> None:
        self._call("pin", lambda: self.inner.pin(category, workers))

    def rebalance(self) -> None:
        self._call("rebalance", self.inner.rebalance)

    def inject(
        self,
        category: str,
        count: int = 1,
        duration_ms: float = 50.0,
        fail_rate: float = 0.0,
        priority: int = 0,
    ) -> list[int]:
        return self._call(
            "inject",
            lambda: self.inner.inject(category, count, duration_ms, fail_rate, priority),
        )

    def cancel(self, ids: Iterable[int]) -> dict[int, str]:
        return self._call("cancel", lambda: self.inner.cancel(ids))

    def retry(self, ids: Iterable[int] | None) -> list[int]:
        return self._call("retry", lambda: self.inner.retry(ids))

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        return self._call("find_tasks", lambda: self.inner.find_tasks(page))

    def count_tasks(self, query: TaskQuery) -> int:
        return self._call("count_tasks", lambda: self.inner.count_tasks(query))

    def queue_heads(self) -> dict[str, float]:
        return self._call("queue_heads", self.inner.queue_heads)

    def history(self, minutes: int = 60) -> History:
        return self._call("history", lambda: self.inner.history(minutes))

    def progress(self, task_id: int) -> TaskProgress | None:
        return self._call("progress", lambda: self.inner.progress(task_id))

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        return self._call("attempt_errors", lambda: self.inner.attempt_errors(task_id))

    def known_categories(self) -> frozenset[str]:
        return self._call("known_categories", self.inner.known_categories)

    def retry_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self._call("retry_matching", lambda: self.inner.retry_matching(query, dry_run))

    def cancel_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self._call("cancel_matching", lambda: self.inner.cancel_matching(query, dry_run))

    def delete_matching(self, query: TaskQuery, dry_run: bool = False) -> BulkResult:
        return self._call("delete_matching", lambda: self.inner.delete_matching(query, dry_run))

    def schedule_infos(self) -> list[ScheduleInfo]:
        return self._call("schedule_infos", self.inner.schedule_infos)

    def pause_schedule(self, name: str) -> None:
        self._call("pause_schedule", lambda: self.inner.pause_schedule(name))

    def resume_schedule(self, name: str) -> None:
        self._call("resume_schedule", lambda: self.inner.resume_schedule(name))

    def run_schedule_now(self, name: str) -> int:
        return self._call("run_schedule_now", lambda: self.inner.run_schedule_now(name))


async def ready(pilot: Pilot[Any]) -> None:
    """Wait for the app's first read of the node (the panels have data)."""
    for _ in range(500):
        if pilot.app.refreshes:
            return
        await pilot.pause(0.01)
    raise AssertionError("the console never read the node")


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds (a resize or a refresh may take several
    passes of the message loop on a busy machine); after ``timeout`` seconds, return and
    let the caller's assertion say what is wrong."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.01)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the app's operator calls (thread workers) are done and shown."""
    app = pilot.app
    for _ in range(50):
        if all(w.is_finished for w in app.workers):
            break
        await app.workers.wait_for_complete()
    await pilot.pause()


async def open_detail(pilot: Pilot[Any]) -> TaskDetailScreen:
    """Open the detail of the task under the list's cursor (the newest), once shown."""
    app = pilot.app
    assert isinstance(app, JobschedApp)
    app.main.task_table.focus()
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, TaskDetailScreen)
    return app.screen


Scenario = Callable[[JobschedApp, Pilot[Any]], Awaitable[None]]


async def burst(pilot: Pilot[Any], keys: str | list[str]) -> None:
    """Keys as a paste or fast typing over SSH delivers them: every event queued before
    the app handles the first (Pilot's ``press`` waits for the app between keys).
    ``keys`` is a string of characters, or a list of characters and key names."""
    names = {"/": "slash", ":": "colon", " ": "space", "#": "number_sign"}
    for key in keys:
        if len(key) > 1:
            event = events.Key(key, "\r" if key == "enter" else None)
        else:
            event = events.Key(names.get(key, key), key)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)  # type: ignore[union-attr]
    await settle(pilot)


def drive(app: JobschedApp, scenario: Scenario, size: tuple[int, int] = (100, 30)) -> None:
    """Run ``scenario`` against the app in a headless terminal of ``size``, once ready."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            await scenario(app, pilot)

    asyncio.run(main())


def recording(app: JobschedApp) -> list[str]:
    """Every notification message the app shows from now on."""
    said: list[str] = []
    notify = app.notify

    def record(message: str, **kwargs: Any) -> None:
        said.append(message)
        notify(message, **kwargs)

    app.notify = record  # type: ignore[method-assign]
    return said


def screen_text(app: JobschedApp) -> str:
    """The text on the screen (from an SVG export), for literal checks."""
    svg = app.export_screenshot()
    return html.unescape(svg).replace("\xa0", " ")


def screen_lines(app: JobschedApp) -> list[str]:
    """The screen as plain lines, one per terminal row (the compositor's rendering)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
