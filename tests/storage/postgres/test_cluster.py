"""Three node processes share one PostgreSQL database; one is SIGKILLed mid-run.

The others recover its tasks once its heartbeat is stale (3 s here, heartbeats every
0.5 s), nothing acknowledged is lost, and no task ever runs on two nodes at once: the
handlers log a start and an end record with their pid, and the test logs the kill.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from jobsched.core.task import RUNNING
from jobsched.storage import open_store
from jobsched.storage.postgres.connection import parse_url

from tests.conftest import with_query
from tests.crashkit.checker import check, overlaps, records
from tests.crashkit.harness import mark_killed, spawn, submit, wait_for_executions, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TASKS = 5000
STALE_AFTER = 3.0
HEARTBEAT = 0.5
#: Allowance on top of stale time + one heartbeat interval for process scheduling.
SLACK = 0.75


def _poll(condition: Any, timeout: float, what: str) -> float:
    """Call ``condition`` every 20 ms until it is true; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)  # polling another process's progress, bounded by the deadline
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.mark.timeout(300)
def test_three_nodes_share_the_work_and_recover_a_killed_one(
    pg_url: str, pg_schema: tuple[str, str], tmp_path: Path
) -> None:
    url = with_query(pg_schema[0], stale_after=STALE_AFTER)
    log = tmp_path / "exec.log"
    # Given 5,000 acknowledged tasks of 1-10 ms and three nodes on one database
    ids = submit(url, TASKS, [1, 2, 5, 10])
    nodes = [spawn(url, log, "--heartbeat", str(HEARTBEAT)) for _ in range(3)]
    store = open_store(url)
    store.open(None)
    admin = psycopg.connect(
        parse_url(pg_url).conninfo, autocommit=True, options=f"-c search_path={pg_schema[1]}"
    )
    try:
        for proc in nodes:
            wait_ready(proc)
        victim = nodes[0]
        victim_id = next(n.node_id for n in store.nodes() if n.pid == victim.pid)

        def held() -> list[int]:
            rows = store.list_tasks(state=RUNNING, limit=1 << 30)
            return [t.id for t in rows if t.owner == victim_id]

        # When one node is SIGKILLed once about 1,500 runs have started (start + end lines),
        # at a moment it holds claimed tasks (on a busy machine it may have none for a while)
        assert wait_for_executions(log, 3000, victim, timeout=120), "the node died by itself"
        _poll(lambda: bool(held()), 60, "the node to be killed to hold a task")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = time.monotonic()
        mark_killed(log, victim.pid)
        held_at_kill = held()
        assert held_at_kill, "the killed node held no task: nothing to recover"
        # Then the others take its tasks back within stale time + one heartbeat interval
        recovered_at = _poll(lambda: not held(), 30, "the killed node's tasks to be recovered")
        after_kill = recovered_at - killed_at
        silent, by = admin.execute(
            "SELECT extract(epoch FROM recovered_at - seen_at)::float8, recovered_by"
            " FROM nodes WHERE node_id = %s",
            (victim_id,),
        ).fetchone()  # type: ignore[misc]
        print(
            f"killed node held {len(held_at_kill)} tasks; recovered {after_kill:.2f} s after "
            f"the kill, {silent:.2f} s after its last heartbeat (server clock), by {by}; "
            f"bound {STALE_AFTER + HEARTBEAT:g} s"
        )
        assert by is not None and by != victim_id
        assert silent <= STALE_AFTER + HEARTBEAT + SLACK
        assert after_kill <= STALE_AFTER + HEARTBEAT + SLACK
        # And the two survivors drain everything, then stop gracefully
        _poll(
            lambda: (
                not any(
                    per["queued"] or per["running"] or per["scheduled"]
                    for per in store.counts().values()
                )
            ),
            120,
            "the survivors to drain the work",
        )
        for proc in nodes[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc in nodes[1:]:
            assert proc.wait(timeout=30) == 0, _stderr(proc)
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        store.close()
        admin.close()
    report = check(ids, url, log)
    twice = overlaps(log)
    pids = {parts[3] for parts in records(log) if len(parts) > 3 and parts[2] == "S"}
    print(f"{report.line()} overlaps={len(twice)} node_pids={len(pids)}")
    # Then nothing is lost or stuck, re-runs are bounded by what the dead node held, no
    # task ever ran on two nodes at once, and all three nodes did work
    assert report.lost == [] and report.stuck == [] and report.unexpected == []
    assert report.states == {"succeeded": TASKS}
    assert report.reexecutions <= len(held_at_kill)
    assert twice == []
    assert len(pids) == 3


def _stderr(proc: subprocess.Popen[bytes]) -> str:
    return proc.stderr.read().decode()[-2000:] if proc.stderr else ""


def test_the_overlap_detector_sees_runs_that_overlap(tmp_path: Path) -> None:
    # A run ends with its end record or its process's kill record; a start between
    # another run's start and end is an overlap, on one node or two.
    log = tmp_path / "exec.log"
    log.write_text(
        "1 1 S 10\n2 1 S 10\n1 1 E 10\nK 10\n"  # task 2 was running on node 10 when killed
        "2 2 S 11\n2 2 E 11\n"  # its re-run, after the kill: fine
        "3 1 S 11\n3 2 S 12\n3 1 E 11\n3 2 E 12\n"  # task 3 on two nodes at once
    )
    assert overlaps(log) == [3]
