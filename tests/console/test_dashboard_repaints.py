"""What the dashboard rebuilds as keys come: the footer only when the keys it shows change,
and the filter input without a layout of the screen (it still scrolls a long filter)."""

from __future__ import annotations

from typing import Any

import pytest
from jobsched.console.app import JobschedApp
from jobsched.console.widgets.footer import SteadyFooter
from textual.pilot import Pilot

from .app_support import build_scheduler, drive, make_app, populate, until


@pytest.mark.slow(seconds=6)  # 80 keys, each waited for
def test_the_footer_is_rebuilt_only_when_its_keys_change_and_a_long_filter_scrolls() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    app = make_app(sched)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        footer = app.main.query_one(SteadyFooter)
        rebuilt: list[str] = []  # what had the focus at each rebuild
        recompose = footer.recompose

        async def counted() -> Any:
            rebuilt.append(type(app.focused).__name__)
            return await recompose()

        footer.recompose = counted  # type: ignore[method-assign]
        # When the focus moves between two tables (the same keys), then into the filter
        await pilot.press("tab", "slash")
        await until(pilot, lambda: bool(rebuilt))
        await pilot.pause()
        # Then the footer was rebuilt once: for the filter, whose keys are text
        assert len(rebuilt) == 1, rebuilt
        # And a filter longer than the input scrolls to show what is typed
        await pilot.press(*("x" * 80))
        await until(pilot, lambda: app.main.filter_input.scroll_x > 0)
        assert app.main.filter_input.value == "x" * 80
        assert app.main.filter_input.scroll_x > 0

    drive(app, scenario, (60, 30))
