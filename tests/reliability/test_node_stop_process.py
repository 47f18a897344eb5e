"""``jobsched run`` ends once its node has stopped, even when a handler left non-daemon
threads behind; a second signal is a fast stop (exit 130), never death by the signal."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.console.cli_support import Node, poll
from tests.reliability.node_support import lines, process_cli

pytestmark = pytest.mark.timeout(90)


def test_a_node_whose_handler_left_a_thread_exits_once_stopped(tmp_path: Path) -> None:
    # Given a node that ran a handler which left a non-daemon thread running (120 s)
    cli = process_cli(tmp_path)
    node = Node(cli)
    try:
        node.wait_up()
        assert cli("submit", "b.linger", "--payload", '{"seconds": 120}').exit_code == 0
        poll(lambda: cli.task(1).state == "succeeded", 15, what="the handler ran")
        # When the node is told to stop
        began = time.monotonic()
        node.signal(signal.SIGTERM)
        code = node.wait(30)
        # Then it stops and exits 0 at once, naming the thread it did not wait for
        assert code == 0, node.stderr()
        assert time.monotonic() - began < 15
        err = node.stderr()
        assert "nothing left unfinished" in err
        assert "1 non-daemon threads left behind" in err and "left-behind" in err
    finally:
        node.kill()


def test_a_second_signal_stops_at_once_with_exit_130(tmp_path: Path) -> None:
    # Given a node running a long task, with a handler's thread left behind as well
    cli = process_cli(tmp_path)
    started = tmp_path / "started.log"
    node = Node(cli)
    try:
        node.wait_up()
        assert cli("submit", "b.linger", "--payload", '{"seconds": 120}').exit_code == 0
        payload = json.dumps({"log": str(started), "seconds": 60})
        assert cli("submit", "a.hold", "--payload", payload).exit_code == 0
        poll(lambda: lines(started), 15, what="the long task started")
        # When it gets SIGTERM, and a second one while it waits for the running task
        node.signal(signal.SIGTERM)
        poll(lambda: "signal again to stop at once" in node.stderr(), 15, what="stopping")
        node.signal(signal.SIGTERM)
        code = node.wait(30)
        # Then it stops at once with 130, the running task released to the queue
        assert code == 130, (code, node.stderr())
        assert "s after the second signal); released 1 tasks" in node.stderr()
        assert cli.task(2).state == "queued"
    finally:
        node.kill()
