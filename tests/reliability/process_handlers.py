"""Handlers for the node-process tests (``jobsched run`` children); their config lists
this module under ``handlers``. Each writes what it did to files named in its payload, so
the test reads facts instead of guessing from timing."""

from __future__ import annotations

import os
import threading
from typing import Any

from jobsched.core import current_task, handler

_never = threading.Event()


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


@handler("a.hold", category="a", max_attempts=1)
def hold(payload: dict[str, Any]) -> None:
    """Note the start, then run until ``seconds`` pass or the task is cancelled."""
    task = current_task()
    _append(payload["log"], f"start {task.id}")
    waited = 0.0
    while waited < float(payload.get("seconds", 60)) and not task.cancelled:
        _never.wait(0.05)
        waited += 0.05


@handler("a.fork", category="a", max_attempts=1)
def fork(payload: dict[str, Any]) -> None:
    """Fork a child that outlives this process (it sleeps ``seconds``); its pid goes to
    ``payload["pids"]``. The parent then holds, like ``a.hold``."""
    pid = os.fork()
    if pid == 0:  # the child: no Python cleanup, no threads of the parent
        try:
            _append(payload["pids"], str(os.getpid()))
            _never.wait(float(payload.get("seconds", 60)))
        finally:
            os._exit(0)
    hold(payload)


@handler("b.linger", category="b", max_attempts=1)
def linger(payload: dict[str, Any]) -> None:
    """Leave a non-daemon thread behind that runs for ``seconds`` and returns."""
    seconds = float(payload.get("seconds", 120))
    # daemon=False: a thread inherits the daemon flag of its (daemon) worker thread
    threading.Thread(target=_never.wait, args=(seconds,), name="left-behind", daemon=False).start()


@handler("b.quick", category="b", max_attempts=1)
def quick(payload: Any) -> Any:
    return payload
