"""Three node processes on one PostgreSQL database share one category's rate limit: the
token bucket is a row each claim locks, so the limit holds for all of them together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobsched.core import Client
from jobsched.core.query import Page
from jobsched.storage import open_store

from tests.core.test_rate_limits import most_in_any_window
from tests.crashkit.harness import ROOT, wait_ready
from tests.storage.postgres.rate_node import CONFIG

pytestmark = [pytest.mark.slow(seconds=11), pytest.mark.postgres]

TASKS, RATE, BURST = 200, 20, 5


def starts(log: Path) -> list[tuple[float, int]]:
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    return [(float(t), int(pid)) for t, pid in (line.split() for line in lines if line)]


@pytest.mark.timeout(120)
def test_three_nodes_together_start_no_more_than_the_limit(
    pg_schema: tuple[str, str], tmp_path: Path
) -> None:
    url, log = pg_schema[0], tmp_path / "starts.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.storage.postgres.rate_node", url, str(log)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(3)
    ]
    store = open_store(url)
    try:
        for proc in nodes:
            wait_ready(proc)
        # Given three nodes on a category limited to 20/s (burst 5), when 200 tasks arrive
        store.open(None)
        client = Client(CONFIG, store)
        client.handler("web.ping")(lambda payload: None)  # known here; runs on the nodes
        client.submit_many([("web.ping", i) for i in range(TASKS)])
        deadline = time.monotonic() + 60
        while len(starts(log)) < TASKS and time.monotonic() < deadline:
            time.sleep(0.1)  # polling other processes' progress, bounded by the deadline
        runs = starts(log)
        assert len(runs) == TASKS
        claimed = [t.started_at for t in client.find_tasks(Page(limit=TASKS))]
    finally:
        store.close()
        for proc in nodes:
            proc.send_signal(signal.SIGTERM)
        for proc in nodes:
            proc.wait(timeout=30)
    # Then, counted across all nodes, no one-second window holds more than rate + burst of
    # the tasks started in the store (claimed: the bucket pays for each at its claim; the
    # handlers' own start times follow by each worker's wake-up delay, which a starved CPU
    # can stretch and bunch)
    assert len(claimed) == TASKS and None not in claimed
    assert most_in_any_window([float(c) for c in claimed if c is not None], 1.0) <= RATE + BURST
    # And the drain takes about (200 - burst) / 20 = 9.75 s, shared by several nodes
    times = [t for t, _ in runs]
    took = max(times) - min(times)
    assert (TASKS - BURST) / RATE - 0.5 <= took <= (TASKS - BURST) / RATE * 2
    assert len({pid for _, pid in runs}) >= 2
