"""Handlers for crash tests: every execution appends one line to an append-only log.

The log is the ground truth the checker trusts instead of the database. Each record is
one ``write`` with O_APPEND, so the file's line order is the order in which things
happened, across every node process writing to it:

- ``<task id> <attempt> S <pid>`` when a handler starts running,
- ``<task id> <attempt> F <pid>`` when the run fails on purpose (an injected failure),
- ``<task id> <attempt> E <pid>`` when the handler returns or raises,
- ``K <pid>`` written by the test harness after it killed (and reaped) that process.

A payload's ``ms`` makes the run last that long; its ``gate`` (a path) makes it last
until the test creates that file.

Two runs of one task overlap when a start comes between another run's start and its end
(or its process's kill record): the checker reports those (``overlaps``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from jobsched.core import current_task, handler

_fd: int | None = None
_lock = threading.Lock()
_pause = threading.Event()


def _log_fd() -> int:
    global _fd
    with _lock:
        if _fd is None:
            _fd = os.open(os.environ["CRASHKIT_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return _fd


def record(failed: bool = False, kind: str = "S") -> None:
    """Append a start record (``kind`` S), an end (E), or with ``failed`` a failure (F)."""
    task = current_task()
    kind = "F" if failed else kind
    os.write(_log_fd(), f"{task.id} {task.attempt} {kind} {os.getpid()}\n".encode())


class InjectedFailure(Exception):
    """A failure the soak workload asks for (``fail_rate`` in the payload)."""


def _wait_for_file(path: str, timeout: float = 120.0) -> None:
    """Run until the test creates ``path`` (a gate it opens from another process), at most
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        _pause.wait(0.01)  # polling a file another process creates, bounded by the deadline


@handler("a.work", category="a")
def work_a(payload: Any) -> int:
    record()
    try:
        ms = float(payload.get("ms", 0))
        if ms:
            _pause.wait(ms / 1000)
        gate = payload.get("gate")
        if gate:
            _wait_for_file(str(gate))
        rate = float(payload.get("fail_rate", 0))
        if rate:
            task = current_task()
            # Deterministic per (task, attempt), so a rerun of the soak fails the same way.
            if (task.id * 7919 + task.attempt * 104729) % 1000 < rate * 1000:
                record(failed=True)
                raise InjectedFailure(f"injected failure, attempt {task.attempt}")
        return int(payload.get("n", 0))
    finally:
        record(kind="E")


@handler("b.work", category="b")
def work_b(payload: Any) -> int:
    return work_a(payload)


@handler("a.suicide", category="a", max_attempts=3)
def suicide(payload: Any) -> None:
    """A poison task: kills its own process every time it runs."""
    record()
    os.kill(os.getpid(), 9)
