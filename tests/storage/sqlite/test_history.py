"""A real node on a real SQLite file keeps its history by the minute across a restart: it
writes its minutes, is stopped, and the next node on the file, and a console attached to
it, read them back (the engine's threads, the file, no fake clock)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jobsched.console.view import AttachedView
from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig
from jobsched.storage import SqliteStore

CONFIG = SchedulerConfig(
    workers=2,
    categories={"email": CategoryConfig(max_attempts=1), "web": CategoryConfig()},
    poll_interval=0.05,
    grace_period=5.0,
)


class Ahead:
    """The system's clocks, the wall clock ``seconds`` ahead: a reader two minutes on
    finds the minutes a node wrote a moment ago already full."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def now(self) -> float:
        return time.time() + self.seconds

    def monotonic(self) -> float:
        return time.monotonic()


def node(db: Path, **options: Any) -> Scheduler:
    sched = Scheduler(CONFIG, SqliteStore(db), **options)

    @sched.handler("email.send", category="email")
    def send(payload: Any) -> None:
        if payload == "fail":
            raise RuntimeError("the mail server said no")

    sched.handler("web.fetch", category="web")(lambda payload: None)
    return sched


def test_the_next_node_and_an_attached_console_read_a_stopped_nodes_history(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    # Given a node that ran 5 tasks to success and 2 to failure, then stopped
    first = node(db).start()
    try:
        ids = first.submit_many([("email.send", "ok")] * 5 + [("email.send", "fail")] * 2)
        ids += first.submit_many([("web.fetch", None)] * 3)
        states = [first.wait(task_id, timeout=30).state for task_id in ids]
        assert states.count("succeeded") == 8 and states.count("failed") == 2
    finally:
        first.stop()
    # When a new node starts on the file (its clock two minutes on: the first node's
    # minutes are full ones by then)
    second = node(db, clock=Ahead(120)).start()
    try:
        # Then it reads what the first one did, per category
        history = second.history(10)
        assert history.totals("email") == (5, 2)
        assert history.totals("web") == (3, 0)
        assert {row.category for row in history.rows} == {"email", "web"}
    finally:
        second.stop()
    # And so does a console attached to the file, with both nodes stopped
    view = AttachedView(Client(CONFIG, SqliteStore(db), clock=Ahead(120)))
    view.start()
    try:
        history = view.history(10)
        assert (history.totals("email"), history.totals("web")) == ((5, 2), (3, 0))
    finally:
        view.stop()
