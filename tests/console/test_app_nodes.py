"""The nodes screen (`n`): every node of the store, read off the UI thread."""

from __future__ import annotations

import os
import socket
from typing import Any

from jobsched.console.app import JobschedApp
from jobsched.console.local import LocalNode
from jobsched.console.screens.nodes import NodesScreen
from jobsched.console.source import nodes_of
from jobsched.core import FakeClock, Scheduler
from jobsched.core.counters import NodeCounters
from jobsched.core.task import NodeInfo
from textual.pilot import Pilot

from .app_support import (
    MARKUP,
    FailingSource,
    build_scheduler,
    drive,
    make_app,
    recording,
    screen_text,
    settle,
    step,
)


async def reads(pilot: Pilot[Any], screen: NodesScreen, at_least: int) -> None:
    """Wait until the screen has shown ``at_least`` reads."""
    for _ in range(500):
        if screen.reads >= at_least:
            await pilot.pause()
            return
        await pilot.pause(0.01)
    raise AssertionError(f"the nodes screen read {screen.reads} times, not {at_least}")


def other_nodes(sched: Scheduler, clock: FakeClock) -> None:
    """Two more nodes write heartbeats: one a second ago, one that has stopped."""
    now = clock.now()
    busy = {"name": "web-1", "category": "web", "state": "busy", "task_id": 9}
    idle = {"name": "email-1", "category": "email", "state": "idle"}
    counters = {
        "targets": {"email": 2, "web": 5},
        "rates": {"email": 1.5, "web": 2.25},
        "by_category": {"web": {"succeeded": 40, "failed": 2, "cancelled": 1, "started": 44}},
    }
    sched.store.heartbeat(NodeInfo("db-1:41:a", host="db-1.example", pid=41, started_at=now - 60,
                                   heartbeat_at=now - 1, budget=7, workers=[busy, idle],
                                   counters=NodeCounters.from_dict(counters)))  # fmt: skip
    sched.store.heartbeat(NodeInfo("edge:42:b", host=f"edge{MARKUP}", pid=42, started_at=now - 90,
                                   heartbeat_at=now - 30, budget=4, stopped=True))  # fmt: skip


def test_n_opens_the_nodes_screen_with_every_node_of_the_store() -> None:
    # Given a stepped scheduler, which wrote its own heartbeat when it started
    sched, clock = build_scheduler()
    step(sched, clock, 2)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # When n is pressed
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NodesScreen)
        await reads(pilot, screen, 1)
        # Then the node itself is there: its host, pid, liveness and workers
        table = screen.table
        assert table.row_count == 1
        assert table.cell_text("test-node", "host") == socket.gethostname()
        assert table.cell_text("test-node", "pid") == str(os.getpid())
        assert table.cell_text("test-node", "state") == "alive"
        assert table.cell_text("test-node", "workers").startswith("email ")
        assert "· web " in table.cell_text("test-node", "workers")
        # When two other nodes write heartbeats into the store and the screen reads again
        other_nodes(sched, clock)
        screen.reload()
        await reads(pilot, screen, 2)
        # Then all three show, each with its host and pid; the host is never markup
        assert table.row_count == 3
        assert [table.cell_text("db-1:41:a", c) for c in ("host", "pid", "state")] == [
            "db-1.example", "41", "alive"]  # fmt: skip
        assert table.cell_text("db-1:41:a", "heartbeat") == "1.0s ago"
        assert table.cell_text("db-1:41:a", "workers") == "email 2 · web 5"
        assert table.cell_text("db-1:41:a", "busy") == "1/2"
        assert table.cell_text("db-1:41:a", "done") == "43"
        assert table.cell_text("db-1:41:a", "rate") == "3.8"
        assert table.cell_text("edge:42:b", "state") == "stopped"
        assert table.cell_text("edge:42:b", "host") == f"edge{MARKUP}"
        text = screen_text(app)
        assert "db-1.example" in text and "41" in text and "42" in text
        assert "edge[bold]x" in text
        assert "3 nodes: 2 alive, 0 stale, 1 stopped" in text
        # Node keys are off while the screen is open; escape closes it
        await pilot.press("i")
        await settle(pilot)
        assert sched.store.counts() == {}
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main

    drive(app, scenario)


def test_the_nodes_screen_follows_the_app_refresh_interval() -> None:
    # Given a console with its timer on
    sched, clock = build_scheduler()
    app = make_app(sched, clock=clock, refresh_interval=0.05)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NodesScreen)
        await reads(pilot, screen, 1)
        # When another node's heartbeat arrives, then the screen shows it without a key press
        other_nodes(sched, clock)
        await reads(pilot, screen, screen.reads + 2)
        assert screen.table.row_count == 3
        # And a node that stays silent turns stale by the app's clock
        clock.advance(3 * sched.config.heartbeat_interval + 2)
        await reads(pilot, screen, screen.reads + 2)
        assert screen.table.cell_text("db-1:41:a", "state") == "stale"

    drive(app, scenario)


def test_a_failed_read_of_the_nodes_is_a_notification() -> None:
    sched, clock = build_scheduler()
    source = FailingSource(LocalNode(sched))
    app = make_app(source)
    notes = recording(app)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        source.down_for.add("nodes")
        await pilot.press("n")
        screen = app.screen
        assert isinstance(screen, NodesScreen)
        await reads(pilot, screen, 1)
        screen.reload()  # the same error is reported once
        await reads(pilot, screen, 2)
        assert [m for m in notes if "cannot be reached" in m] and len(notes) == 1
        assert "cannot read the nodes" in screen_text(app)

    drive(app, scenario)


def test_nodes_of_reports_each_node_with_the_status_liveness_rule() -> None:
    sched, clock = build_scheduler()
    other_nodes(sched, clock)

    rows = nodes_of(LocalNode(sched), clock.now())

    assert {r["node_id"]: r["state"] for r in rows} == {
        "db-1:41:a": "alive", "test-node": "alive", "edge:42:b": "stopped"}  # fmt: skip
    assert rows[-1]["node_id"] == "edge:42:b"  # live nodes first
    clock.advance(3 * sched.config.heartbeat_interval + 1.5)
    states = {r["node_id"]: r["state"] for r in nodes_of(LocalNode(sched), clock.now())}
    assert states == {"db-1:41:a": "stale", "test-node": "stale", "edge:42:b": "stopped"}


def test_the_nodes_screen_is_in_the_help_and_the_command_palette() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        assert "Show every node: host, pid, heartbeat" in screen_text(app)
        await pilot.press("n")  # not from a dialog
        await pilot.pause()
        assert not isinstance(app.screen, NodesScreen)
        await pilot.press("escape")
        await pilot.pause()
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title.startswith("Show every node")
        )
        await command.callback()
        await pilot.pause()
        assert isinstance(app.screen, NodesScreen)

    drive(app, scenario, (120, 40))
