"""The console's one-value forms (go to a task, priority, pin, rate limit) with Pilot:
keys typed in the same burst as the key that opens a form land in it, and enter on the
value a form opened with writes nothing and says so."""

from __future__ import annotations

from typing import Any

import pytest
from jobsched.console.app import JobschedApp
from jobsched.console.screens.forms import ValueForm
from jobsched.core import Scheduler
from textual.pilot import Pilot
from textual.widgets import Input, Static

from .app_support import build_scheduler, burst, drive, make_app, recording, settle, until


def stored(sched: Scheduler, category: str) -> tuple[Any, ...] | None:
    """What the store holds for the category's settings (None: nothing)."""
    settings = sched.load_settings().get(category)
    if settings is None:
        return None
    return (settings.priority, settings.pinned, settings.rate, settings.burst, settings.paused)


async def type_keys(pilot: Pilot[Any], typed: str, keys: list[str]) -> None:
    """``keys`` in one burst, or one at a time as Pilot presses them."""
    if typed == "burst":
        await burst(pilot, keys)
    else:
        await pilot.press(*keys)
        await settle(pilot)


@pytest.mark.parametrize("typed", ["burst", "press"])
def test_keys_typed_right_after_g_go_into_the_go_to_form(typed: str) -> None:
    sched, clock = build_scheduler()
    sched.set_paused("email", True)
    sched.inject("email", 60, duration_ms=0)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        table = app.main.task_table
        table.focus()
        await pilot.pause()
        # When "g37<enter>" arrives in one burst
        await type_keys(pilot, typed, ["g", "3", "7", "enter"])
        await until(pilot, lambda: table.selected_key == "37")
        # Then the form took "37" and enter went to task 37
        assert app.screen is app.main, said
        assert table.keys_in_order()[0] == "37" and table.selected_key == "37", said
        assert not [m for m in said if "task id" in m], said

    drive(app, scenario)


@pytest.mark.parametrize("typed", ["burst", "press"])
@pytest.mark.parametrize(
    ("key", "text", "label", "expected"),
    [
        ("e", "7", "Priority of email", (7.0, None, None, None, False)),
        ("P", "2", "Pin email", (None, 2, None, None, False)),
        ("L", "20/s burst 5", "Rate limit of email", (None, None, "20/s", 5, False)),
    ],
    ids=["priority", "pin", "limit"],
)
def test_keys_typed_right_after_a_category_form_key_go_into_the_form(
    typed: str, key: str, text: str, label: str, expected: tuple[Any, ...]
) -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        assert app.main.cat_table.has_focus and app.main.cat_table.selected_key == "email"
        # When the key, the value and enter arrive in one burst
        await type_keys(pilot, typed, [key, *text, "enter"])
        await until(pilot, lambda: bool(said))
        await settle(pilot)
        # Then the value typed is stored, and the form said so
        assert app.screen is app.main, said
        assert stored(sched, "email") == expected, said
        assert said[-1] == f"{label}: applied", said

    drive(app, scenario)


def test_a_burst_that_escapes_a_form_writes_nothing() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await burst(pilot, ["P", "3", "escape"])
        await until(pilot, lambda: app.screen is app.main)
        # escape, typed ahead like the rest, closed the form and applied nothing
        assert app.screen is app.main
        assert stored(sched, "email") is None and said == []

    drive(app, scenario)


@pytest.mark.parametrize(
    ("key", "label"),
    [("P", "Pin email"), ("L", "Rate limit of email"), ("e", "Priority of email")],
    ids=["pin", "limit", "priority"],
)
def test_enter_on_a_form_opened_empty_or_filled_says_unchanged(key: str, label: str) -> None:
    # Given a category with no pin and no rate limit stored (those forms open empty)
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press(key)
        assert isinstance(app.screen, ValueForm)
        opened_with = app.screen.query_one(Input).value
        # When enter is pressed on the value the form opened with
        await pilot.press("enter")
        await settle(pilot)
        # Then it says unchanged and stores nothing
        assert app.screen is app.main
        assert said[-1] == f"{label}: unchanged", said
        assert stored(sched, "email") is None
        # Spaces around the same value are the same value
        await pilot.press(key)
        app.screen.query_one(Input).value = f"  {opened_with} "
        await pilot.press("enter")
        await settle(pilot)
        assert said[-1] == f"{label}: unchanged", said
        assert stored(sched, "email") is None

    drive(app, scenario)


def test_enter_on_the_empty_go_to_form_asks_for_an_id() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press("g", "enter")
        await settle(pilot)
        # Empty is no task id: the form stays open and says what to type
        assert isinstance(app.screen, ValueForm)
        assert "task id" in str(app.screen.query_one("#form-error", Static).render())
        assert not [m for m in said if "unchanged" in m], said

    drive(app, scenario)


def test_unpinning_a_pinned_category_with_an_empty_form_still_applies() -> None:
    sched, clock = build_scheduler()
    sched.pin("email", 2)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        await pilot.press("P")
        assert app.screen.query_one(Input).value == "2"
        await pilot.press("ctrl+u", "enter")
        await settle(pilot)
        assert said[-1] == "Pin email: applied", said
        assert stored(sched, "email") == (None, None, None, None, False)

    drive(app, scenario)


def test_form_keys_are_text_in_the_filter_and_in_a_form() -> None:
    sched, clock = build_scheduler()
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # g, e, L and P typed into the filter are its text, not forms
        await burst(pilot, "/gePL")
        await until(pilot, lambda: app.main.filter_input.value == "gePL")
        assert app.screen is app.main and app.main.filter_input.value == "gePL"
        await pilot.press("escape")
        app.main.cat_table.focus()
        await pilot.pause()
        # and typed into a form, its text too
        await burst(pilot, ["L", *"1/s burst 2", "g", "e", "P"])
        await until(pilot, lambda: isinstance(app.screen, ValueForm)
                    and app.screen.query_one(Input).value.endswith("P"))  # fmt: skip
        assert isinstance(app.screen, ValueForm)
        assert app.screen.query_one(Input).value == "1/s burst 2geP"

    drive(app, scenario)
