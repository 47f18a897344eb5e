"""Handlers for the CLI tests; the tests' config lists this module under ``handlers``.

``a.append`` writes ``start <id>`` and ``done <id>`` lines to the file named in its
payload, so a test can tell whether any task ran twice.
"""

from __future__ import annotations

import threading
from typing import Any

from jobsched.core import current_task, handler

_never = threading.Event()


def _log(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()


@handler("a.append", category="a", max_attempts=3)
def append(payload: dict[str, Any]) -> dict[str, Any]:
    task = current_task()
    _log(payload["path"], f"start {task.id}")
    waited = 0.0
    seconds = float(payload.get("sleep", 0))
    while waited < seconds and not task.cancelled:  # wakes early when cancelled
        _never.wait(min(0.05, seconds - waited))
        waited += 0.05
    _log(payload["path"], f"done {task.id}")
    return {"id": task.id}


@handler("a.fail", category="a", max_attempts=1)
def fail(payload: Any) -> None:
    raise RuntimeError("failed on purpose")


@handler("b.echo", category="b")
def echo(payload: Any) -> Any:
    return payload
