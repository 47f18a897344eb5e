"""The attached view: a node seen through the shared store, steered without workers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jobsched.console.app import JobschedApp
from jobsched.console.view import AttachedView
from jobsched.console.widgets.tasks import shown_state
from jobsched.core import (
    CategoryConfig,
    Client,
    FakeClock,
    Scheduler,
    SchedulerConfig,
    TaskStore,
)
from jobsched.core.housekeeper import WORKERS_PUBLISH
from jobsched.core.task import NodeInfo, Outcome
from jobsched.storage import open_store
from textual.pilot import Pilot

from .app_support import (
    build_scheduler,
    drive,
    make_app,
    open_detail,
    populate,
    ready,
    screen_text,
    settle,
    step,
)


def attach(sched: Scheduler, clock: FakeClock) -> AttachedView:
    return AttachedView(Client(sched.config, sched.store, clock=clock))


def heartbeat(store: TaskStore, node_id: str, at: float, workers: list[dict[str, Any]]) -> None:
    store.heartbeat(NodeInfo(node_id=node_id, host="h", pid=1, started_at=at, heartbeat_at=at,
                             budget=4, workers=workers))  # fmt: skip


def test_snapshot_reads_counts_settings_decisions_and_workers_from_the_store() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    sched.set_priority("email", 2.5)
    sched.set_paused("web", True)
    step(sched, clock, 3)  # heartbeats on the way
    view = attach(sched, clock)

    snap = view.snapshot()
    node = sched.snapshot()

    assert snap.state == "attached" and snap.node_id == "test-node"
    for mine, theirs in zip(snap.categories, node.categories, strict=True):
        assert (mine.name, mine.queued, mine.running, mine.succeeded, mine.failed) == (
            theirs.name, theirs.queued, theirs.running, theirs.succeeded, theirs.failed)  # fmt: skip
        assert mine.workers == theirs.workers  # the balancer's latest target
    assert snap.category("email").priority == 2.5
    assert snap.category("web").paused
    assert [w.name for w in snap.workers] == [w.name for w in node.workers]
    assert snap.decisions[0] == sched.recent_decisions(1)[0]


def test_busy_workers_show_their_elapsed_time_by_the_view_clock() -> None:
    sched, clock = build_scheduler()
    view = attach(sched, clock)
    now = clock.now()
    # Given a task another node claimed and runs
    row = sched.build_task("web.fetch", {"url": "u"})
    [task_id] = sched.store.insert([row], now)
    assert [t.id for t in sched.store.claim("web", 1, "other", now)] == [task_id]
    busy = {"name": "web-1", "category": "web", "state": "busy", "task_id": task_id,
            "handler": "web.fetch", "started_at": now - 2.0, "elapsed": 0.1, "retiring": False}  # fmt: skip
    heartbeat(sched.store, "other", now, [busy])
    clock.advance(1.5)

    worker = next(w for w in view.snapshot().workers if w.task_id == task_id)

    assert worker.state == "busy" and worker.elapsed == 3.5
    assert view.snapshot().category("web").busy == 1


def test_a_worker_whose_task_finished_since_the_heartbeat_shows_idle() -> None:
    # Given a heartbeat that shows a worker busy with a task that has finished since
    sched, clock = build_scheduler()
    view = attach(sched, clock)
    now = clock.now()
    [task_id] = sched.store.insert([sched.build_task("web.fetch", {"url": "u"})], now)
    [task] = sched.store.claim("web", 1, "other", now)
    busy = {"name": "web-1", "category": "web", "state": "busy", "task_id": task_id,
            "handler": "web.fetch", "started_at": now, "retiring": False}  # fmt: skip
    heartbeat(sched.store, "other", now, [busy])
    sched.store.finish([Outcome(task_id, "other", task.attempts, "succeeded", now + 0.02)])
    clock.advance(1.0)
    # Then the view shows it idle, not busy for a climbing second
    worker = next(w for w in view.snapshot().workers if w.name == "other:1/web-1")
    assert (worker.state, worker.task_id, worker.elapsed) == ("idle", None, 0.0)
    assert view.snapshot().category("web").busy == 0


def test_every_live_node_shows_and_stale_nodes_do_not() -> None:
    sched, clock = build_scheduler()
    view = attach(sched, clock)
    idle = {"name": "email-1", "category": "email", "state": "idle"}
    heartbeat(sched.store, "b:2:x", clock.now(), [idle])

    names = {w.name for w in view.snapshot().workers}
    assert "b:1/email-1" in names
    assert any(n.startswith("test-node:") and n.endswith("/email-1") for n in names)

    clock.advance(view.stale_after + 1)
    snap = view.snapshot()
    assert snap.state == "no node" and snap.workers == ()


def test_rates_come_from_how_the_counts_move() -> None:
    sched, clock = build_scheduler()
    view = attach(sched, clock)
    view.snapshot()
    sched.inject("email", 10, duration_ms=0)
    step(sched, clock, 2, seconds=1.0)

    assert view.snapshot().category("email").rate > 0


def test_operator_changes_are_written_to_the_store() -> None:
    sched, clock = build_scheduler()
    view = attach(sched, clock)

    view.set_priority("email", 4)
    view.set_paused("email", True)
    view.pin("web", 2)
    ids = view.inject("web", 3, duration_ms=0)
    view.cancel(ids[:1])

    settings = sched.load_settings()
    assert (
        settings["email"].priority == 4 and settings["email"].paused and settings["web"].pinned == 2
    )
    assert [view.get(i).state for i in ids] == ["cancelled", "queued", "queued"]
    assert view.retry(ids[:1]) == ids[:1]


def test_the_console_steers_an_attached_node_and_quits_without_stopping_it(tmp_path: Path) -> None:
    # Given a node and a console in the same test, sharing one SQLite file
    db = tmp_path / "jobs.db"
    sched, clock = build_scheduler()
    node = Scheduler(sched.config, open_store(db), clock=clock, threaded=False, node_id="node-1")
    node.handlers.update(sched.handlers)
    node.start()
    view = AttachedView(Client(sched.config, open_store(db), clock=clock))
    view.start()
    app = make_app(view)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await pilot.press("I", "+")
            await settle(pilot)
            assert node.counts()["email"]["queued"] == 100
            assert node.load_settings()["email"].priority == 1.5
            clock.advance(1)
            node.step()
            node.step()
            app.refresh_now()
            assert int(app.main.cat_table.cell_text("email", "succeeded")) > 0
            assert app.main.worker_table.row_count == len(node.snapshot().workers)
            await pilot.press("ctrl+q")

    try:
        asyncio.run(scenario())
        assert app.return_value == [] and node.state == "running"
    finally:
        node.stop(grace=0)
        assert view.stop() == [] and view.state == "stopped"


def test_an_attached_console_shows_a_category_its_node_holds_back_as_held(
    tmp_path: Path,
) -> None:
    # Given a stepped node on a SQLite file whose email category is limited to 1/min,
    # with three tasks waiting, and a console attached to the same file
    db = tmp_path / "jobs.db"
    clock = FakeClock()
    config = SchedulerConfig(
        workers=2, categories={"email": CategoryConfig(min_workers=1, rate="1/min")}
    )
    node = Scheduler(config, open_store(db), clock=clock, threaded=False, node_id="node-1")
    node.handler("email.send")(lambda payload: None)
    node.start()
    view = AttachedView(Client(config, open_store(db), clock=clock))
    view.start()
    app = make_app(view)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            assert app.main.cat_table.cell_text("email", "state") == "active"
            # When the node runs the one task its bucket pays for and holds the others
            # (well within its heartbeat interval: it publishes such changes early)
            node.submit_many([("email.send", n) for n in range(3)])
            for _ in range(3):
                clock.advance(WORKERS_PUBLISH)
                node.step()
            assert node.snapshot().category("email").held
            app.refresh_now()
            # Then the attached console shows HELD too
            assert view.snapshot().category("email").held
            assert app.main.cat_table.cell_text("email", "state") == "HELD"
            # And once the limit is lifted and the node has claimed the rest, it does not
            await pilot.press("ctrl+q")
        view.set_rate("email", None)
        for _ in range(3):
            clock.advance(WORKERS_PUBLISH)
            node.step()
        assert not node.snapshot().category("email").held
        assert not view.snapshot().category("email").held

    try:
        asyncio.run(scenario())
    finally:
        node.stop(grace=0)
        view.stop()


def test_claims_waiting_in_any_watched_nodes_fifo_show_claimed_and_running_ones_running() -> None:
    # Given two other live nodes, each with two claimed tasks, one of which its worker runs
    sched, clock = build_scheduler()
    view = attach(sched, clock)
    now = clock.now()
    running: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for node in ("a:1:x", "b:2:y"):
        sched.store.insert([sched.build_task("web.fetch", {"n": i}) for i in range(2)], now)
        first, second = sched.store.claim("web", 2, node, now)
        running[node], waiting[node] = first.id, second.id
        busy = {"name": "web-1", "category": "web", "state": "busy", "task_id": first.id,
                "handler": "web.fetch", "started_at": now, "retiring": False}  # fmt: skip
        heartbeat(sched.store, node, now, [busy])

    # When the attached view's snapshot decides how the task list shows them
    snap = view.snapshot()
    busy_ids = frozenset(w.task_id for w in snap.workers if w.task_id is not None)
    shown = {t.id: shown_state(t, snap.owners, busy_ids) for t in sched.store.list_tasks()}

    # Then every watched node counts as an owner, whatever the display name says
    assert {"a:1:x", "b:2:y"} <= snap.owners
    # And each node's waiting claim is "claimed", its running task "running"
    assert [shown[waiting[n]] for n in ("a:1:x", "b:2:y")] == ["claimed", "claimed"]
    assert [shown[running[n]] for n in ("a:1:x", "b:2:y")] == ["running", "running"]


def test_the_detail_view_shows_the_error_of_each_attempt(tmp_path: Path) -> None:
    # Given a task on a SQLite file that failed twice with retries, then for good
    db = tmp_path / "jobs.db"
    sched, clock = build_scheduler()
    store = open_store(db)
    store.open()
    [task_id] = store.insert([sched.build_task("email.send", {"to": "a@example.com"})], clock.now())
    for attempt, error in enumerate(("first: smtp timed out", "second: refused"), start=1):
        store.claim("email", 1, "other-node", clock.now())
        retry = Outcome(task_id, "other-node", attempt, "scheduled", clock.now(), error=error,
                        reason="error", run_at=clock.now())  # fmt: skip
        assert store.finish([retry]) == [True]
        clock.advance(1)
    store.claim("email", 1, "other-node", clock.now())
    final = Outcome(task_id, "other-node", 3, "failed", clock.now(), error="third: gave up",
                    reason="error")  # fmt: skip
    assert store.finish([final]) == [True]
    store.close()
    view = AttachedView(Client(sched.config, open_store(db), clock=clock))
    view.start()
    app = make_app(view)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # When the operator opens the task's detail
        await open_detail(pilot)
        # Then each attempt's error shows, oldest first, numbered
        text = screen_text(app)
        headings = [f"error of attempt {n} (of 3)" for n in (1, 2, 3)]
        errors = ["first: smtp timed out", "second: refused", "third: gave up"]
        places = [text.index(s) for pair in zip(headings, errors, strict=True) for s in pair]
        assert places == sorted(places)

    try:
        drive(app, scenario, size=(120, 60))
    finally:
        view.stop()
