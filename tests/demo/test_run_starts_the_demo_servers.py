"""``jobsched run`` without a config runs the demo configuration, and with it the demo's
SMTP and HTTP servers: its ``web.fetch`` and ``email.send`` tasks succeed, and the log
says where the servers listen."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.console.cli_support import ENV_NAMES, REPO, poll

pytestmark = pytest.mark.timeout(90)


def test_run_with_the_demo_configuration_serves_its_handlers(tmp_path: Path) -> None:
    # Given no config file anywhere: the demo configuration applies
    db = tmp_path / "jobs.db"
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES and "JOBSCHED_DEMO" not in k}
    env.update(JOBSCHED_DB=str(db), PYTHONPATH=str(REPO))
    log = tmp_path / "node.err"
    with open(log, "wb") as err:
        node = subprocess.Popen(
            [sys.executable, "-m", "jobsched.console.cli", "run"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        poll(lambda: "demo servers:" in log.read_text(), 20, what="the demo servers line")
        # When a page fetch and an email are submitted
        for handler, payload in (("web.fetch", '{"page": 3}'), ("email.send", '{"to": "a@b.c"}')):
            done = subprocess.run(
                [sys.executable, "-m", "jobsched.console.cli", "submit", handler,
                 "--payload", payload, "--wait", "--timeout", "30"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            # Then both succeed (no "no demo HTTP server")
            assert done.returncode == 0, (handler, done.stderr, log.read_text())
        # And the log says where the servers listen
        assert re.search(r"SMTP on 127\.0\.0\.1:\d+, HTTP on 127\.0\.0\.1:\d+", log.read_text())
    finally:
        node.send_signal(signal.SIGTERM)
        assert node.wait(30) == 0, log.read_text()
