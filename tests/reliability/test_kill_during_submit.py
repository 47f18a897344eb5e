"""SIGKILL a process in the middle of submitting, while a node runs the work.

Every id whose ``submit()`` returned (printed by the child) ends terminal; an id that was
committed but never acknowledged may run, but nothing runs twice.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crashkit.checker import begun_at_kill, check
from tests.crashkit.harness import ROOT, spawn, wait_ready

pytestmark = pytest.mark.slow


def _submitter(db: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crashkit.submitter", str(db), "100000"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _read_ids_then_kill(
    proc: subprocess.Popen[bytes], stop_after: int, timeout: float = 30
) -> list[int]:
    assert proc.stdout is not None
    ids: list[int] = []
    buffer = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while len(ids) < stop_after and time.monotonic() < deadline:
            if not sel.select(timeout=1):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            ids.extend(int(x) for x in lines if x.strip() and x.strip() != b"ready")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # Lines the child wrote before dying were acknowledged too.
        rest = buffer + proc.stdout.read()
        ids.extend(int(x) for x in rest.split(b"\n") if x.strip() and x.strip() != b"ready")
    finally:
        sel.close()
    return ids


@pytest.mark.slow(seconds=6)
@pytest.mark.timeout(180)
def test_acknowledged_submits_survive_a_killed_submitter(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    db, log = tmp_path / "submit.db", tmp_path / "exec.log"
    node = spawn(db, log)
    wait_ready(node)
    acknowledged: list[int] = []
    try:
        for _ in range(5):
            acknowledged += _read_ids_then_kill(_submitter(db), rng.randint(50, 400))
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=30) == 0
    drain = spawn(db, log, "--until-idle")
    wait_ready(drain)
    assert drain.wait(timeout=120) == 0
    report = check(acknowledged, db, log)
    print(f"seed={seed} {report.line()} committed_not_acknowledged={len(report.unexpected)}")
    assert report.lost == [] and report.stuck == []
    assert report.states == {"succeeded": len(set(acknowledged))}
    assert report.duplicated == []
    assert report.integrity == "ok"


@pytest.mark.timeout(240)
def test_a_node_killed_while_submitting_to_itself_loses_nothing(tmp_path: Path) -> None:
    # In-process submits may insert a task already claimed and put it straight into a
    # FIFO (the direct hand-off): a SIGKILL must still lose none of the acknowledged ones.
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    db, log = tmp_path / "self.db", tmp_path / "exec.log"
    acknowledged: list[int] = []
    bound = 0
    for _ in range(6):
        node = spawn(db, log, "--submit", "100000")
        acknowledged += _read_ids_then_kill(node, rng.randint(50, 400))
        bound += begun_at_kill(db)  # runs that began before the kill: the most that rerun
    drain = spawn(db, log, "--until-idle")
    wait_ready(drain)
    assert drain.wait(timeout=120) == 0
    report = check(acknowledged, db, log)
    print(f"seed={seed} running_at_kills={bound} {report.line()}")
    assert len(set(acknowledged)) >= 6 * 50
    assert report.lost == [] and report.stuck == []
    assert report.states == {"succeeded": len(set(acknowledged))}
    assert report.reexecutions <= bound
    assert report.integrity == "ok"
