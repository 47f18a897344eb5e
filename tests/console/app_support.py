"""Helpers for the console tests: a stepped scheduler on a fake clock with fixed data, and
a way to let the app's operator calls finish before asserting."""

from __future__ import annotations

import html
import random
from typing import Any

from jobsched.console.app import JobschedApp
from jobsched.core import CategoryConfig, FakeClock, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.task import Outcome
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


def make_app(sched: Scheduler, **kwargs: Any) -> JobschedApp:
    app = JobschedApp(sched, refresh_interval=None, **kwargs)
    app.animation_level = "none"
    return app


async def ready(pilot: Pilot[Any]) -> None:
    """Wait for the app's first read of the node (the panels have data)."""
    for _ in range(500):
        if pilot.app.refreshes:
            return
        await pilot.pause(0.01)
    raise AssertionError("the console never read the node")


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the app's operator calls (thread workers) are done and shown."""
    app = pilot.app
    for _ in range(50):
        if all(w.is_finished for w in app.workers):
            break
        await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: JobschedApp) -> str:
    """The text on the screen (from an SVG export), for literal checks."""
    svg = app.export_screenshot()
    return html.unescape(svg).replace("\xa0", " ")
