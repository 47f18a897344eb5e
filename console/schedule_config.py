"""The ``[[schedules]]`` tables of the TOML configuration, as schedule specs.

Each entry names a schedule, its handler, and either ``cron`` (five fields, or six with
seconds first) or ``every`` (``"30s"``, ``"5m"``...). A spec that does not parse, or a key
this loader does not know, is a ConfigError naming the schedule; a handler or category
that is not registered is refused when the client is built (see core/schedule_book).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobsched.core import ConfigError
from jobsched.core.schedule_spec import MissedPolicy, ScheduleSpec, build_trigger


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_duration(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, int | float) and not isinstance(value, bool)
    )


def _any(value: object) -> bool:
    return True


#: A [[schedules]] key's expected type: (label for messages, checker).
SCHEDULE_KEYS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "name": ("a string", _is_str),
    "handler": ("a string", _is_str),
    "payload": ("any TOML value", _any),
    "cron": ("a string", _is_str),
    "every": ('a duration ("30s") or seconds', _is_duration),
    "timezone": ("a string", _is_str),
    "key": ("a string", _is_str),
    "missed": ("a string", _is_str),
    "catch_up": ("a string", _is_str),
    "max_catch_up": ("a whole number", _is_int),
    "grace": ("a number", lambda v: _is_duration(v) and not isinstance(v, str)),
}


def schedules_from(entries: object, source: str) -> tuple[ScheduleSpec, ...]:
    """The ``schedules`` array of tables, checked key by key."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(
            f"{source}: key schedules", entries, "must be an array of tables",
            "Write each schedule as a [[schedules]] table",
        )  # fmt: skip
    return tuple(_spec(index, entry, source) for index, entry in enumerate(entries))


def _spec(index: int, entry: dict[str, Any], source: str) -> ScheduleSpec:
    name = entry.get("name")
    label = f"schedules[{index}]" if not isinstance(name, str) else f"schedule {name!r}"
    for key, value in entry.items():
        check = SCHEDULE_KEYS.get(key)
        if check is None:
            raise ConfigError(
                f"{source}: {label}: unknown key", key, "is not a schedule setting",
                f"Known keys: {', '.join(SCHEDULE_KEYS)}",
            )  # fmt: skip
        if not check[1](value):
            raise ConfigError(f"{source}: {label}: {key}", value, f"must be {check[0]}", "")
    for required in ("name", "handler"):
        if required not in entry:
            raise ConfigError(f"{source}: {label}", None, f"needs a {required}", "")
    try:
        policy = MissedPolicy(
            entry.get("missed", "skip"), entry.get("catch_up", "latest"),
            entry.get("max_catch_up", 100), float(entry.get("grace", 60.0)),
        )  # fmt: skip
        trigger = build_trigger(
            entry["name"], entry.get("cron"), entry.get("every"), entry.get("timezone", "UTC")
        )
        spec = ScheduleSpec(
            entry["name"], entry["handler"], trigger, entry.get("payload"), entry.get("key"),
            policy,
        )  # fmt: skip
        return spec.validate()
    except ConfigError as exc:
        what = exc.what if exc.what.startswith("schedule") else f"{label}: {exc.what}"
        raise ConfigError(f"{source}: {what}", exc.value, exc.why, exc.hint) from None
