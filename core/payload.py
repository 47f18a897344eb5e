"""Submit-time validation of payloads and schedules."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from .config import MAX_SECONDS, check_seconds
from .errors import InvalidInputError, PayloadError, ScheduleError, TaskPriorityError

MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_DELAY = MAX_SECONDS  # ten years: anything longer is a mistake
#: Whole numbers in a payload fit a signed 64-bit integer, as JSON readers elsewhere
#: (and a JSON column) expect; a larger one is passed as a string.
MAX_INT = 2**63 - 1
#: The keyword options of one submit.
SUBMIT_OPTIONS = (
    "category", "delay", "run_at", "key", "max_attempts", "timeout", "priority",
)  # fmt: skip
#: A task's priority within its category: 0 to 9, higher claimed first; 0 by default.
MIN_TASK_PRIORITY, MAX_TASK_PRIORITY = 0, 9
#: The longest dedup key, in characters.
MAX_KEY_CHARS = 200


def encode_payload(value: Any) -> str:
    """Return the payload's JSON text, or raise naming the JSON path of the bad value.

    Only values that survive a JSON round trip unchanged are accepted: dicts with string
    keys, lists, strings, finite numbers, booleans and None.
    """
    if value is None:  # the most common payload of all: no walk, no encoder
        return "null"
    _check(value, "$", 0)
    text = _dumps(value)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise PayloadError(
            "payload text",
            repr(exc.object[exc.start : exc.end]),
            "is not valid Unicode (a lone surrogate)",
            "Encode binary data, e.g. as base64",
        ) from None
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            "payload",
            f"of {size:,} bytes",
            f"is over the limit of {MAX_PAYLOAD_BYTES:,} bytes",
            "Store large data elsewhere and pass a reference (a path or URL)",
        )
    return text


# One encoder for every payload: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PayloadError(
            "payload",
            f"at {path}",
            f"is nested deeper than {MAX_DEPTH} levels",
            "Flatten the structure",
        )
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, (int, float)):
        _check_number(value, path)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(
                    "payload key at",
                    f"{path}[{key!r}]",
                    f"key of type {type(key).__name__} would become a string in JSON",
                    "Use string keys",
                )
            _check(item, f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]", depth + 1)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, tuple):
        raise PayloadError(
            "payload value at", path, "a tuple would come back as a list", "Pass a list instead"
        )
    raise PayloadError(
        "payload value at",
        path,
        f"{type(value).__name__} is not JSON",
        "Use dicts, lists, strings, numbers, booleans or None",
    )


def _check_number(value: int | float, path: str) -> None:
    if isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
        raise PayloadError(
            "payload value at",
            path,
            "is a whole number outside the signed 64-bit range",
            "Pass it as a string",
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadError(
            "payload value at", path, f"{value!r} is not valid JSON", "Use a finite number or null"
        )


def resolve_run_at(now: float, delay: object = 0, run_at: object = None) -> float:
    """Turn ``delay`` seconds or an aware ``run_at`` datetime into an epoch time.

    A ``run_at`` in the past means "now".
    """
    if run_at is not None:
        if delay not in (0, 0.0, None):
            raise ScheduleError(
                "delay", delay, "cannot be combined with run_at", "Pass one of them"
            )
        if not isinstance(run_at, dt.datetime):
            raise ScheduleError("run_at", run_at, "is not a datetime", "Pass an aware datetime")
        if run_at.tzinfo is None or run_at.utcoffset() is None:
            raise ScheduleError(
                "run_at",
                run_at.isoformat(),
                "is a naive datetime",
                "Give it a timezone, e.g. tzinfo=UTC",
            )
        when = run_at.timestamp()
        if when - now > MAX_DELAY:
            raise ScheduleError(
                "run_at", run_at.isoformat(), "is more than ten years ahead", "Check the date"
            )
        return max(now, when)
    if delay is None:
        return now
    seconds = check_seconds("delay", delay, allow_zero=True, error=ScheduleError)
    assert seconds is not None
    return now + seconds


def check_dedup_key(key: object) -> str | None:
    """A dedup key is None or a string of 1 to MAX_KEY_CHARS characters that is valid
    Unicode (a lone surrogate cannot be stored)."""
    if key is None:
        return None
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
        raise InvalidInputError(
            "dedup key",
            key,
            f"must be a string of 1 to {MAX_KEY_CHARS} characters",
            "Use e.g. 'fetch:https://...'",
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            "dedup key",
            key,
            "is not valid Unicode (it holds a lone surrogate)",
            "Use text that encodes as UTF-8, e.g. a hex digest",
        ) from None
    return key


def check_task_priority(value: object) -> int:
    """A task's priority: a whole number from 0 to 9 (bools, floats and text refused)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_TASK_PRIORITY <= value <= MAX_TASK_PRIORITY
    ):
        raise TaskPriorityError(
            "task priority",
            value,
            f"must be a whole number from {MIN_TASK_PRIORITY} to {MAX_TASK_PRIORITY}",
            "Use e.g. priority=9 to run it before the category's waiting tasks (0: default)",
        )
    return value


def check_submit_item(item: object, index: int) -> None:
    """One ``submit_many`` item: ``(handler, payload)`` or ``(handler, payload, options)``
    with a string handler and a mapping of options. Raises naming the item's index."""
    where = f"submit_many item {index}"
    if not isinstance(item, tuple | list) or len(item) not in (2, 3):
        raise InvalidInputError(
            where,
            item,
            "is not a (handler, payload) or (handler, payload, options) tuple",
            "Pass e.g. ('email.send', {'to': 'a@b.c'})",
        )
    if not isinstance(item[0], str):
        raise InvalidInputError(
            f"{where}: handler", item[0], "is not a string", "Pass the handler's name first"
        )
    if len(item) == 3:
        options = item[2]
        if not isinstance(options, Mapping):
            raise InvalidInputError(
                f"{where}: options",
                options,
                "is not a mapping",
                "Pass submit options as a dict, e.g. {'delay': 5}",
            )
        unknown = sorted(str(k) for k in options if k not in SUBMIT_OPTIONS)
        if unknown:
            raise InvalidInputError(
                f"{where}: option",
                unknown[0],
                "is not a submit option",
                f"Use some of: {', '.join(SUBMIT_OPTIONS)}",
            )


def check_task_id(task_id: object) -> int:
    """A task id as the store knows them: a whole number from 1 to 2**63 - 1."""
    if isinstance(task_id, bool) or not isinstance(task_id, int) or not 1 <= task_id <= MAX_INT:
        raise InvalidInputError(
            "task id",
            task_id,
            f"is not a task id (ids are whole numbers from 1 to {MAX_INT})",
            "Pass the id that submit() returned",
        )
    return task_id
