"""The node lock of a SQLite file, with real ``jobsched run`` processes: it cannot be
deleted from under a running node, and a handler's forked child never inherits it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest

from tests.console.cli_support import Node, poll
from tests.reliability.node_support import lines, process_cli

pytestmark = pytest.mark.timeout(90)


def test_deleting_the_lock_side_file_does_not_let_a_second_node_start(tmp_path: Path) -> None:
    # Given a node running a task on a database, and its <db>.lock side file deleted
    cli = process_cli(tmp_path)
    started = tmp_path / "started.log"
    first = Node(cli)
    try:
        first.wait_up()
        result = cli("submit", "a.hold", "--payload", json.dumps({"log": str(started)}))
        assert result.exit_code == 0, result.stderr
        poll(lambda: lines(started), 15, what="the task started")
        Path(f"{cli.db}.lock").unlink()
        # When a second node starts on the same file
        second = Node(cli)
        code = second.wait(30)
        # Then it is refused (exit 4), naming the first node's pid
        assert code == 4, second.stderr()
        assert f"pid {first.pid}" in second.stderr(), second.stderr()
        # And the first node's task was not taken: it runs once, still under the first node
        assert lines(started) == ["start 1"]
        assert cli.task(1).state == "running"
        assert first.proc.poll() is None
    finally:
        first.kill()


def test_a_forked_child_of_a_handler_does_not_keep_the_database_locked(tmp_path: Path) -> None:
    # Given a node whose handler forked a child that keeps running
    cli = process_cli(tmp_path)
    pids, started = tmp_path / "pids.log", tmp_path / "started.log"
    first = Node(cli)
    child = 0
    try:
        first.wait_up()
        payload = {"log": str(started), "pids": str(pids), "seconds": 60}
        assert cli("submit", "a.fork", "--payload", json.dumps(payload)).exit_code == 0
        child = int(poll(lambda: lines(pids), 15, what="the forked child")[0])
        # When the node is killed while the child lives on
        first.proc.send_signal(signal.SIGKILL)
        first.wait(15)
        os.kill(child, 0)  # the child is still alive
        # Then the next node starts (it is not refused naming the dead parent)
        second = Node(cli, "--until-idle")
        code = second.wait(30)
        assert code == 0, second.stderr()
        assert "in use by another node" not in second.stderr()
    finally:
        first.kill()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
