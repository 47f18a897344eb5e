"""Given ``jobsched console --attach --db X``, then ``--db`` after ``--attach`` is parsed as
for every other command: without a terminal the console says it needs one (and nothing
about an unknown option), and on a terminal the attached console opens X (a database in a
missing directory is refused naming it, before any screen is drawn)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSCHED_")}
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.mark.timeout(60)
def test_console_attach_with_db_needs_a_terminal_and_knows_every_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobsched.console.cli", "console", "--attach", "--db",
         str(tmp_path / "jobs.db")],
        cwd=tmp_path, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "the console needs a terminal" in done.stderr
    assert "No such option" not in done.stderr and "unexpected" not in done.stderr.lower()


@pytest.mark.timeout(60)
def test_console_attach_on_a_terminal_opens_the_database_db_names(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobsched.console.cli", "console", "--attach", "--db",
             str(missing / "jobs.db")],
            cwd=tmp_path, env={**_env(), "TERM": "xterm"}, stdin=secondary, stdout=secondary,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(secondary)
        os.close(primary)
    text = err.decode("utf-8", "replace")
    assert proc.returncode == 3, text
    assert str(missing) in text and "does not exist" in text
