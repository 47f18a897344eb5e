"""The benchmark harness still runs: ``bench/run.py --smoke`` end to end, tiny sizes.

Not a benchmark: it checks that every scenario runs in its child processes, that the
tables and targets print, and that the JSON report holds a result for every run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow(seconds=11)
def test_smoke_run_measures_every_scenario(tmp_path: Path) -> None:
    # Given the harness in smoke mode (standard-library references only)
    out = tmp_path / "bench.json"

    # When it runs every scenario once
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )

    # Then it succeeds, prints a table per scenario and the targets
    assert proc.returncode == 0, proc.stderr[-2000:]
    for title in ("**bulk:", "**one at a time:", "**latency:", "**backlog:", "**balancer:"):
        assert title in proc.stdout
    assert "| latency p99 <= 5 ms |" in proc.stdout
    # And the JSON report has a result (not an error) for every run of every system
    report = json.loads(out.read_text())
    assert {case["id"] for case in report["cases"]} == {
        "bulk-500",
        "one",
        "latency",
        "backlog",
        "balancer",
    }
    for case in report["cases"]:
        for entry in case["entries"].values():
            assert entry["runs"], (case["id"], entry["label"])
            assert all(isinstance(run, dict) for run in entry["runs"]), entry["runs"]
    assert {t["verdict"] for t in report["targets"]} <= {"PASS", "MISS", "n/a", "info"}
    assert "| bulk 500: the minimal design with claims / the minimal design |" in proc.stdout


@pytest.mark.timeout(60)
def test_thread_cpu_reports_each_engine_thread(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "bench/thread_cpu.py", "--tasks", "300", "--submits", "100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "**bulk drain of 300 queued no-op tasks**" in proc.stdout
    assert "**100 acknowledged submits, one at a time" in proc.stdout
    for thread in ("| dispatcher |", "| completer |", "| workers (4) |", "| MainThread |"):
        assert thread in proc.stdout
