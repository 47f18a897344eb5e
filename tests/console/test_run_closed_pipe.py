"""``jobsched run 2>&1 | head``: when the reader closes the pipe, the node stops
gracefully, as on a first SIGTERM, and exits 0 with no error (a real process and pipe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.console.cli_support import make_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def test_a_closed_pipe_stops_the_node_gracefully_with_exit_0(tmp_path: Path) -> None:
    # Given: work that keeps the node's progress line changing for a few seconds
    cli = make_cli(tmp_path)
    injected = cli("inject", "a", "--count", "2000", "--duration-ms", "5")
    assert injected.exit_code == 0, injected.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobsched.console.cli", "run", "--for", "50"],
        cwd=tmp_path, env=cli.child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    # When: the reader takes one line and goes away (as `head -1` does)
    first = proc.stdout.readline()
    proc.stdout.close()
    # Then: the node stops well before --for ends, exit 0, and says it stopped in the store
    code = proc.wait(timeout=40)
    assert first.startswith(b"jobsched:"), first
    assert code == 0
    with cli.store() as store:
        nodes = store.nodes()
    assert nodes and all(n.stopped for n in nodes)
