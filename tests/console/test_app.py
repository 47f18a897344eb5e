"""The console driven by Pilot against a stepped scheduler (no engine thread)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from jobsched.console.app import JobschedApp
from jobsched.console.compose import run_console
from jobsched.console.local import LocalNode
from jobsched.console.screens.confirm import ConfirmScreen
from jobsched.console.screens.detail import TaskDetailScreen
from jobsched.console.screens.forms import ValueForm
from jobsched.console.screens.help import HelpScreen
from jobsched.console.screens.quit import QuitScreen
from jobsched.console.settings import load_settings
from jobsched.core import CategoryConfig, MemoryStore, Scheduler, SchedulerConfig
from textual.pilot import Pilot
from textual.widgets import Input, Static

from .app_support import (
    MARKUP,
    FailingSource,
    build_scheduler,
    drive,
    make_app,
    populate,
    screen_text,
    settle,
    step,
    until,
)


def counts(sched: Scheduler, category: str) -> dict[str, int]:
    return sched.counts().get(category, {})


def priority(sched: Scheduler, category: str) -> float | None:
    stored = sched.load_settings().get(category)
    return None if stored is None else stored.priority


def test_inject_one_and_a_burst_raise_the_queue_depth() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # Given the first category (email) selected
        assert app.main.cat_table.selected_key == "email"
        # When i, then I
        await pilot.press("i")
        await settle(pilot)
        assert counts(sched, "email")["queued"] == 1
        await pilot.press("I")
        await settle(pilot)
        # Then the store holds 101 queued tasks, and the panel shows them once read
        assert counts(sched, "email")["queued"] == 101
        step(sched, clock)
        app.refresh_now()
        table = app.main.cat_table
        queued = int(table.cell_text("email", "queued").replace(",", ""))
        fifo = int(table.cell_text("email", "fifo"))
        busy = int(table.cell_text("email", "workers").split("/")[0])
        # (the FIFO's claimed tasks count as queued, the busy ones as running)
        assert queued + busy + int(table.cell_text("email", "succeeded")) == 101
        assert 0 < fifo <= queued

    drive(app, scenario)


def test_u_injects_one_task_at_the_highest_task_priority() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # Given email selected, when u is pressed
        await pilot.press("u")
        await settle(pilot)
        # Then one task is queued in email, at task priority 9
        [task] = sched.list_tasks(category="email")
        assert task.priority == 9 and task.state == "queued"

    drive(app, scenario)


def test_plus_and_minus_change_the_priority_and_persist_it() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("+")
        await settle(pilot)
        assert priority(sched, "email") == 1.5
        assert app.main.cat_table.cell_text("email", "priority") == "1.5"
        await pilot.press("+", "+")  # quick presses compound
        await settle(pilot)
        assert priority(sched, "email") == 3.375
        await pilot.press("-", "-", "-")
        await settle(pilot)
        assert priority(sched, "email") == pytest.approx(1.0, rel=1e-3)

    drive(app, scenario)


def test_pause_stops_feeding_the_category_and_resume_restarts_it() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # Given a paused category with work waiting (pausing asks first)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "email" not in sched.load_settings()
        await pilot.press("y")
        await settle(pilot)
        assert sched.load_settings()["email"].paused
        sched.inject("email", 10, duration_ms=0)
        # When the node steps, then nothing new is claimed in that category
        step(sched, clock, 3)
        assert counts(sched, "email") == {
            **counts(sched, "email"),
            "queued": 10,
            "running": 0,
            "succeeded": 0,
        }
        app.refresh_now()
        assert app.main.cat_table.cell_text("email", "state") == "PAUSED"
        # When resumed, work flows again
        await pilot.press("p")
        await settle(pilot)
        step(sched, clock, 2)
        assert counts(sched, "email")["succeeded"] > 0

    drive(app, scenario)


def test_exact_priority_form_rejects_bad_input_and_applies_good_input() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        for bad in ("abc", "0", "nan", "[/x]"):
            await pilot.press("e")
            assert isinstance(app.screen, ValueForm)
            app.screen.query_one(Input).value = bad
            await pilot.press("enter")
            await settle(pilot)
            # The form stays open with the error inline; nothing was written
            assert isinstance(app.screen, ValueForm)
            error = app.screen.query_one("#form-error", Static).render()
            assert "priority" in str(error)
            assert priority(sched, "email") is None
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.main
        await pilot.press("e")
        app.screen.query_one(Input).value = "7"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.main
        assert priority(sched, "email") == 7.0

    drive(app, scenario)


def test_limit_form_sets_and_lifts_a_rate_limit_and_the_table_shows_it() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # A bad rate keeps the form open with the error, and stores nothing
        await pilot.press("L")
        app.screen.query_one(Input).value = "fast"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ValueForm)
        assert "fast" in str(app.screen.query_one("#form-error", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        # When 20/s burst 5 is entered
        await pilot.press("L")
        app.screen.query_one(Input).value = "20/s burst 5"
        await pilot.press("enter")
        await settle(pilot)
        # Then it is stored, in force, and shown
        stored = sched.load_settings()["email"]
        assert (stored.rate, stored.burst) == ("20/s", 5)
        step(sched, clock)
        app.refresh_now()
        assert sched.snapshot().category("email").limit == "20/s burst 5"
        assert app.main.cat_table.cell_text("email", "limit") == "20/s+5"
        # And "none" lifts it
        await pilot.press("L")
        app.screen.query_one(Input).value = "none"
        await pilot.press("enter")
        await settle(pilot)
        assert sched.load_settings()["email"].rate == "none"
        assert sched.snapshot().category("email").limit is None

    drive(app, scenario, size=(200, 40))


def test_pin_form_pins_and_unpins_the_workers() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("P")
        assert isinstance(app.screen, ValueForm)
        app.screen.query_one(Input).value = "two"
        await pilot.press("enter")
        assert isinstance(app.screen, ValueForm)  # rejected inline
        app.screen.query_one(Input).value = "2"
        await pilot.press("enter")
        await settle(pilot)
        assert sched.load_settings()["email"].pinned == 2
        await pilot.press("P")
        app.screen.query_one(Input).value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert sched.load_settings()["email"].pinned is None

    drive(app, scenario)


def test_retry_and_cancel_act_on_the_selected_task() -> None:
    sched, clock = build_scheduler()
    failed = sched.submit("web.fetch", {"fail": "once"}).id
    step(sched, clock, 2)
    assert sched.get(failed).state == "failed"
    queued = sched.submit("email.send", {"to": "x@example.com"}, delay=60).id
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        tasks = app.main.task_table
        tasks.focus()
        assert tasks.selected_key == str(queued)  # newest first
        await pilot.press("c")  # asks first: no (escape) changes nothing
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert sched.get(queued).state == "scheduled"
        await pilot.press("c", "y")
        await settle(pilot)
        assert sched.get(queued).state == "cancelled"
        await pilot.press("down")
        assert tasks.selected_key == str(failed)
        await pilot.press("r")
        await settle(pilot)
        assert sched.get(failed).state == "queued"
        assert tasks.cell_text(str(failed), "state") == "queued"

    drive(app, scenario)


def test_rebalance_runs_the_balancer_at_the_next_step() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        sched.inject("email", 50, duration_ms=0)
        before = len(sched.recent_decisions(100))
        await pilot.press("b")
        await settle(pilot)
        sched.step()  # no clock move: only the requested rebalance can decide
        decisions = sched.recent_decisions(100)
        assert len(decisions) > before
        app.refresh_now()
        assert decisions[0]["trigger"] == "rebalance"
        assert "email 1->3" in screen_text(app)

    drive(app, scenario)


def test_filter_narrows_the_task_list_and_escape_clears_it() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        tasks = app.main.task_table
        assert len(sched.store.list_tasks(limit=1000)) > tasks.page_rows  # more than a page
        await pilot.press("/")
        assert app.focused is app.main.filter_input
        app.main.filter_input.value = "state:failed"
        await pilot.press("enter")
        await pilot.pause()
        states = {tasks.cell_text(str(k.value), "state") for k in tasks.rows}
        assert states == {"failed"} and tasks.row_count == 2
        await pilot.press("escape")
        # every task again: a full page (the filter line goes, the page grows by a row)
        await until(pilot, lambda: tasks.row_count == tasks.page_rows)
        assert tasks.row_count == tasks.page_rows == app.window.size
        assert {tasks.cell_text(str(k.value), "state") for k in tasks.rows} != {"failed"}

    drive(app, scenario)


def test_detail_shows_payload_and_error_text_literally() -> None:
    sched, clock = build_scheduler()
    task_id = populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        app.main.task_table.focus()
        assert app.main.task_table.selected_key == str(task_id)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TaskDetailScreen)
        text = screen_text(app)
        assert f'"note": "{MARKUP}"' in text  # payload
        assert f"RuntimeError: boom {MARKUP}" in text  # error with its traceback
        assert "Traceback (most recent call last)" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main

    drive(app, scenario, (120, 40))


def test_enter_on_an_idle_worker_opens_nothing() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        app.main.worker_table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.main

    drive(app, scenario)


def test_quit_and_release_leaves_no_running_task() -> None:
    sched, clock = build_scheduler()
    sched.inject("email", 20, duration_ms=0)
    sched.step()  # claims into the FIFO: rows are running, owned by this node
    assert counts(sched, "email")["running"] > 0
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("r")
        await settle(pilot)

    drive(app, scenario)
    assert counts(sched, "email")["running"] == 0
    assert sched.state == "stopped"
    released = app.return_value or []
    assert released and all(sched.get(i).state == "queued" for i in released)


def test_quit_and_wait_stops_gracefully_and_stay_keeps_running() -> None:
    sched, clock = build_scheduler()
    sched.inject("email", 5, duration_ms=0)
    sched.step()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+q")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main and sched.state == "running"
        await pilot.press("ctrl+q", "w")
        await settle(pilot)

    drive(app, scenario)
    assert sched.state == "stopped"
    assert counts(sched, "email")["running"] == 0


def test_quit_with_nothing_running_exits_at_once() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+q")

    drive(app, scenario)
    assert app.return_value == []
    assert sched.state == "running"  # the caller stops it
    sched.stop()


@pytest.mark.parametrize("size", [(20, 5), (1, 1), (300, 100), (79, 40)])
def test_resizing_never_fails_and_small_terminals_get_a_message(size: tuple[int, int]) -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.resize_terminal(*size)
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        small = size[0] < 80 or size[1] < 24
        assert app.main.has_class("-too-small") == small
        if small and size[0] >= 20:
            assert "Terminal too small" in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.main.has_class("-too-small")

    drive(app, scenario)


def test_help_screen_lists_every_key() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for line in (
            "Inject one synthetic task",
            "burst of 100",
            "priority exactly",
            "Pause or resume",
            "Pin",
            "balancer now",
            "task again",
            "Cancel the selected task",
            "Filter the task list",
            "Quit",
            "the tasks busy counts;",
        ):
            assert line in text, line
        await pilot.press("i")  # node keys are off while a dialog is open
        await settle(pilot)
        assert counts(sched, "email") == {}
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main

    drive(app, scenario, (120, 40))


def test_running_tasks_are_the_busy_workers_and_claimed_ones_are_queued() -> None:
    # Given a threaded node with two workers whose handlers block, and six tasks
    config = SchedulerConfig(
        workers=2, categories={"a": CategoryConfig(min_workers=2, max_workers=2)}
    )
    sched = Scheduler(config, MemoryStore(), node_id="held")
    started, release = threading.Semaphore(0), threading.Event()

    @sched.handler("a.hold", category="a")
    def hold(payload: Any) -> None:
        started.release()
        release.wait(10)

    sched.start()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        sched.submit_many([("a.hold", {"n": n}) for n in range(6)])
        assert started.acquire(timeout=10) and started.acquire(timeout=10)

        # once the node's cached counts have caught up with the claims
        def caught_up() -> bool:
            cat = sched.snapshot().category("a")
            return cat.queued + cat.running == 6 and cat.fifo > 0

        await until(pilot, caught_up)
        # Then running is the busy workers, and the claimed tasks in the FIFO are queued
        cat = sched.snapshot().category("a")
        assert (cat.busy, cat.running, cat.queued) == (2, 2, 4), cat
        assert 0 < cat.fifo <= cat.queued
        assert sched.counts()["a"]["running"] == cat.busy + cat.fifo  # claimed, in the store
        app.refresh_now()
        table = app.main.cat_table
        assert table.cell_text("a", "workers").startswith("2/2")
        assert table.cell_text("a", "queued") == "4"
        assert table.cell_text("a", "fifo") == str(cat.fifo)

    try:
        drive(app, scenario)
    finally:
        release.set()
        sched.stop(5)


def test_command_palette_offers_every_action() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for words in (
            "Inject one synthetic task into email",
            "burst of 100",
            "Raise",
            "Lower",
            "exactly",
            "Pause or resume email",
            "Pin",
            "balancer",
            "Show the selected task",
            "again",
            "Cancel the selected task",
            "Filter",
            "Show every key",
        ):
            assert any(words in t for t in titles), words
        command = next(c for c in app.get_system_commands(app.screen) if "Inject one" in c.title)
        await command.callback()
        await settle(pilot)
        assert counts(sched, "email")["queued"] == 1

    drive(app, scenario)


def test_storage_errors_become_notifications_not_tracebacks() -> None:
    sched, clock = build_scheduler()
    source = FailingSource(LocalNode(sched))
    app = make_app(source)
    notes: list[tuple[str, str]] = []
    notify = app.notify

    def record(message: str, **kwargs: Any) -> None:
        notes.append((message, kwargs.get("severity", "information")))
        notify(message, **kwargs)

    app.notify = record  # type: ignore[method-assign]

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        source.down = True
        app.refresh_now()
        app.refresh_now()  # the same error is reported once
        await pilot.press("i")
        await settle(pilot)
        errors = [m for m, s in notes if s == "error"]
        assert len(errors) == 2 and all("cannot be reached" in m for m in errors)
        assert "cannot be reached" in screen_text(app)  # also on the status line
        source.down = False
        await pilot.press("i")
        await settle(pilot)
        assert counts(sched, "email")["queued"] == 1

    drive(app, scenario, (120, 40))


def test_the_timer_refreshes_about_four_times_a_second_off_the_ui_thread() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched, refresh_interval=0.05)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # The timer keeps refreshing on its own: wait for four refreshes, bounded by a
        # deadline (a loaded machine may be slow; the rate itself is benchmarked).
        deadline = time.monotonic() + 10
        while app.refreshes < 4 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert app.refreshes >= 4

    drive(app, scenario)


def test_run_console_refuses_without_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(None, None, env={}, cwd=str(tmp_path))
    assert run_console(settings, demo=False, attach=False) == 2
    assert "needs a terminal" in capsys.readouterr().err
