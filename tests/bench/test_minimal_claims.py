"""The yardstick's claim variant (``bench/systems/minimal.py``, ``claims=True``) does what
its row says: every task reaches its worker through a claim in the store, and every end
is written through its fence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.systems import minimal


@pytest.mark.timeout(30)
def test_every_task_is_claimed_then_ends_through_its_fence(tmp_path: Path) -> None:
    # Given the claim variant and three windows of tasks and a few more
    n = 3 * minimal.WINDOW + 17

    # When they are submitted in bulk and drained
    result = minimal.bulk(tmp_path, n, timeout=20, claims=True)

    # Then every row was claimed (it has the owner) and its fenced end applied (done),
    # none is left queued, claimed or running, and each started before it ended
    with sqlite3.connect(tmp_path / "minimal.db") as conn:
        rows = conn.execute("SELECT state, owner, COUNT(*) FROM tasks GROUP BY 1, 2").fetchall()
        unordered = conn.execute(
            "SELECT COUNT(*) FROM tasks WHERE started_at IS NULL OR finished_at < started_at"
        ).fetchone()[0]
    assert result["n"] == n
    assert rows == [("done", "n1", n)]
    assert unordered == 0


@pytest.mark.timeout(30)
def test_without_claims_the_tasks_go_from_the_submit_to_the_workers(tmp_path: Path) -> None:
    # Given the plain minimal design
    # When tasks are submitted in bulk and drained
    minimal.bulk(tmp_path, 500)

    # Then every row is done and the table has no owner column at all (no claim step)
    with sqlite3.connect(tmp_path / "minimal.db") as conn:
        assert conn.execute("SELECT state, COUNT(*) FROM tasks GROUP BY 1").fetchall() == [
            ("done", 500)
        ]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    assert "owner" not in columns


@pytest.mark.timeout(30)
def test_paced_submits_reach_their_workers_through_claims_with_their_payloads(
    tmp_path: Path,
) -> None:
    # Given the claim variant, tasks submitted one at a time at 200/s for half a second
    # When each worker calls the handler with the payload the claim read back
    result = minimal.latency(tmp_path, rate=200, seconds=0.5, warm_up=10, claims=True)

    # Then every task started (its payload was its own index) and none is missing
    assert result["missing"] == 0
    assert result["n"] == 100 - 10
