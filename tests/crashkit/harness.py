"""Start, watch and kill crash-test nodes in real child processes."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

from jobsched.core import Client
from jobsched.storage import open_store

from .node import CONFIG

ROOT = Path(__file__).resolve().parents[2]


def submit(db: Path | str, count: int, seed_ms: list[float]) -> list[int]:
    """Acknowledge ``count`` tasks alternating between categories a and b."""
    store = open_store(db)
    store.open(None)
    try:
        client = Client(CONFIG, store)
        items = [
            ("a.work" if n % 2 else "b.work", {"n": n, "ms": seed_ms[n % len(seed_ms)]})
            for n in range(count)
        ]
        return client.submit_many(items)
    finally:
        store.close()


def spawn(db: Path | str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CRASHKIT_LOG=str(log), PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crashkit.node", str(db), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_ready(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Block until the child prints ``ready`` (or fail with its stderr)."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                line = proc.stdout.readline()
                if line.strip() == b"ready":
                    return
                if not line:
                    break
        err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
        raise AssertionError(f"node did not become ready (exit {proc.poll()}): {err[-2000:]}")
    finally:
        sel.close()


def log_lines(log: Path) -> int:
    try:
        with log.open("rb") as fh:
            return fh.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for_executions(
    log: Path, target: int, proc: subprocess.Popen[bytes], timeout: float = 30.0
) -> bool:
    """Poll the execution log until it has ``target`` lines; False if the node exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_lines(log) >= target:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)  # polling a file the child appends to, bounded by the deadline
    raise AssertionError(f"no progress: {log_lines(log)} executions, wanted {target}")


def mark_killed(log: Path, pid: int) -> None:
    """Append the kill record of ``pid`` (after it was reaped: it writes nothing more)."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"K {pid}\n".encode())
    finally:
        os.close(fd)
