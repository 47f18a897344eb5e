"""Given a node on a SQLite file killed with SIGKILL (its last heartbeat still fresh), when
a new node starts on the file, then ``status`` shows one alive node, the killed one as
stopped, and counts only the new node's workers."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .cli_support import CONFIG, Node, make_cli


@pytest.mark.timeout(90)
def test_status_after_a_sigkill_and_restart_counts_only_the_new_node(tmp_path: Path) -> None:
    # A long heartbeat interval keeps the killed node's heartbeat fresh for 16 s: only
    # the new node's start can tell that it is gone.
    cli = make_cli(tmp_path, CONFIG.replace("heartbeat_interval = 0.5", "heartbeat_interval = 5"))
    first = Node(cli)
    second = None
    try:
        first.wait_up()
        before = cli.json("status")
        assert [n["alive"] for n in before["nodes"]] == [True]
        first.signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
        second = Node(cli)
        second.wait_up()
        report = cli.json("status")
    finally:
        first.kill()
        if second is not None:
            second.kill()
    states = {n["pid"]: n["state"] for n in report["nodes"]}
    assert states == {first.pid: "stopped", second.pid: "alive"}
    (alive,) = [n for n in report["nodes"] if n["alive"]]
    for cat in report["categories"]:
        assert cat["workers"] == alive["targets"].get(cat["name"], 0), cat
        if cat["max_workers"] is not None:
            assert cat["workers"] <= cat["max_workers"], cat
    assert sum(c["workers"] for c in report["categories"]) <= 4  # one node's budget
