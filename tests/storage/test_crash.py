"""Real processes on a real SQLite file: SIGKILL and SIGTERM loops.

Each test prints its seed; rerun one with ``CRASH_SEED=<seed>``.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from tests.crashkit.checker import check, running_rows
from tests.crashkit.harness import log_lines, spawn, submit, wait_for_executions, wait_ready

pytestmark = pytest.mark.slow


def _seed() -> int:
    return int(os.environ.get("CRASH_SEED") or random.randrange(1 << 30))


def _drain(db: Path, log: Path) -> None:
    proc = spawn(db, log, "--until-idle")
    wait_ready(proc)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""


@pytest.mark.timeout(300)
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    print(f"seed={seed}")
    db, log = tmp_path / "crash.db", tmp_path / "exec.log"
    # Given 3,000 acknowledged tasks in 2 categories
    ids = submit(db, 3000, [0, 0, 1, 2, 5])
    kills, bound = 0, 0
    # When a node is SIGKILLed at random moments and restarted, at least 15 times
    while kills < 20:
        proc = spawn(db, log)
        wait_ready(proc)
        target = log_lines(log) + rng.randint(10, 120)
        if not wait_for_executions(log, target, proc):
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        bound += running_rows(db)  # tasks running at the kill: the most that may run again
    _drain(db, log)
    report = check(ids, db, log)
    print(f"seed={seed} kills={kills} rerun_bound={bound} {report.line()}")
    # Then nothing is lost or stuck, nothing unexpected ran, re-runs are bounded
    assert kills >= 15
    assert report.lost == [] and report.stuck == [] and report.unexpected == []
    assert report.states == {"succeeded": 3000}
    assert report.reexecutions <= bound
    assert report.integrity == "ok"


@pytest.mark.timeout(180)
def test_sigterm_stops_gracefully_and_nothing_runs_twice(tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    print(f"seed={seed}")
    db, log = tmp_path / "term.db", tmp_path / "exec.log"
    ids = submit(db, 1000, [0, 1, 2])
    stops = 0
    for _ in range(5):
        proc = spawn(db, log)
        wait_ready(proc)
        if not wait_for_executions(log, log_lines(log) + rng.randint(10, 100), proc):
            break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        stops += 1
        assert running_rows(db) == 0  # everything unfinished was released
    _drain(db, log)
    report = check(ids, db, log)
    print(f"seed={seed} stops={stops} {report.line()}")
    assert stops == 5
    assert report.reexecutions == 0 and report.duplicated == []
    assert report.lost == [] and report.stuck == [] and report.states == {"succeeded": 1000}
    assert report.integrity == "ok"
