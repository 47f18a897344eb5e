"""The schedules screen (`s`): every schedule of the node, read off the UI thread; pause,
resume and run-now through the source, each with a visible outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobsched.console.app import JobschedApp
from jobsched.console.local import LocalNode
from jobsched.console.screens.confirm import ConfirmScreen
from jobsched.console.screens.schedules import SchedulesScreen
from jobsched.console.view import AttachedView
from jobsched.core import Client, FakeClock, Scheduler
from jobsched.core.schedule_book import ScheduleInfo
from jobsched.storage import open_store
from textual.pilot import Pilot

from .app_support import (
    FailingSource,
    build_scheduler,
    drive,
    make_app,
    screen_lines,
    screen_text,
    settle,
    step,
    until,
)


def scheduled() -> tuple[Scheduler, FakeClock]:
    """A stepped node with two schedules: ``beat`` every 10 s, which ran for 25 s, and
    ``nightly`` at 03:00, which never ran."""
    sched, clock = build_scheduler()
    add_schedules(sched)
    step(sched, clock, 25)
    return sched, clock


def add_schedules(client: Scheduler | Client) -> None:
    client.schedule("beat", "email.send", every="10s", payload={"to": "beat@example.com"})
    client.schedule("nightly", "web.fetch", cron="0 3 * * *", payload={"url": "http://x/n"})


#: The schedules dialog needs a wider terminal than the other tests.
WIDE = (140, 40)


def notes_of(app: JobschedApp) -> list[str]:
    """Every notification the app shows from now on, as 'title: message' when titled."""
    notes: list[str] = []
    notify = app.notify

    def record(message: str, **kwargs: Any) -> None:
        title = kwargs.get("title")
        notes.append(f"{title}: {message}" if title else message)
        notify(message, **kwargs)

    app.notify = record  # type: ignore[method-assign]
    return notes


async def open_schedules(pilot: Pilot[Any]) -> SchedulesScreen:
    await pilot.press("s")
    screen = pilot.app.screen
    assert isinstance(screen, SchedulesScreen)
    await reads(pilot, screen, 1)
    return screen


async def reads(pilot: Pilot[Any], screen: SchedulesScreen, at_least: int) -> None:
    """Wait until the screen has shown ``at_least`` reads and the app's calls are done."""
    await settle(pilot)
    await until(pilot, lambda: screen.reads >= at_least and not screen.reading)
    await pilot.pause()
    assert screen.reads >= at_least, f"the schedules screen read {screen.reads} times"


async def shows(pilot: Pilot[Any], screen: SchedulesScreen, name: str, column: str,
                text: str) -> None:  # fmt: skip
    """Wait until the app's calls are done and the screen shows ``text`` in that cell."""
    await settle(pilot)
    await until(pilot, lambda: screen.table.cell_text(name, column) == text)
    assert screen.table.cell_text(name, column) == text


def test_s_opens_the_schedules_screen_with_every_schedule() -> None:
    sched, clock = scheduled()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        screen = await open_schedules(pilot)
        table = screen.table
        # Then each schedule shows its spec, state, next and last run, and outcome
        assert table.keys_in_order() == ["beat", "nightly"]
        assert [table.cell_text("beat", c) for c in ("spec", "state", "handler")] == [
            "every 10s", "active", "email.send"]  # fmt: skip
        assert table.cell_text("beat", "next") == "08:00:30 (in 5.0s)"
        assert table.cell_text("beat", "last") == "08:00:20 (5.0s ago)"
        last = sched.schedule_infos()[0].last_task_id
        assert table.cell_text("beat", "outcome") == f"#{last} succeeded"
        assert table.cell_text("nightly", "spec") == "cron 0 3 * * * (UTC)"
        assert table.cell_text("nightly", "next") == "03:00:00 (in 18h59m)"
        assert table.cell_text("nightly", "last") == "-"
        assert table.cell_text("nightly", "outcome") == "-"
        text = screen_text(app)
        assert "2 schedules: 2 active, 0 paused · next: beat at 08:00:30 (in 5.0s)" in text
        # Node keys are off while the screen is open; escape closes it
        before = sched.store.counts()
        await pilot.press("i")
        await settle(pilot)
        assert sched.store.counts() == before
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main

    drive(app, scenario, WIDE)


def test_p_pauses_and_resumes_the_selected_schedule_in_the_store() -> None:
    sched, clock = scheduled()
    app = make_app(sched)
    notes = notes_of(app)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        screen = await open_schedules(pilot)
        # When p is pressed on beat
        await pilot.press("p")
        await shows(pilot, screen, "beat", "state", "paused")
        # Then the store has it paused, the screen says so, and so does a notification
        assert sched.store.schedule_states(["beat"])["beat"].paused
        assert screen.table.cell_text("beat", "next") == "-"
        assert "Schedule beat paused: its ticks do not run" in notes
        # And the node runs none of its ticks while it stays paused
        ran = sched.schedule_infos()[0].last_task_id
        step(sched, clock, 30)
        assert sched.schedule_infos()[0].last_task_id == ran
        # When p is pressed again, it is resumed, from its next tick
        await pilot.press("p")
        await shows(pilot, screen, "beat", "state", "active")
        assert not sched.store.schedule_states(["beat"])["beat"].paused
        assert "Schedule beat resumed from its next tick" in notes
        step(sched, clock, 10)
        assert sched.schedule_infos()[0].last_task_id != ran

    drive(app, scenario, WIDE)


def test_r_runs_the_selected_schedule_now_only_after_a_yes() -> None:
    sched, clock = scheduled()
    app = make_app(sched)
    notes = notes_of(app)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        screen = await open_schedules(pilot)
        await pilot.press("down")  # nightly
        before = sched.store.counts()
        # When r is pressed, the console asks first; no leaves everything as it was
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Run schedule nightly now? One task of web.fetch" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen and sched.store.counts() == before
        assert "Run nightly now: nothing changed" in notes
        # When it is confirmed, one task of the schedule's handler is queued at once
        await pilot.press("r", "y")
        await settle(pilot)
        [task_id] = [int(n.split("task ")[1].split()[0]) for n in notes if "queued" in n]
        assert f"Schedule nightly: task {task_id} queued" in notes
        task = sched.get(task_id)
        assert (task.handler, task.state) == ("web.fetch", "queued")
        await shows(pilot, screen, "nightly", "outcome", f"#{task_id} queued")
        # And the node runs it
        step(sched, clock, 2)
        assert sched.get(task_id).state == "succeeded"

    drive(app, scenario, WIDE)


def test_an_empty_schedule_list_says_how_to_add_one() -> None:
    sched, _ = build_scheduler()
    app = make_app(sched)
    notes = notes_of(app)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        screen = await open_schedules(pilot)
        assert screen.table.row_count == 0
        assert "no schedules: add [[schedules]] to the configuration" in screen_text(app)
        await pilot.press("p", "r")
        await settle(pilot)
        assert notes == ["No schedule selected", "No schedule selected"]
        assert app.screen is screen

    drive(app, scenario, WIDE)


def test_a_failed_read_or_action_is_a_notification_not_a_traceback() -> None:
    sched, _ = scheduled()
    source = FailingSource(LocalNode(sched))
    app = make_app(source)
    notes = notes_of(app)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # Given a store the schedules cannot be read from
        source.down_for.add("schedule_infos")
        screen = await open_schedules(pilot)
        screen.reload()  # the same error is told once
        await reads(pilot, screen, 2)
        assert len([n for n in notes if "cannot be reached" in n]) == 1
        assert "cannot read the schedules" in screen_text(app)
        # When it can be read again but a pause cannot be written
        source.down_for = {"pause_schedule"}
        screen.reload()
        await reads(pilot, screen, 3)
        assert screen.table.row_count == 2
        await pilot.press("p")
        await settle(pilot)
        assert not sched.store.schedule_states(["beat"])["beat"].paused
        assert [n for n in notes if n.startswith("Pause schedule beat: not applied: ")]
        assert "cannot be reached" in notes[-1]
        assert len([n for n in notes if "cannot be reached" in n]) == 2
        assert app.screen is screen

    drive(app, scenario, WIDE)


def test_the_screen_follows_the_app_refresh_interval() -> None:
    sched, clock = scheduled()
    app = make_app(sched, clock=clock, refresh_interval=0.05)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, SchedulesScreen)
        await until(pilot, lambda: screen.table.cell_text("nightly", "state") == "active")
        # When the schedule is paused elsewhere (the CLI, another console)
        sched.pause_schedule("nightly")
        # Then the screen shows it without a key press
        await until(pilot, lambda: screen.table.cell_text("nightly", "state") == "paused")
        assert screen.table.cell_text("nightly", "state") == "paused"

    drive(app, scenario, WIDE)


def test_an_attached_console_pauses_and_runs_the_nodes_schedule(tmp_path: Path) -> None:
    # Given a node on a SQLite file and a console attached to it, both configured with
    # the schedules (as both read one configuration)
    db = tmp_path / "jobs.db"
    sched, clock = build_scheduler()
    node = Scheduler(sched.config, open_store(db), clock=clock, threaded=False, node_id="node-1")
    node.handlers.update(sched.handlers)
    add_schedules(node)
    node.start()
    step(node, clock, 25)
    client = Client(sched.config, open_store(db), clock=clock)
    client.handlers.update(sched.handlers)
    add_schedules(client)
    view = AttachedView(client)
    view.start()
    app = make_app(view)
    notes = notes_of(app)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        screen = await open_schedules(pilot)
        last = node.schedule_infos()[0].last_task_id
        assert screen.table.cell_text("beat", "outcome") == f"#{last} succeeded"
        # When beat is paused from the console, then the node stops ticking it
        await pilot.press("p")
        await shows(pilot, screen, "beat", "state", "paused")
        step(node, clock, 30)
        assert node.schedule_infos()[0].last_task_id == last
        # And a run-now from the console is a task the node runs
        await pilot.press("r", "y")
        await settle(pilot)
        [queued] = [n for n in notes if "queued" in n]
        task_id = int(queued.split("task ")[1].split()[0])
        step(node, clock, 2)
        assert node.get(task_id).state == "succeeded"

    try:
        drive(app, scenario, WIDE)
    finally:
        node.stop(grace=0)
        view.stop()
        sched.stop(grace=0)


class ForeignSchedules(FailingSource):
    """A source whose store holds names and states another program wrote."""

    def schedule_infos(self) -> list[ScheduleInfo]:
        evil = "\x1b[2J\x1b]52;c;aGk=\x07"
        return [
            ScheduleInfo(f"x{evil}", "h\u202e", "email", f"every 10s{evil}", "skip", False,
                         None, 1_800_000_000.0, 7, f"done{evil}")
        ]  # fmt: skip


def test_names_and_states_from_the_store_are_shown_escaped() -> None:
    sched, _ = build_scheduler()
    app = make_app(ForeignSchedules(LocalNode(sched)))

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        screen = await open_schedules(pilot)
        [key] = screen.table.keys_in_order()
        outcome = screen.table.cell_text(key, "outcome")
        assert outcome == "#7 done\\x1b[2J\\x1b]52;c;aGk=\\x07"
        assert screen.table.cell_text(key, "handler") == "h\\u202e"
        assert "\x1b" not in screen_text(app)

    drive(app, scenario, WIDE)


def test_the_schedules_screen_is_in_the_help_footer_and_command_palette() -> None:
    sched, _ = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: "s Schedules" in screen_lines(app)[-1])
        assert "s Schedules" in screen_lines(app)[-1]
        await pilot.press("question_mark")
        text = screen_text(app)
        assert "Show every schedule: next and last run" in text
        assert "Schedules screen (s)" in text
        await pilot.press("s")  # not from a dialog
        await pilot.pause()
        assert not isinstance(app.screen, SchedulesScreen)
        await pilot.press("escape")
        await pilot.pause()
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title.startswith("Show every sched")
        )
        await command.callback()
        await pilot.pause()
        assert isinstance(app.screen, SchedulesScreen)

    drive(app, scenario, WIDE)
