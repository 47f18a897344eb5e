"""Contention on one SQLite file: a node with 8 workers, a console-like reader and a second
process submitting one task at a time. No "database is locked" reaches anyone; nothing is
left stuck.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crashkit.checker import check
from tests.crashkit.harness import ROOT, spawn, wait_ready

pytestmark = pytest.mark.slow


def _child(module: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(180)
def test_node_reader_and_submitter_share_the_file_without_lock_errors(tmp_path: Path) -> None:
    db, log = tmp_path / "busy.db", tmp_path / "exec.log"
    node = spawn(db, log, "--workers", "8")
    wait_ready(node)
    reader = _child("tests.crashkit.reader", str(db), "120")
    assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
    submitter = _child("tests.crashkit.submitter", str(db), "3000")
    out, err = submitter.communicate(timeout=120)
    assert submitter.returncode == 0, err
    acknowledged = [int(x) for x in out.split() if x.isdigit()]
    # The reader has read all along the submissions: stop it (it reads at most 120 s)
    reader.send_signal(signal.SIGTERM)
    reader_out, reader_err = reader.communicate(timeout=60)
    node.send_signal(15)
    assert node.wait(timeout=30) == 0
    node_err = node.stderr.read().decode() if node.stderr else ""
    drain = spawn(db, log, "--until-idle")
    wait_ready(drain)
    assert drain.wait(timeout=120) == 0
    report = check(acknowledged, db, log)
    print(f"{report.line()} reader: {reader_out.strip().splitlines()[-1]}")
    assert "errors=0" in reader_out, reader_out + reader_err
    assert "locked" not in node_err.lower() and "Traceback" not in node_err, node_err[-3000:]
    assert len(acknowledged) == 3000
    assert report.lost == [] and report.stuck == [] and report.duplicated == []
    assert report.states == {"succeeded": 3000}
