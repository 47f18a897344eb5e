"""The operator's console with Pilot: the task list as a window onto the store (pages,
order, go-to-id), bulk actions with their confirmation, keys typed in a burst, keys that
act on the focused panel only, forms that say "unchanged", and what `b` decided."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from jobsched.console.app import JobschedApp
from jobsched.console.screens.confirm import ConfirmScreen
from jobsched.console.screens.quit import QuitScreen
from jobsched.core import FakeClock, Scheduler, SchedulerConfig
from jobsched.core.task import NewTask
from jobsched.storage import open_store
from textual.pilot import Pilot

from .app_support import (
    build_scheduler,
    burst,
    drive,
    make_app,
    open_detail,
    populate,
    recording,
    screen_lines,
    screen_text,
    settle,
    step,
    until,
)


def states(sched: Scheduler) -> dict[str, int]:
    out: dict[str, int] = {}
    for per in sched.counts().values():
        for state, n in per.items():
            out[state] = out.get(state, 0) + n
    return out


@pytest.mark.parametrize("typed", ["burst", "press"])
def test_keys_typed_right_after_slash_go_into_the_filter(typed: str) -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    before = states(sched)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        app.main.task_table.focus()
        await pilot.pause()
        # When "/cat:web" arrives in one burst (c would cancel, a... are dashboard keys)
        if typed == "burst":
            await burst(pilot, "/cat:web")
        else:
            await pilot.press(*"/cat:web")
            await settle(pilot)
        # Then it is the filter's text, nothing was asked or cancelled, the list filters
        assert app.main.filter_input.value == "cat:web"
        assert not isinstance(app.screen, ConfirmScreen)
        assert states(sched) == before
        assert {app.main.task_table.cell_text(k, "category")
                for k in app.main.task_table.keys_in_order()} == {"web"}  # fmt: skip

    drive(app, scenario)


def test_a_bad_filter_is_shown_and_reported_and_keeps_the_list() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press("slash", *"state:bogus", "enter")
        await settle(pilot)
        assert "filter error: unknown state 'bogus'" in screen_text(app)
        assert any("Filter not applied" in m and "bogus" in m for m in said)
        # Bulk keys refuse to act on a filter that does not parse
        await pilot.press("R")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen) and "Fix the filter" in said[-1]

    drive(app, scenario)


def test_a_filter_naming_an_unknown_category_is_shown_like_a_bad_state() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press("slash", *"cat:emial", "enter")
        await settle(pilot)
        # Then the filter line names the value, the known ones and the close match
        text = screen_text(app)
        assert "filter error: unknown category 'emial'" in text
        [message] = [m for m in said if "Filter not applied" in m]
        assert "Did you mean 'email'?" in message and "Known categories: email, web" in message
        # And the list keeps the last filter that applied; bulk keys refuse to act on it
        assert "emial" not in app.window.query.categories
        await pilot.press("R")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen) and "Fix the filter" in said[-1]

    drive(app, scenario)


def test_a_category_only_the_store_holds_can_be_filtered() -> None:
    # Given a task of a category no longer configured, still in the store
    sched, clock = build_scheduler()
    populate(sched, clock)
    [old] = sched.store.insert(
        [NewTask("legacy.job", "legacy", "null", clock.now(), 1)], clock.now()
    )
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # When the operator filters on it
        await pilot.press("slash", *"cat:legacy", "enter")
        await settle(pilot)
        # Then it applies and shows that task alone
        assert app.window.error is None
        assert app.main.task_table.keys_in_order() == [str(old)]

    drive(app, scenario)


def test_bulk_retry_cancel_and_delete_ask_with_the_count_first() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    failed = states(sched)["failed"]
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press("slash", *"state:failed", "enter")
        await settle(pilot)
        # R: the question states the count; no changes nothing
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Retry {failed} tasks matching 'state:failed'?" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert states(sched)["failed"] == failed
        await pilot.press("R", "y")
        await settle(pilot)
        assert states(sched)["failed"] == 0 and f"{failed} retried" in said[-1]
        # C on every waiting task: cancelled, running ones asked to stop
        await pilot.press("escape", "C")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert states(sched)["queued"] == states(sched)["scheduled"] == 0
        assert "cancelled" in said[-1]
        # D deletes finished tasks only and says how many live ones it skipped
        live = states(sched)["running"]
        await pilot.press("D", "y")
        await settle(pilot)
        assert states(sched) == {**dict.fromkeys(states(sched), 0), "running": live}
        assert "deleted" in said[-1] and (f"{live} skipped" in said[-1] or not live)

    drive(app, scenario)


def test_confirmations_say_one_task_not_one_tasks() -> None:
    sched, clock = build_scheduler()
    sched.pin("email", 0)  # no worker: the task stays queued
    step(sched, clock)
    waiting = sched.submit("email.send", {"to": "x@example.com"}).id
    step(sched, clock)
    assert sched.snapshot().category("email").queued == 1
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # Pausing a category with one queued task
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "(1 queued task waits)" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        # Cancelling the one task a filter matches
        await pilot.press("slash", *f"id:{waiting}", "enter")
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question
        assert question.startswith(f"Cancel 1 task matching 'id:{waiting}'?"), question
        assert "1 tasks" not in question and "1 tasks" not in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        # Quitting while one task is held
        app.push_screen(QuitScreen(1, 5.0))
        await pilot.pause()
        assert "1 task is running or claimed on this node." in "".join(screen_lines(app))

    drive(app, scenario)


def test_cancel_asks_first_and_category_keys_need_the_categories_panel() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        app.main.task_table.focus()
        await pilot.pause()
        # p with the task list focused: a warning, no question, nothing paused
        await pilot.press("p", "i")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert sched.load_settings() == {} and "categories panel" in said[-1]
        # r / c with the categories panel focused act on no task
        app.main.cat_table.focus()
        await pilot.press("c")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen) and "task list" in said[-1]

    drive(app, scenario)


def test_enter_on_an_unchanged_form_says_unchanged() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press("e", "enter")
        await settle(pilot)
        assert said[-1] == "Priority of email: unchanged"
        assert sched.load_settings() == {}
        await pilot.press("e", "ctrl+u", *"2", "enter")
        await settle(pilot)
        assert said[-1] == "Priority of email: applied"

    drive(app, scenario)


def test_b_reports_what_the_balancer_decided_or_that_nothing_changed() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        # Nothing to change: after the wait, "no change" and the targets
        await pilot.press("b")
        await settle(pilot)
        step(sched, clock, 2)
        app.refresh_now()
        assert said[-1] == "Balancer: no change, the targets stay email=1 web=3", said
        # Demand moved: the decision's reasons
        sched.inject("email", 40, duration_ms=0)
        await pilot.press("b")
        await settle(pilot)
        step(sched, clock)
        app.refresh_now()
        assert said[-1].startswith("Balancer: ") and "->" in said[-1], said

    drive(app, scenario)


def test_pages_and_order_reach_the_head_of_the_queue() -> None:
    sched, clock = build_scheduler()
    sched.set_paused("email", True)
    ids = sched.inject("email", 450, duration_ms=0)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        table = app.main.task_table
        table.focus()
        # A page is as many rows as the list shows: those are all it read
        await until(pilot, lambda: table.row_count == table.page_rows == app.window.size)
        assert 5 < table.row_count == table.page_rows == app.window.size < len(ids)
        assert table.keys_in_order()[0] == str(ids[-1])  # newest first, page 1
        await pilot.press("right_square_bracket")
        await settle(pilot)
        # page 2 starts right after the last row page 1 showed (the window keeps its id)
        last = app.window.after
        assert last is not None and ids[-1] - last + 1 <= app.window.size + 1
        page2 = table.keys_in_order()
        assert page2 == [str(last - n) for n in range(1, app.window.size + 1)]
        assert "page 2" in screen_text(app)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert table.keys_in_order()[0] == str(ids[-1])
        # o: oldest first, the head of the queue on top
        await pilot.press("o")
        await settle(pilot)
        assert table.keys_in_order()[:2] == [str(ids[0]), str(ids[1])]
        assert "oldest first" in screen_text(app)

    drive(app, scenario)


def test_retry_from_the_detail_view() -> None:
    sched, clock = build_scheduler()
    failed = sched.submit("web.fetch", {"fail": "once"}).id
    step(sched, clock, 2)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await open_detail(pilot)
        text = screen_text(app)
        assert "error of attempt 1 (of 1)" in text and "took" in text
        await pilot.press("r")
        await settle(pilot)
        assert sched.get(failed).state == "queued"

    drive(app, scenario)


@pytest.mark.parametrize("answer", ["y", "n"])
def test_cancel_from_the_detail_view_asks_first(answer: str) -> None:
    sched, clock = build_scheduler()
    waiting = sched.submit("email.send", {"to": "x@example.com"}, delay=60).id
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await open_detail(pilot)
        # c in the detail view asks, naming the task
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Cancel task {waiting} (email.send, scheduled)?" in screen_text(app)
        await pilot.press(answer)
        await settle(pilot)
        assert app.screen is app.main
        if answer == "y":
            assert sched.get(waiting).state == "cancelled"
            assert said[-1] == f"Task {waiting}: cancelled", said
        else:
            assert sched.get(waiting).state == "scheduled"
            assert said[-1] == f"Cancel task {waiting}: nothing changed", said

    drive(app, scenario)


def test_go_to_an_id_among_200000_tasks_in_sqlite(tmp_path: Path) -> None:
    # Given 200,000 tasks in a real SQLite file, inserted in batches
    store = open_store(tmp_path / "jobs.db")
    store.open()
    clock = FakeClock()
    rows = [NewTask("email.send", "email", '{"n": 1}', clock.now(), 3, None, None)] * 10_000
    for _ in range(20):
        store.insert(rows, clock.now())
    store.close()
    sched, _ = build_scheduler()  # for its config and handlers
    config: SchedulerConfig = sched.config
    node = Scheduler(config, open_store(tmp_path / "jobs.db"), clock=clock, threaded=False,
                     node_id="big", rng=random.Random(1))  # fmt: skip
    node.start()
    node.set_paused("email", True)
    app = make_app(node)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        table = app.main.task_table
        assert table.keys_in_order()[0] == "200000"
        await pilot.press("g", *"12345", "enter")
        await settle(pilot)
        assert table.keys_in_order()[0] == "12345" and table.selected_key == "12345"
        assert table.has_focus
        # And the filter finds it too, over the whole store
        await pilot.press("slash", *"id:12345", "enter")
        await settle(pilot)
        assert table.keys_in_order() == ["12345"]

    try:
        drive(app, scenario)
    finally:
        node.stop(0)
