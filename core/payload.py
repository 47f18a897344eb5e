"""Submit-time validation of payloads and schedules."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from .errors import PayloadError, ScheduleError

MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_DELAY = 10 * 365 * 24 * 3600.0  # ten years: anything longer is a mistake


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
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(
                "payload value at",
                path,
                f"{value!r} is not valid JSON",
                "Use a finite number or null",
            )
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
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise ScheduleError("delay", delay, "is not a number of seconds", "Use e.g. 5 or 0.5")
    if not math.isfinite(delay):
        raise ScheduleError("delay", delay, "must be finite", "Use e.g. 5 or 0.5")
    if delay < 0:
        raise ScheduleError("delay", delay, "must not be negative", "Use 0 to run now")
    if delay > MAX_DELAY:
        raise ScheduleError("delay", delay, "is more than ten years", "Use a shorter delay")
    return now + float(delay)
