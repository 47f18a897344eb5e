"""A one-value form: validated on submit, with the error shown inline; nothing is
applied until the value is valid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobsched.core.config import check_priority
from jobsched.core.errors import ConfigError, JobschedError
from jobsched.core.limits import NO_LIMIT, parse_rate
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from ..escape import visible
from .typeahead import InputScreen

#: What a form dismisses with when enter is pressed on the value it opened with.
UNCHANGED = ("unchanged",)


class ValueForm(InputScreen[Any]):
    """Dismisses with ``(parse(text),)``, with :data:`UNCHANGED` when the text is still the
    one it opened with (empty too, where empty is a value: no pin, no rate limit), or None
    on escape (nothing changes). Keys typed in the burst of the key that opened it land in its
    input (:class:`InputScreen`).

    ``parse`` raises :class:`JobschedError` or ``ValueError`` for bad input.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=True)]

    def __init__(
        self, title: str, prompt: str, value: str, parse: Callable[[str], Any], hint: str = ""
    ) -> None:
        super().__init__()
        self.form_title = title
        self.prompt = prompt
        self.initial = value
        self.parse = parse
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box", classes="dialog") as box:
            box.border_title = self.form_title
            box.border_subtitle = "enter to apply · esc to cancel"
            yield Label(Text(self.prompt))
            field = Input(self.initial, id="form-input")
            field.cursor_blink = False
            yield field
            yield Static("", id="form-error")
            yield Static(Text(self.hint, style="dim"), id="form-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        unchanged = event.value.strip() == self.initial.strip()
        if unchanged and self.initial.strip():
            self.dismiss(UNCHANGED)
            return
        try:
            value = self.parse(event.value)
        except (JobschedError, ValueError) as exc:
            self.show_error(str(exc))  # e.g. no task id typed into the go-to form
            return
        # Left empty: unchanged where empty is a value (no pin, no rate limit).
        self.dismiss(UNCHANGED if unchanged else (value,))

    def show_error(self, message: str) -> None:
        message = visible(message)
        self.query_one("#form-error", Static).update(Text(message, style="bold red"))
        self.notify(message, title="Not applied", severity="error", timeout=10, markup=False)


def parse_pin(text: str) -> int | None:
    """A worker count, or None (unpin) for an empty answer."""
    value = text.strip().lower()
    if value in ("", "none", "unpin", "auto"):
        return None
    if not value.isdigit():
        raise ConfigError(
            "pin", text, "must be a whole number >= 0, or empty to unpin", "Use e.g. 2"
        )
    return int(value)


def priority_form(category: str, current: float | None) -> ValueForm:
    return ValueForm(
        f"Priority of {category}",
        "Weight, a number above 0:",
        "" if current is None else f"{current:.4g}",
        lambda text: check_priority(text.strip(), category),
        "Demand is weighted by it when the balancer shares the workers.",
    )


def pin_form(category: str, pinned: int | None) -> ValueForm:
    return ValueForm(
        f"Pin the workers of {category}",
        "Worker threads (empty to unpin):",
        "" if pinned is None else str(pinned),
        parse_pin,
        "The balancer then gives this category exactly this many workers.",
    )


def parse_limit(text: str) -> tuple[str | None, int | None]:
    """``20/s``, ``20/s burst 5`` or ``none`` (empty: none) as ``(rate, burst)``,
    checked as ``jobsched limit`` checks them."""
    words = text.strip().lower().split()
    if not words or words == [NO_LIMIT]:
        return None, None
    if len(words) == 3 and words[1] == "burst" and words[2].isdigit():
        rate, burst = words[0], int(words[2])
    elif len(words) == 1:
        rate, burst = words[0], None
    else:
        raise ConfigError(
            "rate limit", text, "is not RATE or RATE burst N", "Use e.g. 20/s burst 5"
        )
    parse_rate(rate, burst)
    return rate, burst


def limit_form(category: str, current: str | None) -> ValueForm:
    return ValueForm(
        f"Rate limit of {category}",
        "Rate, e.g. 20/s, 90/min, 1000/h, optionally 'burst N' (empty or none: no limit):",
        current or "",
        parse_limit,
        "Its tasks start no faster than this, on every node of the store together.",
    )


def parse_task_id(text: str) -> int:
    value = text.strip().lstrip("#")
    if not value.isdigit() or int(value) < 1 or int(value) > 2**63 - 1:
        raise ConfigError("task id", text, "must be a whole number from 1", "Use e.g. 12345")
    return int(value)


def goto_form() -> ValueForm:
    return ValueForm(
        "Go to a task",
        "Task id:",
        "",
        parse_task_id,
        "The task list then starts at this task (within the current filter).",
    )
