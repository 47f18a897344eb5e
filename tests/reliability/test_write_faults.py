"""A storage error at write 1, 2, ... K of a 50-task scenario, failing once and failing
until cleared, before or after the write takes effect: every failure is a typed error,
nothing acknowledged is lost, the node recovers once the fault clears, and the file's
integrity holds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from jobsched.core import CategoryConfig, Scheduler, SchedulerConfig, StorageError
from jobsched.storage import open_store

from tests.crashkit.faulty import FaultyStore

K = 24
CONFIG = SchedulerConfig(
    workers=2,
    categories={"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)},
    poll_interval=0.05,
    heartbeat_interval=0.2,
    balance_interval=0.2,
)


def _scheduler(store: Any) -> Scheduler:
    sched = Scheduler(CONFIG, store)
    sched.handler("a.job")(lambda p: p["n"])
    sched.handler("b.job")(lambda p: p["n"])
    return sched


@pytest.mark.timeout(60)
@pytest.mark.parametrize("after", [False, True], ids=["before-write", "after-write"])
@pytest.mark.parametrize("forever", [False, True], ids=["once", "until-cleared"])
@pytest.mark.parametrize("fail_at", range(1, K + 1))
def test_a_storage_fault_at_write_n(
    tmp_path: Path, fail_at: int, forever: bool, after: bool
) -> None:
    db = tmp_path / "faults.db"
    store = FaultyStore(open_store(db), fail_at, forever=forever, after=after)
    sched = _scheduler(store)
    try:
        sched.start()
    except StorageError:
        store.clear()  # the fault hit start-up: a typed error, then a clean retry
        sched = _scheduler(store)
        sched.start()
    acknowledged: list[int] = []
    errors = 0
    try:
        for n in range(50):
            try:
                acknowledged.append(sched.submit("a.job" if n % 2 else "b.job", {"n": n}).id)
            except StorageError as exc:
                assert "is full (injected)" in str(exc) and exc.exit_code == 3
                errors += 1
        store.clear()
        for task_id in acknowledged:
            assert sched.wait(task_id, timeout=20).state == "succeeded"
    finally:
        sched.stop(grace=5)
    assert store.injected >= 1
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = dict(con.execute("SELECT id, state FROM tasks").fetchall())
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert len(acknowledged) + errors == 50
    # Every acknowledged task succeeded. A submit whose commit happened before its error
    # was reported is a row nobody was promised: it may have run, or wait queued.
    assert {rows[i] for i in acknowledged} <= {"succeeded"}
    unpromised = set(rows) - set(acknowledged)
    assert len(unpromised) <= errors if after else not unpromised
    assert {rows[i] for i in unpromised} <= {"succeeded", "queued"}
