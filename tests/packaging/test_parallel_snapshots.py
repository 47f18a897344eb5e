"""Given the suite runs in parallel (pytest-xdist), when a snapshot is left over (its test
is gone), then the run still fails naming it, as a serial run does (``tests/parallel.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = """
def test_one(snapshot):
    assert snapshot == 1


def test_two(snapshot):
    assert snapshot == 2
"""
LEFTOVER = """

def test_three(snapshot):
    assert snapshot == 3
"""


def pytest_run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:textual-snapshot",
            "-p",
            "no:hypothesispytest",
            *args,
        ],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_leftover_snapshot_fails_the_parallel_run(tmp_path: Path) -> None:
    # Given a project with three snapshot tests, run in parallel: no snapshot is unused
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.parallel"]\n')
    test_file = tmp_path / "test_values.py"
    test_file.write_text(TESTS + LEFTOVER)
    created = pytest_run(tmp_path, "-n", "0", "--snapshot-update")
    assert created.returncode == 0, created.stdout + created.stderr
    clean = pytest_run(tmp_path, "-n", "2")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "3 passed" in clean.stdout and "unused" not in clean.stdout
    # When one test is removed and its snapshot left over
    test_file.write_text(TESTS)
    parallel = pytest_run(tmp_path, "-n", "2")
    # Then the parallel run fails, naming it, as a serial run does
    assert parallel.returncode == 1, parallel.stdout + parallel.stderr
    assert "2 passed" in parallel.stdout
    assert "unused: test_three (__snapshots__/test_values.ambr)" in parallel.stdout
