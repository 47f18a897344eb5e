"""Screenshots of the console on fixed data: a stepped scheduler on a fake clock, no
timer, no animation. Regenerate with ``pytest --snapshot-update`` after a deliberate change."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from .app_support import build_scheduler, make_app, populate, ready, settle, step

SIZE = (120, 40)
DEMO = "demo: SMTP on 127.0.0.1:8025, HTTP on 127.0.0.1:8080"


def dashboard() -> Any:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched, demo=DEMO)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        for _ in range(6):  # some history for the sparklines
            step(sched, clock)
            app.refresh_now()
        await pilot.pause()

    return app, run_before


def test_main_screen(snap_compare: Any) -> None:
    app, run_before = dashboard()
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


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
