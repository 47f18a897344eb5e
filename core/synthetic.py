"""Synthetic jobs that operators inject to watch the scheduler work (CLI ``inject``, the
console's inject keys). Registered on every scheduler and client under ``jobsched.synthetic``.
"""

from __future__ import annotations

import random
import threading
from typing import Any

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


def spec(category: str) -> HandlerSpec:
    return HandlerSpec(NAME, run, category, module=__name__)
