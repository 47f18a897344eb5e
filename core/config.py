"""Scheduler and category configuration: frozen dataclasses with ``validate()``.

Loading TOML, environment and flags happens in ``console``; this module only says what a
valid configuration is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import ConfigError, InvalidInputError, InvalidNameError, PriorityError
from .limits import HandlerLimit, RateLimit, parse_rate

#: The largest result a handler may return, as JSON bytes (the payload limit's size).
MAX_RESULT_BYTES = 1024 * 1024

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
KINDS = ("fire-and-forget", "request-response")
MAX_BUDGET = 512


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid category or handler name, else raise."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidNameError(
            f"invalid {kind} name",
            name,
            "names are 1 to 64 characters of letters, digits, '_', '.' and '-'",
            "Rename it, e.g. 'email' or 'web.fetch'",
        )
    return name


def check_priority(value: object, category: str = "") -> float:
    """A priority weight is a finite number above zero (bools and text are refused)."""
    where = f"priority of category {category!r}" if category else "priority"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise PriorityError(
                    where, value, "not a number", "Use a number above 0, e.g. 2"
                ) from None
            return check_priority(number, category)
        raise PriorityError(where, value, "not a number", "Use a number above 0, e.g. 2")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise PriorityError(where, value, "must be finite", "Use a number above 0, e.g. 2")
    if number <= 0:
        raise PriorityError(
            where,
            value,
            "must be above 0",
            "Use a number above 0, e.g. 2; pause the category to stop it",
        )
    return number


#: The most attempts a task may have (a category's, a handler's or one submit's).
MAX_ATTEMPTS = 1000


def check_int(what: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(what, value, "must be a whole number", f"Use a whole number >= {low}")
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(what, value, f"must be in {span}", f"Use a value in {span}")
    return value


#: The longest duration any setting or call accepts: ten years. Every delay, timeout,
#: interval and grace period is checked against it where it enters, so that no deadline
#: computed from it overflows a clock or a wait (a thread's wait accepts at most
#: ``threading.TIMEOUT_MAX``).
MAX_SECONDS = 10 * 365 * 24 * 3600.0


def check_seconds(
    what: str,
    value: object,
    *,
    allow_none: bool = False,
    allow_zero: bool = False,
    error: type[InvalidInputError] = ConfigError,
) -> float | None:
    """A duration in seconds: a finite number above 0 (or 0 with ``allow_zero``) and at
    most :data:`MAX_SECONDS`; None only with ``allow_none``. Raises ``error`` naming
    ``what``, the value and the bound."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(what, value, "is not a number of seconds", "Use e.g. 2.0")
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond any float: far more than the bound
        seconds = 2 * MAX_SECONDS
    if math.isnan(seconds) or seconds == -math.inf:
        raise error(what, value, "must be a finite number of seconds", "Use e.g. 2.0")
    if seconds > MAX_SECONDS:
        raise error(
            what,
            value,
            f"is more than ten years (the bound is {MAX_SECONDS:,.0f} s)",
            "Use a shorter duration",
        )
    if seconds < 0:
        raise error(what, value, "must not be negative", "Use e.g. 2.0")
    if seconds == 0 and not allow_zero:
        raise error(what, value, "must be above 0", "Use e.g. 2.0")
    return seconds


def _check_seconds(
    what: str, value: object, allow_none: bool = False, allow_zero: bool = False
) -> None:
    check_seconds(what, value, allow_none=allow_none, allow_zero=allow_zero)


@dataclass(frozen=True)
class CategoryConfig:
    """One lane of work. ``max_workers=None`` means "up to the whole budget"."""

    kind: str = "fire-and-forget"
    priority: float = 1.0
    min_workers: int = 0
    max_workers: int | None = None
    max_attempts: int = 3
    timeout: float | None = None
    #: How fast its tasks may start, on every node together: "20/s", "90/min", "1000/h"
    #: (None: no limit), with at most ``burst`` at once (default 1). See core/limits.py.
    rate: str | None = None
    burst: int | None = None

    def validate(self, name: str = "", budget: int = MAX_BUDGET) -> CategoryConfig:
        where = f"category {name!r}: " if name else ""
        if self.kind not in KINDS:
            raise ConfigError(
                f"{where}unknown kind",
                self.kind,
                f"kinds are {', '.join(KINDS)}",
                "Pick one of them",
            )
        check_priority(self.priority, name)
        check_int(f"{where}min_workers", self.min_workers, 0, budget)
        if self.max_workers is not None:
            check_int(f"{where}max_workers", self.max_workers, max(1, self.min_workers), MAX_BUDGET)
        check_int(f"{where}max_attempts", self.max_attempts, 1, MAX_ATTEMPTS)
        _check_seconds(f"{where}timeout", self.timeout, allow_none=True)
        parse_rate(self.rate, self.burst, f"{where}rate")
        return self

    def rate_limit(self) -> RateLimit | None:
        """The category's rate limit, or None (validated: see :meth:`validate`)."""
        return parse_rate(self.rate, self.burst)

    def cap(self, budget: int) -> int:
        return budget if self.max_workers is None else min(self.max_workers, budget)


def _default_retention() -> dict[str, str | int]:
    # Imported here: core.retention needs core.task, which imports this module.
    from .retention import DEFAULT_RETENTION

    return dict(DEFAULT_RETENTION)


def _default_history() -> str:
    from .retention import DEFAULT_HISTORY  # see _default_retention

    return DEFAULT_HISTORY


@dataclass(frozen=True)
class SchedulerConfig:
    """The node's whole configuration. ``workers`` is the thread budget."""

    workers: int = 8
    categories: Mapping[str, CategoryConfig] = field(default_factory=dict)
    balance_interval: float = 2.0
    cooldown: float = 6.0
    handlers: tuple[str, ...] = ()
    poll_interval: float = 0.1  # how soon other processes' writes are seen (<= 250 ms promised)
    grace_period: float = 10.0
    #: The most claimed tasks that wait per worker in a category's FIFO (fewer when the
    #: category's tasks are long: the node keeps about 10 ms of work per worker).
    prefetch: int = 64
    retry_base: float = 1.0
    retry_max: float = 300.0
    heartbeat_interval: float = 2.0
    #: Group commit: while outcomes stream in (the previous batch was written less than
    #: this long ago), the completer waits up to this long for more before writing, so
    #: one transaction carries many outcomes. Delays result() by at most this much, and
    #: only under load; 0 writes each outcome as soon as it arrives.
    commit_linger: float = 0.002
    #: How long finished tasks are kept, per state (see ``core/retention.py``): a
    #: duration (``"7d"``), a count of the newest to keep (``10000``) or ``"forever"``.
    #: States left out keep their defaults.
    retention: Mapping[str, str | int] = field(default_factory=_default_retention)
    #: How long the history by the minute (``core/history.py``) is kept: a duration of at
    #: least an hour (``"48h"``, ``"7d"``) or ``"forever"`` (``retention.history``).
    history_retention: str = field(default_factory=_default_history)
    #: A handler's result larger than this (as JSON bytes) is not stored: the task fails
    #: with reason ``result_too_large``.
    max_result_bytes: int = MAX_RESULT_BYTES
    #: handler name -> its rate limit (``[handlers.NAME]``), over the one it registers
    handler_limits: Mapping[str, HandlerLimit] = field(default_factory=dict)
    #: Recurring schedules (``core.schedule_spec.ScheduleSpec``), checked against the
    #: handlers when a client is built.
    schedules: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        # Freeze the mappings so a config cannot change under a running scheduler.
        object.__setattr__(self, "categories", MappingProxyType(dict(self.categories)))
        object.__setattr__(self, "retention", MappingProxyType(dict(self.retention)))
        object.__setattr__(self, "handlers", tuple(self.handlers))
        object.__setattr__(self, "handler_limits", MappingProxyType(dict(self.handler_limits)))
        object.__setattr__(self, "schedules", tuple(self.schedules))

    def validate(self) -> SchedulerConfig:
        check_int("workers (the thread budget)", self.workers, 1, MAX_BUDGET)
        if not self.categories:
            raise ConfigError(
                "categories",
                "{}",
                "at least one category is needed",
                "Add a [categories.NAME] table",
            )
        for name, cat in self.categories.items():
            check_name("category", name)
            if not isinstance(cat, CategoryConfig):
                raise ConfigError(
                    f"category {name!r}",
                    cat,
                    "is not a CategoryConfig",
                    "Build it with CategoryConfig(...)",
                )
            cat.validate(name, self.workers)
        check_capacity(self.workers, self.categories, {})
        _check_seconds("balance_interval", self.balance_interval)
        _check_seconds("cooldown", self.cooldown, allow_zero=True)
        _check_seconds("poll_interval", self.poll_interval)
        _check_seconds("grace_period", self.grace_period, allow_zero=True)
        _check_seconds("retry_base", self.retry_base)
        _check_seconds("retry_max", self.retry_max)
        _check_seconds("heartbeat_interval", self.heartbeat_interval)
        check_int("prefetch", self.prefetch, 0, 100)
        _check_seconds("commit_linger", self.commit_linger, allow_zero=True)
        if self.commit_linger > 0.1:
            raise ConfigError(
                "commit_linger",
                self.commit_linger,
                "must be at most 0.1 s (it delays every result under load)",
                "Use e.g. 0.001",
            )
        check_retention(self.retention, self.history_retention)
        check_int("max_result_bytes", self.max_result_bytes, 1, 1024 * MAX_RESULT_BYTES)
        check_handler_limits(self.handler_limits)
        for module in self.handlers:
            if not isinstance(module, str) or not module:
                raise ConfigError(
                    "handlers module",
                    module,
                    "must be a module name",
                    "Use e.g. 'jobsched.demo.handlers'",
                )
        return self


def check_retention(rules: Mapping[str, str | int], history: object) -> None:
    """The retention rules per finished state and the history's (see core/retention.py)."""
    from .retention import parse_history, parse_rules  # see _default_retention

    parse_rules(rules)
    parse_history(history)


def check_handler_limits(limits: Mapping[str, HandlerLimit]) -> None:
    """Every ``[handlers.NAME]`` limit: a valid handler name and a rate that parses."""
    for name, limit in limits.items():
        check_name("handler", name)
        parse_rate(limit.rate, limit.burst, f"handlers.{name}.rate")


def check_capacity(
    budget: int, categories: Mapping[str, CategoryConfig], pins: Mapping[str, int]
) -> None:
    """Raise unless minimums, pins and maximums can split exactly ``budget`` workers."""
    floor = 0
    ceiling = 0
    for name, cat in categories.items():
        if name in pins:
            floor += pins[name]
            ceiling += pins[name]
        else:
            floor += cat.min_workers
            ceiling += cat.cap(budget)
    if floor > budget:
        raise ConfigError(
            "sum of minimum and pinned workers",
            floor,
            f"is above the budget of {budget} workers",
            "Lower min_workers or pins, or raise workers",
        )
    if ceiling < budget:
        raise ConfigError(
            "sum of maximum and pinned workers",
            ceiling,
            f"is below the budget of {budget} workers, so some workers could never be used",
            "Raise max_workers, unpin a category, or lower workers",
        )
