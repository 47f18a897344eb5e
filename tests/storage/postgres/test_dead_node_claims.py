"""A node that stops answering loses, within its claim lease, the tasks it claimed but
never began; the runs it began wait for ``stale_after``, as before.

Real node processes on one PostgreSQL database. The victim's workers of category a each
run a task that lasts until the test opens a gate (a file), with more claimed behind them
in its FIFO, never begun. ``stale_after`` is the default 30 s, so only the lease (three
heartbeats of the victim: 0.75 s here) can explain those running elsewhere within seconds.

- Killed (SIGKILL): the survivor starts them within seconds; the runs that began stay
  with the dead node (until ``stale_after``, then each counts as an attempt).
- Frozen (SIGSTOP: a long GC pause, a stalled machine): the survivor runs them; once the
  victim resumes, its workers find those starts refused and run none of them, while its
  own runs finish and count. No task runs twice (the execution log's overlap detector,
  tests/crashkit).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from jobsched.core import Client
from jobsched.core.task import RUNNING
from jobsched.storage import open_store
from jobsched.storage.postgres.connection import parse_url
from jobsched.storage.postgres.store import PostgresStore

from tests.conftest import with_query
from tests.crashkit.checker import overlaps, records
from tests.crashkit.harness import mark_killed, spawn, wait_ready
from tests.crashkit.node import CONFIG

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STALE_AFTER = 30.0
HEARTBEAT = 0.25
#: Tasks that wait for the gate; at least WAITING of them wait in the victim's FIFO.
TASKS = 12
WAITING = 2


def _poll(condition: Any, timeout: float, what: str) -> float:
    """Call ``condition`` every 20 ms until it is true; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)  # polling other processes' progress, bounded by the deadline
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@dataclass
class Cluster:
    url: str
    log: Path
    gate: Path
    store: PostgresStore
    admin: psycopg.Connection[Any]
    procs: list[subprocess.Popen[bytes]]

    def node(self) -> subprocess.Popen[bytes]:
        proc = spawn(self.url, self.log, "--heartbeat", str(HEARTBEAT), "--workers", "4")
        self.procs.append(proc)
        wait_ready(proc, timeout=60)
        return proc

    def submit(self, payloads: list[dict[str, Any]]) -> list[int]:
        return Client(CONFIG, self.store).submit_many([("a.work", p) for p in payloads])

    def node_id(self, proc: subprocess.Popen[bytes]) -> str:
        return next(n.node_id for n in self.store.nodes() if n.pid == proc.pid)

    def held(self, node_id: str) -> dict[int, bool]:
        """The running rows ``node_id`` owns: id -> whether the run began."""
        rows = self.admin.execute(
            "SELECT id, run_began FROM tasks WHERE state = %s AND owner = %s", (RUNNING, node_id)
        ).fetchall()
        return dict(rows)

    def succeeded(self, ids: list[int]) -> bool:
        return all((t := self.store.get(i)) is not None and t.state == "succeeded" for i in ids)

    def fifo(self, node_id: str) -> int | None:
        """Category a's FIFO as the node's latest heartbeat tells it."""
        node = next(n for n in self.store.nodes() if n.node_id == node_id)
        return node.counters.fifo.get("a")

    def starts(self, task_id: int) -> list[str]:
        """The pids that started ``task_id``, in order (the execution log)."""
        return [p[3] for p in records(self.log) if p[0] == str(task_id) and p[2] == "S"]


@pytest.fixture
def cluster(pg_url: str, pg_schema: tuple[str, str], tmp_path: Path) -> Iterator[Cluster]:
    url = with_query(pg_schema[0], stale_after=STALE_AFTER)
    store = open_store(url)
    store.open(None)
    assert isinstance(store, PostgresStore)
    admin = psycopg.connect(
        parse_url(pg_url).conninfo, autocommit=True, options=f"-c search_path={pg_schema[1]}"
    )
    found = Cluster(url, tmp_path / "exec.log", tmp_path / "gate", store, admin, [])
    try:
        yield found
    finally:
        found.gate.touch()
        for proc in found.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(timeout=30)
        store.close()
        admin.close()


def _victim_holding(cluster: Cluster) -> tuple[subprocess.Popen[bytes], str]:
    """A node whose workers of category a each run a task that lasts until the gate
    opens, with more claimed behind them in its FIFO (never begun), and a second node
    started after it: (the victim, its node id)."""
    victim = cluster.node()
    victim_id = cluster.node_id(victim)
    # Quick runs first: the victim's FIFO then holds more than one task per worker
    warm = cluster.submit([{"n": n} for n in range(10)])
    _poll(lambda: all(cluster.starts(i) for i in warm), 60, "the warm-up runs")
    cluster.submit([{"gate": str(cluster.gate)}] * TASKS)
    _poll(lambda: list(cluster.held(victim_id).values()).count(False) >= WAITING, 60,
          "the victim to hold claimed tasks behind its running ones")  # fmt: skip
    cluster.node()  # the survivor: it claims what the victim left queued
    return victim, victim_id


def _frozen(
    cluster: Cluster, victim_id: str, before: dict[int, bool]
) -> tuple[set[int], list[int]]:
    """Once the victim can do nothing more: (the runs it began, the tasks it held only
    claimed). A task whose start was written after ``before`` was read counts as begun;
    one already given back (lease) is still one it held only claimed."""
    began = {i for i, b in cluster.held(victim_id).items() if b}
    waiting = sorted(i for i, b in before.items() if not b and i not in began)
    assert began and len(waiting) >= WAITING, (began, waiting)
    return began, waiting


@pytest.mark.timeout(180)
def test_a_killed_node_s_waiting_tasks_start_elsewhere_within_seconds(cluster: Cluster) -> None:
    # Given a node running gated tasks with more claimed behind them, and a second node
    victim, victim_id = _victim_holding(cluster)
    survivor = cluster.procs[1]
    # When the victim is SIGKILLed (and the gate opens, so the survivor's own runs end)
    before = cluster.held(victim_id)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    killed_at = time.monotonic()
    mark_killed(cluster.log, victim.pid)
    began, waiting = _frozen(cluster, victim_id, before)
    cluster.gate.touch()
    # Then the survivor starts every task the victim had only claimed, within seconds
    started_at = _poll(
        lambda: all(cluster.starts(i) for i in waiting), 60, "the waiting tasks to start"
    )
    took = started_at - killed_at
    print(f"{len(waiting)} claimed-not-begun tasks started elsewhere {took:.2f} s after the kill"
          f" (stale_after {STALE_AFTER:g} s, heartbeat {HEARTBEAT:g} s)")  # fmt: skip
    assert took < STALE_AFTER / 3
    _poll(lambda: cluster.succeeded(waiting), 60, "the waiting tasks to succeed")
    assert all(cluster.starts(i) == [str(survivor.pid)] for i in waiting)
    assert [t.attempts for t in map(cluster.store.get, waiting) if t] == [1] * len(waiting)
    # And the runs that began stay the dead node's until stale_after (an attempt, then)
    assert cluster.held(victim_id) == dict.fromkeys(began, True)
    assert overlaps(cluster.log) == []
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(timeout=30) == 0


@pytest.mark.timeout(180)
def test_a_paused_node_runs_none_of_the_tasks_handed_back_while_it_was_stopped(
    cluster: Cluster,
) -> None:
    # Given a node running gated tasks with more claimed behind them, and a second node
    victim, victim_id = _victim_holding(cluster)
    survivor = cluster.procs[1]
    # When the victim is stopped (SIGSTOP) while the survivor runs what it held only claimed
    before = cluster.held(victim_id)
    victim.send_signal(signal.SIGSTOP)
    began, waiting = _frozen(cluster, victim_id, before)
    cluster.gate.touch()
    _poll(lambda: cluster.succeeded(waiting), 60, "the waiting tasks to run elsewhere")
    # and then resumes: its own runs end
    victim.send_signal(signal.SIGCONT)
    _poll(lambda: cluster.succeeded(sorted(began)), 60, "the victim's own runs to end")
    # Then its workers reach the tasks in their FIFO, find each start refused, run none
    _poll(lambda: cluster.fifo(victim_id) == 0, 60, "the victim's FIFO to empty")
    assert {n.node_id: n.stopped for n in cluster.store.nodes()}[victim_id] is False  # not dead
    victim.send_signal(signal.SIGTERM)
    assert victim.wait(timeout=30) == 0
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(timeout=30) == 0
    stderr = victim.stderr.read().decode() if victim.stderr else ""
    assert stderr.count("was given back") >= len(waiting), stderr[-3000:]
    assert all(cluster.starts(i) == [str(victim.pid)] for i in began)
    assert all(cluster.starts(i) == [str(survivor.pid)] for i in waiting)
    # And each ran once, its one attempt counted once, and none ran twice at once
    tasks = [cluster.store.get(i) for i in [*began, *waiting]]
    assert [(t.state, t.attempts) for t in tasks if t] == [("succeeded", 1)] * len(tasks)
    assert overlaps(cluster.log) == []
