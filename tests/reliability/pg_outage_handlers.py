"""Handlers for the PostgreSQL outage tests (the tests' config lists this module).

``a.gate`` writes ``start <id>`` to the file named in its payload, waits until the file
named ``gate`` exists (at most 60 s, or until cancelled), then writes ``done <id>``: a
test holds tasks running for as long as it needs, and counts runs and completions.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from jobsched.core import current_task, handler

_never = threading.Event()


def _log(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


@handler("a.gate", category="a", max_attempts=5)
def gate(payload: dict[str, Any]) -> dict[str, Any]:
    task = current_task()
    _log(payload["log"], f"start {task.id}")
    for _ in range(1200):
        if os.path.exists(payload["gate"]) or task.cancelled:
            break
        _never.wait(0.05)
    _log(payload["log"], f"done {task.id}")
    return {"id": task.id}
