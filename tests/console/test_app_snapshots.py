"""Screenshots of the console on fixed data: a stepped scheduler on a fake clock, no
timer, no animation. Regenerate with ``pytest --snapshot-update`` after a deliberate change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jobsched.console.view import AttachedView
from jobsched.core import Client, FakeClock, MemoryStore
from jobsched.core.counters import NodeCounters
from jobsched.core.task import NodeInfo
from textual.pilot import Pilot

from .app_support import (
    build_scheduler,
    make_app,
    past_history,
    populate,
    ready,
    screen_lines,
    screen_text,
    settle,
    step,
)

SIZE = (120, 40)
DEMO = "demo: SMTP on 127.0.0.1:8025, HTTP on 127.0.0.1:8080"


def dashboard() -> Any:
    sched, clock = build_scheduler()
    past_history(sched.store, clock.now())
    populate(sched, clock)
    app = make_app(sched, demo=DEMO)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        for _ in range(6):  # some history for the sparklines
            step(sched, clock)
            app.refresh_now()
        await pilot.pause()

    return app, run_before


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    app, run_before = dashboard()
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize(
    ("size", "wanted"),
    [
        ((80, 24), ["failed", "rate/s", "oldest", "drain", "reason / error"]),
        ((100, 30), ["failed", "rate/s", "fifo", "p50/p95", "took"]),
        (
            (160, 48),
            [
                "failed",
                "rate/s",
                "done/1m",
                "fail/1m",
                "done/1h",
                "fail/1h",
                "p50/p95",
                "boom [bold]x[/] [/nope]",
            ],
        ),
    ],  # fmt: skip
)
def test_the_columns_that_matter_survive_each_size(
    size: tuple[int, int], wanted: list[str]
) -> None:
    app, run_before = dashboard()

    async def check() -> None:
        async with app.run_test(size=size) as pilot:
            await run_before(pilot)
            text = screen_text(app)
            for word in wanted:
                assert word in text, (size, word)
            footer = screen_lines(app)[-1]
            for key in ("r Retry", "c Cancel", "/ Filter", "n Nodes", "? Keys"):
                assert key in footer, (size, footer)
            assert size[0] < 100 or "s Schedules" in footer, (size, footer)

    asyncio.run(check())


def test_help_screen(snap_compare: Any) -> None:
    app, run_before = dashboard()
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before, press=["question_mark"])


def test_task_detail(snap_compare: Any) -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        app.main.task_table.focus()
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_priority_form_with_an_error(snap_compare: Any) -> None:
    app, run_before = dashboard()

    async def bad_priority(pilot: Pilot[Any]) -> None:
        await run_before(pilot)
        await pilot.press("e", "ctrl+u", *"nan", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=bad_priority)


def test_too_small_message(snap_compare: Any) -> None:
    app, run_before = dashboard()
    assert snap_compare(app, terminal_size=(60, 16), run_before=run_before)
    assert app.main.has_class("-too-small")


def fixed_nodes(store: MemoryStore, now: float) -> None:
    """Three nodes with fixed hosts and pids: alive, silent for a minute, and stopped."""

    def worker(n: int, category: str, busy: bool) -> dict[str, Any]:
        return {"name": f"{category}-{n}", "category": category,
                "state": "busy" if busy else "idle", "task_id": 100 + n if busy else None,
                "handler": f"{category}.run" if busy else None,
                "started_at": now - n if busy else None}  # fmt: skip

    counters = {
        "targets": {"email": 2, "web": 3},
        "rates": {"email": 4.5, "web": 12.25},
        "by_category": {"email": {"succeeded": 1200, "failed": 3}, "web": {"succeeded": 845}},
    }
    workers = [worker(1, "email", True), worker(2, "email", False)] + [
        worker(n, "web", n < 3) for n in (1, 2, 3)
    ]
    nodes = [
        NodeInfo("node-a.example:101:x", host="node-a.example", pid=101, started_at=now - 3600,
                 heartbeat_at=now - 0.5, budget=5, workers=workers, counters=NodeCounters.from_dict(counters)),
        NodeInfo("node-b.example:202:y", host="node-b.example", pid=202, started_at=now - 7200,
                 heartbeat_at=now - 60, budget=4, workers=[worker(1, "email", False)],
                 counters=NodeCounters(targets={"email": 1})),
        NodeInfo("node-c.example:303:z", host="node-c.example", pid=303, started_at=now - 900,
                 heartbeat_at=now - 300, budget=4, stopped=True),
    ]  # fmt: skip
    for node in nodes:
        store.heartbeat(node)


def test_nodes_screen(snap_compare: Any) -> None:
    # An attached console: every node comes from heartbeats in the shared store.
    sched, _ = build_scheduler()
    clock = FakeClock()
    store = MemoryStore()
    fixed_nodes(store, clock.now())
    app = make_app(AttachedView(Client(sched.config, store, clock=clock)))

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("n")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_schedules_screen(snap_compare: Any) -> None:
    # Three schedules on a stepped node: one that ran, one paused, one run by hand.
    sched, clock = build_scheduler()
    sched.schedule("beat", "email.send", every="10s", payload={"to": "beat@example.com"})
    sched.schedule("nightly", "web.fetch", cron="0 3 * * *", timezone="Europe/Paris",
                   missed="catch_up", catch_up="all", max_catch_up=5)  # fmt: skip
    sched.schedule("hourly-report", "web.fetch", every="1h", payload={"fail": "no data"})
    step(sched, clock, 25)
    sched.pause_schedule("nightly")
    sched.run_schedule_now("hourly-report")
    step(sched, clock, 2)
    app = make_app(sched)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("s")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
