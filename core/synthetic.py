"""Synthetic jobs that operators inject to watch the scheduler work (CLI ``inject``, the
console's inject keys). Registered on every scheduler and client under ``jobsched.synthetic``.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from .errors import ConfigError
from .handlers import HandlerSpec, current_task

NAME = "jobsched.synthetic"
_never = threading.Event()


class SyntheticFailure(Exception):
    """Raised on purpose by a synthetic job (its ``fail_rate``)."""


def run(payload: Any) -> dict[str, Any]:
    """Wait ``duration_ms`` (waking early if cancelled), then fail with ``fail_rate``."""
    duration = max(0.0, float(payload.get("duration_ms", 0))) / 1000.0
    fail_rate = float(payload.get("fail_rate", 0.0))
    task = current_task()
    if duration:
        _never.wait(duration)
    if task.cancelled:
        raise SyntheticFailure("cancelled while running")
    if fail_rate > 0 and random.random() < fail_rate:
        raise SyntheticFailure(f"failed on purpose (fail_rate {fail_rate:g})")
    return {"slept_ms": round(duration * 1000, 3), "attempt": task.attempt}


def checked_payload(count: object, duration_ms: object, fail_rate: object) -> dict[str, Any]:
    """The payload of ``count`` injected jobs, each input checked (ConfigError naming it)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1_000_000:
        raise ConfigError(
            "count", count, "must be a whole number from 1 to 1,000,000", "Use e.g. 100"
        )
    if not isinstance(duration_ms, (int, float)) or not 0 <= duration_ms <= 3_600_000:
        raise ConfigError("duration_ms", duration_ms, "must be 0 to 3,600,000 ms", "Use e.g. 50")
    if not isinstance(fail_rate, (int, float)) or not 0 <= fail_rate <= 1:
        raise ConfigError("fail_rate", fail_rate, "must be between 0 and 1", "Use e.g. 0.1")
    return {"duration_ms": duration_ms, "fail_rate": fail_rate}


def spec(category: str) -> HandlerSpec:
    return HandlerSpec(NAME, run, category, module=__name__)
