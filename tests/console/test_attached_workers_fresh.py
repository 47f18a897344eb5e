"""An attached console shows a node's workers as fresh as its own refresh: the node
publishes its workers when they change, not only at its heartbeat interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jobsched.console.view import AttachedView
from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig
from jobsched.storage import open_store

CONFIG = SchedulerConfig(
    workers=2,
    categories={"slow": CategoryConfig(min_workers=2)},
    heartbeat_interval=30.0,  # far longer than the test: only the early heartbeats count
)


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> float:
    """Seconds until ``condition()`` held (checked every 20 ms); fails after ``timeout``."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "not seen in time"
        threading.Event().wait(0.02)
    return time.monotonic() - began


@pytest.mark.timeout(30)
def test_a_worker_that_starts_or_ends_a_task_shows_in_the_attached_view_at_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    release = threading.Event()
    node = Scheduler(CONFIG, open_store(db))

    @node.handler("slow.wait")
    def wait(payload: Any) -> None:
        release.wait(20)

    viewer = open_store(db)
    viewer.open()
    view = AttachedView(Client(CONFIG, viewer))
    try:
        with node:
            try:
                _until(lambda: len(view.snapshot().workers) == 2)  # the first heartbeat
                # When a worker starts a task
                handle = node.submit("slow.wait", {})

                def busy() -> bool:
                    return [w.task_id for w in view.snapshot().workers if w.state == "busy"] == [
                        handle.id
                    ]

                seen = _until(busy)
                # And ends it
                release.set()
                handle.wait(10)
                ended = _until(lambda: all(w.state == "idle" for w in view.snapshot().workers))
            finally:
                release.set()  # before the node stops: it waits for running tasks
    finally:
        viewer.close()
    print(f"busy seen after {seen * 1000:.0f} ms, idle after {ended * 1000:.0f} ms")
    # Then both show within a few refreshes, not at the next heartbeat 30 s away
    assert seen < 5 and ended < 5
