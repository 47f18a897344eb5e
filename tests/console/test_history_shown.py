"""The console shows the history the store keeps: a restarted node and an attached console
show the hours before they started, failures included, in the last-hour columns and the
history panel, which follows the selected category."""

from __future__ import annotations

import asyncio
from typing import Any

from jobsched.console.app import HISTORY_MINUTES, JobschedApp
from jobsched.console.view import AttachedView
from jobsched.console.widgets.tasks import TaskTable
from jobsched.core import Client, MemoryStore
from jobsched.core.history import MINUTE, MinuteStats, minute_of
from textual.pilot import Pilot

from .app_support import build_scheduler, drive, make_app, ready, screen_lines, screen_text, step

SIZE = (160, 48)


def earlier_nodes(store: MemoryStore, now: float) -> None:
    """Given the 90 minutes before ``now`` as two nodes that have since stopped wrote them:
    node-a ran email all along (10 a minute, one failure every tenth minute, a queue of
    7), node-b joined it for the last 30 minutes (5 a minute)."""
    last = minute_of(now) - MINUTE
    store.add_history("node-a", [
        MinuteStats("email", last - n * MINUTE, 10, 1 if n % 10 == 0 else 0, 7, 2.0)
        for n in range(90)
    ])  # fmt: skip
    store.add_history("node-b", [MinuteStats("email", last - n * MINUTE, 5) for n in range(30)])


def hour_cells(app: JobschedApp, category: str) -> tuple[str, str]:
    table = app.main.cat_table
    return table.cell_text(category, "hour"), table.cell_text(category, "failed_hour")


def test_a_restarted_node_shows_the_hours_before_it_started() -> None:
    sched, clock = build_scheduler()
    earlier_nodes(sched.store, clock.now())  # type: ignore[arg-type]
    app = make_app(sched)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            # Then the last hour adds up both nodes: 60 x 10 + 30 x 5 done, 6 failed
            assert hour_cells(app, "email") == ("750", "6")
            assert hour_cells(app, "web") == ("0", "0")
            # And the history panel draws email's last four hours, minute by minute, then
            # the live last bar (nothing ran yet)
            panel = app.main.history_panel
            done = panel.data("done")
            assert len(done) == HISTORY_MINUTES
            assert done[-31:] == [15.0] * 30 + [0.0] and done[-91:-31] == [10.0] * 60
            assert done[:-91] == [0.0] * (HISTORY_MINUTES - 91)
            assert panel.data("failed")[-2] == 1.0 and sum(panel.data("failed")) == 9
            assert set(panel.data("depth")[-91:-1]) == {7.0}
            assert "email: the last 4 h, a bar a minute" in screen_text(app)
            assert "done/min 0, max 15" in screen_text(app)
            # When the cursor moves to web, the panel follows it
            await pilot.press("down")
            await pilot.pause()
            assert app.main.cat_table.selected_key == "web"
            assert panel.data("done") == [0.0] * HISTORY_MINUTES
            assert "web: the last 4 h, a bar a minute" in screen_text(app)

    asyncio.run(run())


def test_the_node_adds_its_own_minutes_and_the_last_minute_is_live() -> None:
    sched, clock = build_scheduler()
    earlier_nodes(sched.store, clock.now())  # type: ignore[arg-type]
    app = make_app(sched)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            # Given tasks this node runs now: the last minute counts them at once
            sched.submit_many([("email.send", {"to": f"u{n}"}) for n in range(4)])
            sched.submit("web.fetch", {"url": "x", "fail": "no"})
            step(sched, clock, 3)
            app.refresh_now()
            await pilot.pause()
            table = app.main.cat_table
            assert table.cell_text("email", "minute") == "4"
            assert table.cell_text("web", "failed_minute") == "1"
            # ... and so does the history panel's last bar
            assert app.main.history_panel.data("done")[-2:] == [15.0, 4.0]
            # ... while the last hour does not, until the minute is over and written
            assert hour_cells(app, "web") == ("0", "0")
            step(sched, clock, 60)
            app.refresh_now()
            await pilot.pause()
            # Then the hour has the node's own minute too (one of node-a's fell out)
            assert hour_cells(app, "web") == ("0", "1")
            assert hour_cells(app, "email") == ("744", "6")

    asyncio.run(run())


def test_an_attached_console_shows_the_history_of_nodes_that_stopped() -> None:
    # Given a node that ran, failed a task, and stopped; its store outlives it
    sched, clock = build_scheduler()
    earlier_nodes(sched.store, clock.now())  # type: ignore[arg-type]
    sched.submit("web.fetch", {"url": "x", "fail": "no"})
    step(sched, clock, 3)
    sched.stop()
    clock.advance(MINUTE)
    # When a console attaches to the store later
    view = AttachedView(Client(sched.config, sched.store, clock=clock))
    app = make_app(view)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            # Then it shows what the nodes did, the stopped node's last minute included
            assert hour_cells(app, "web") == ("0", "1")
            assert hour_cells(app, "email") == ("740", "6")  # 59 x 10 + 30 x 5
            # (the panel: email's full minutes, then its last 60 s, when nothing ran)
            assert app.main.history_panel.data("done")[-3:] == [15.0, 0.0, 0.0]

    asyncio.run(run())


def test_the_help_screen_says_where_each_figure_comes_from() -> None:
    sched, _ = build_scheduler()
    app = make_app(sched)

    async def run(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "done/1m fail/1m  tasks succeeded / failed over the last minute (live)" in text
        assert "done/1h fail/1h  the same over the last hour's full minutes, as stored" in text
        assert "history  the selected category's last 4 h, a bar a minute" in text

    async def check() -> None:
        async with app.run_test(size=(170, 54)) as pilot:
            await run(pilot)

    asyncio.run(check())


def test_a_resize_that_arrives_while_the_console_closes_is_ignored() -> None:
    # Given a console whose task table reports a new size once its panel is gone (a
    # resize message still queued while the app closes and removes its widgets)
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await app.main.query_one("#task-panel").remove()
        app.post_message(TaskTable.PageRows(7))
        await pilot.pause()

    # Then it is ignored, not an error
    drive(app, scenario, SIZE)
