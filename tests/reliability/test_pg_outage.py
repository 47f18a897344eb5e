"""A ``jobsched run`` node on PostgreSQL through a proxy that the tests pause or cut.

- Stopped while the server does not answer, the node exits within its grace period plus
  the stop's margin, names the tasks it could not release, and a second node recovers
  them: each completes once, re-run at most once (at least once, never lost).
- A connection cut for a few seconds is a few lines per thread kind (lost, back), with
  no traceback at INFO or above, and the node works again after it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jobsched.core.scheduler import STOP_MARGIN
from jobsched.storage import open_store

from tests.console.cli_support import REPO, poll
from tests.reliability.pg_proxy import PgProxy

pytestmark = [pytest.mark.slow(seconds=7), pytest.mark.postgres, pytest.mark.timeout(120)]

GRACE = 2.0
CONFIG = f"""\
[scheduler]
workers = 4
balance_interval = 1.0
heartbeat_interval = 0.5
grace_period = {GRACE}
handlers = ["tests.reliability.pg_outage_handlers"]

[categories.a]
kind = "fire-and-forget"
priority = 1
min_workers = 4
"""


class PgNode:
    """A ``jobsched run`` child process on ``url``; its stderr goes to a file."""

    def __init__(self, root: Path, url: str) -> None:
        config = root / "node.toml"
        config.write_text(CONFIG, encoding="utf-8")
        self.log = root / f"node-{time.monotonic_ns()}.err"
        self._err = open(self.log, "wb")  # noqa: SIM115 - closed in wait() or kill()
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSCHED")}
        env.update(JOBSCHED_DB=url, JOBSCHED_CONFIG=str(config), PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobsched.console.cli", "run"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=self._err,
        )  # fmt: skip

    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            assert self.proc.poll() is None, f"node exited:\n{self.stderr()}"
            return text in self.stderr()

        poll(seen, timeout, interval=0.05, what=f"{text!r} in the node's output")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._err.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()


@pytest.fixture
def direct(pg_schema: tuple[str, str]) -> str:
    """The test's own schema, with nodes stale after 2 s (recovery in seconds)."""
    return pg_schema[0] + "&stale_after=2"


@pytest.fixture
def proxy(pg_url: str) -> Iterator[PgProxy]:
    parts = urlsplit(pg_url)
    proxy = PgProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield proxy
    proxy.close()


def _submit(url: str, payloads: list[dict[str, str]]) -> list[int]:
    from jobsched.core.task import NewTask

    store = open_store(url)
    store.open(None)
    try:
        rows = [NewTask("a.gate", "a", json.dumps(p), 0.0, 5, None, None) for p in payloads]
        return store.insert(rows, time.time())
    finally:
        store.close()


def _states(url: str, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    store = open_store(url)
    store.open(None)
    try:
        found = {}
        for task_id in ids:
            task = store.get(task_id)
            assert task is not None
            found[task_id] = (task.state, task.owner)
        return found
    finally:
        store.close()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_a_stop_while_the_server_is_silent_ends_in_time_and_names_what_it_kept(
    tmp_path: Path, direct: str, proxy: PgProxy
) -> None:
    # Given a node on the proxy running four tasks that wait on a gate
    node = PgNode(tmp_path, proxy.url_for(direct))
    second: PgNode | None = None
    runs, gate = tmp_path / "runs.log", tmp_path / "gate"
    try:
        node.wait_for("running on")
        ids = _submit(direct, [{"log": str(runs), "gate": str(gate)}] * 4)
        poll(lambda: len(_lines(runs)) == 4, 30, what="four tasks started")
        # When the server stops answering and the node gets SIGTERM
        proxy.pause()
        began = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        code = node.wait(60)
        took = time.monotonic() - began
        err = node.stderr()
        # Then it exits 0 within the grace period plus the stop's margin (and the
        # interpreter's exit), saying it could not release the four tasks, by id
        assert code == 0, err
        assert took < GRACE + STOP_MARGIN + 2.0, (took, err)
        said = re.search(r"could not release (\d+) tasks .*: ([\d, ]+)$", err, re.MULTILINE)
        assert said is not None, err
        assert sorted(int(i) for i in said.group(2).split(", ")) == sorted(ids)
        assert "released 4 unfinished" not in err and "Traceback" not in err
        # And the rows are still running under the silent node
        assert {state for state, _ in _states(direct, ids).values()} == {"running"}
        # When the server answers again, the gate opens and a second node starts
        proxy.resume()
        gate.touch()
        second = PgNode(tmp_path, proxy.url_for(direct))
        # Then it recovers them (the first node's heartbeat is stale) and runs them once
        poll(
            lambda: {s for s, _ in _states(direct, ids).values()} == {"succeeded"},
            60,
            interval=0.1,
            what="the tasks recovered and succeeded",
        )
        lines = _lines(runs)
        for task_id in ids:
            assert lines.count(f"done {task_id}") == 1, lines
            assert lines.count(f"start {task_id}") == 2, lines  # the interrupted run, again
    finally:
        node.kill()
        if second is not None:
            second.kill()


def test_a_connection_cut_for_three_seconds_is_a_few_lines_and_no_traceback(
    tmp_path: Path, direct: str, proxy: PgProxy
) -> None:
    # Given a node on the proxy, idle but polling
    node = PgNode(tmp_path, proxy.url_for(direct))
    runs, gate = tmp_path / "runs.log", tmp_path / "gate"
    gate.touch()
    try:
        node.wait_for("running on")
        before = len(node.stderr().splitlines())
        # When every connection is cut and none can be made for 3 s
        proxy.cut()
        threading.Event().wait(3.0)  # the outage itself, not a synchronisation
        proxy.resume()
        # Then the node says it is back, and runs new work
        node.wait_for("dispatcher: connection to")
        node.wait_for("back after", timeout=30)
        ids = _submit(direct, [{"log": str(runs), "gate": str(gate)}])
        poll(lambda: f"done {ids[0]}" in _lines(runs), 30, what="a task ran after the cut")
        node.proc.send_signal(signal.SIGTERM)
        assert node.wait(30) == 0
        out = node.stderr().splitlines()[before:]
        loud = [line for line in out if re.match(r"jobsched: (WARNING|ERROR|CRITICAL) ", line)]
        # A loss and a return per thread kind that met the cut, at most
        assert 2 <= len(loud) <= 8, "\n".join(out)
        assert any("lost:" in line for line in loud), "\n".join(loud)
        assert any("back after" in line for line in loud), "\n".join(loud)
        assert not any("Traceback" in line for line in out), "\n".join(out)
    finally:
        node.kill()
