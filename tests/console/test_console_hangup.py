"""Given `jobsched console` running a node in a real terminal (a pseudo-terminal), when the
terminal hangs up (SIGHUP: the window or the SSH session closed), then the node inside
stops gracefully, as on quit: the running task finishes within the grace period or goes
back to the queue, never left `running` under a dead node."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.console.cli_support import Cli, make_cli, poll


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_hangup_stops_the_console_node_gracefully(tmp_path: Path) -> None:
    cli: Cli = make_cli(tmp_path)
    main, terminal = pty.openpty()
    env = {**cli.child_env(), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("TEXTUAL_DRIVER", None)
    console = subprocess.Popen(
        [sys.executable, "-m", "jobsched.console.cli", "console"],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    # The terminal's side reads what the console draws, as a terminal does: a pty that
    # nobody reads fills, and the console's writes (its last one at exit too) then block.
    reader = threading.Thread(target=_read_until_closed, args=(main,), daemon=True)
    reader.start()
    try:
        # Given a task running in the console's node
        log = tmp_path / "runs.log"
        result = cli("submit", "a.append", "--payload",
                     f'{{"path": "{log}", "sleep": 0.8}}')  # fmt: skip
        assert result.exit_code == 0, result.stderr
        task_id = int(result.stdout.strip())
        poll(lambda: log.exists() and "start" in log.read_text(), 20, what="the task started")
        # When the terminal hangs up
        console.send_signal(signal.SIGHUP)
        # Then the console ends by itself (not killed by the signal)
        assert console.wait(timeout=30) == 0
    finally:
        if console.poll() is None:
            console.kill()
        reader.join(timeout=10)  # ends once the console's side is closed
        os.close(main)
    # And the task finished within the grace period, or went back to the queue
    task = cli.task(task_id)
    assert task.state in ("succeeded", "queued"), task
    with cli.store() as store:
        nodes = [n for n in store.nodes() if n.pid == console.pid]
    assert nodes and nodes[0].stopped


def _read_until_closed(fd: int) -> None:
    """Read and drop the console's output until its side of the pty is closed."""
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:  # EIO: every process holding the other side has closed it
            return
