"""Quitting the console stops what feeds the node (the demo workload) before the node:
a submit into a node whose store is closing was a traceback on the way out."""

from __future__ import annotations

from typing import Any

import pytest
from jobsched.console.app import JobschedApp
from jobsched.console.screens.quit import QuitScreen
from jobsched.demo.workload import DemoWorkload
from textual.pilot import Pilot

from .app_support import build_scheduler, make_app, settle
from .test_app import drive

pytestmark = pytest.mark.timeout(60)


def test_quitting_stops_the_workload_before_the_node() -> None:
    # Given a node with tasks in its FIFO, fed by a running demo workload
    sched, _clock = build_scheduler()
    sched.inject("email", 20, duration_ms=0)
    sched.step()
    order: list[str] = []
    workload = DemoWorkload(sched)
    stop_workload, stop_node = workload.stop, sched.stop

    def workload_stopped() -> bool:
        order.append(f"workload stopped, node {sched.state}")
        return stop_workload()

    def node_stopped(grace: float | None = None) -> list[int]:
        order.append(f"node stopping, workload running={workload.running}")
        return stop_node(grace)

    sched.stop = node_stopped  # type: ignore[method-assign]
    app = make_app(sched, before_stop=workload_stopped)
    workload.start()

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("r")  # release the tasks and quit
        await settle(pilot)

    # When the operator quits and releases the tasks
    try:
        drive(app, scenario)
    finally:
        workload.stop()
    # Then the workload had stopped before the node began to stop
    assert order[:2] == ["workload stopped, node running", "node stopping, workload running=False"]
    assert sched.state == "stopped"
