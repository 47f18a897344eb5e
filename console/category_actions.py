"""What the console's category keys do: inject synthetic tasks, scale or set the
priority, set the rate limit, pin the worker count, pause (after a yes) and resume, and
ask the balancer to run (its decision is reported once a snapshot shows it).

The app binds the keys and hands each action to :class:`CategoryActions`; every source
call goes through the app's operation queue (a thread worker), never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from jobsched.core import CategorySnapshot, Snapshot
from jobsched.core.payload import MAX_TASK_PRIORITY

from .keys import PRIORITY_STEP
from .reports import injected_message
from .screens.forms import UNCHANGED, limit_form, pin_form, priority_form
from .widgets import format as fmt

if TYPE_CHECKING:
    from .app import JobschedApp


def round_weight(value: float) -> float:
    return float(f"{value:.4g}")


class CategoryActions:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app
        # `b`: report a decision newer than this time, or "no change" after the deadline
        self._awaited_decision: tuple[float, float] | None = None

    # --- synthetic tasks --------------------------------------------------------------
    def inject(self, count: int, priority: int = 0) -> None:
        app = self.app
        if (cat := app.selected_category()) is not None:
            inject = partial(
                app.source.inject, cat, count, app.inject_duration_ms, priority=priority
            )
            app.ops.submit(
                f"Inject into {cat}",
                inject,
                lambda ids: app.say(injected_message(cat, ids)),
            )

    def inject_urgent(self) -> None:
        """One synthetic task at the highest task priority (``u``)."""
        self.inject(1, MAX_TASK_PRIORITY)

    # --- the category's settings ------------------------------------------------------
    def priority_up(self) -> None:
        self._scale_priority(PRIORITY_STEP)

    def priority_down(self) -> None:
        self._scale_priority(1 / PRIORITY_STEP)

    def _scale_priority(self, factor: float) -> None:
        app = self.app
        if (cat := app.selected_category()) is None:
            return

        def change() -> float:  # reads the stored weight, so quick presses compound
            return app.source.set_priority(
                cat, round_weight(app.source.category_config(cat).priority * factor)
            )

        app.ops.submit(
            f"Priority of {cat}",
            change,
            lambda w: app.say(f"Priority of {cat} is now {fmt.weight(w)}"),
        )

    def shown(self, name: str) -> CategorySnapshot | None:
        """The category as the last snapshot showed it (None before the first)."""
        snap = self.app.last_snapshot
        return next((c for c in snap.categories if c.name == name), None) if snap else None

    def edit_priority(self) -> None:
        app = self.app
        if (cat := app.selected_category()) is not None:
            shown = self.shown(cat)
            form = priority_form(cat, shown.priority if shown else None)
            app.push_screen(
                form,
                partial(
                    self.form_done, f"Priority of {cat}", partial(app.source.set_priority, cat)
                ),
            )

    def edit_limit(self) -> None:
        app = self.app
        if (cat := app.selected_category()) is not None:
            shown = self.shown(cat)
            form = limit_form(cat, shown.limit if shown else None)
            set_rate = partial(app.source.set_rate, cat)
            app.push_screen(
                form,
                partial(self.form_done, f"Rate limit of {cat}", lambda value: set_rate(*value)),
            )

    def pin(self) -> None:
        app = self.app
        if (cat := app.selected_category()) is not None:
            shown = self.shown(cat)
            form = pin_form(cat, shown.pinned if shown else None)
            app.push_screen(
                form, partial(self.form_done, f"Pin {cat}", partial(app.source.pin, cat))
            )

    def form_done(self, label: str, apply: Callable[[Any], Any], answer: tuple[Any] | None) -> None:
        """A category form closed: apply what it answered (escape answers None)."""
        app = self.app
        if answer == UNCHANGED:
            app.say(f"{label}: unchanged")
        elif answer is not None:
            app.ops.submit(label, partial(apply, answer[0]), lambda _: app.say(f"{label}: applied"))

    # --- pause and resume -------------------------------------------------------------
    def toggle_pause(self) -> None:
        """Resume at once; pausing asks first (the category's workers stop taking tasks)."""
        if (cat := self.app.selected_category()) is None:
            return
        shown = self.shown(cat)
        if shown is not None and shown.paused:
            self.set_paused(cat, False)
            return
        waiting = fmt.counted(shown.queued, "queued task") if shown else "its queued tasks"
        question = (
            f"Pause {cat}? Its workers finish what they run and take no new task "
            f"({waiting} wait{'s' if shown and shown.queued == 1 else ''})."
        )
        self.app.confirm(f"Pause {cat}", question, partial(self.set_paused, cat, True), "Pause")

    def set_paused(self, cat: str, paused: bool) -> None:
        app = self.app
        app.ops.submit(
            f"Pause {cat}",
            partial(app.source.set_paused, cat, paused),
            lambda _: app.say(f"{cat} {'paused' if paused else 'resumed'}"),
        )

    # --- the balancer -----------------------------------------------------------------
    def rebalance(self) -> None:
        """Run the balancer; its decision is reported when the next snapshot shows it."""
        app = self.app
        snap = app.last_snapshot
        latest = snap.decisions[0].get("at") if snap and snap.decisions else None
        # A node that shares the store picks the request up within a balancer interval.
        wait = app.source.config.balance_interval + (app.refresh_interval or 0)
        self._awaited_decision = (float(latest or 0), app.clock.monotonic() + wait)
        app.ops.submit("Rebalance", app.source.rebalance, lambda _: app.say("Rebalance requested"))

    def report_decision(self, snap: Snapshot) -> None:
        """After `b`: say what the balancer decided once its decision shows up, or that it
        kept every target (the balancer records no decision when nothing changes)."""
        if self._awaited_decision is None:
            return
        after, deadline = self._awaited_decision
        newest = snap.decisions[0] if snap.decisions else None
        if newest is not None and float(newest.get("at") or 0) > after:
            self._awaited_decision = None
            changes = "; ".join(newest.get("changes") or []) or "no change"
            self.app.say(f"Balancer: {changes}")
        elif self.app.clock.monotonic() >= deadline:
            self._awaited_decision = None
            targets = " ".join(f"{c.name}={c.workers}" for c in snap.categories)
            self.app.say(f"Balancer: no change, the targets stay {targets}")
