"""A poison task that kills its own process, under a restarting supervisor.

It ends ``failed`` with reason ``orphaned`` after ``max_attempts`` interrupted runs, the
restart loop ends, and the tasks around it (claimed into the same FIFO at every crash)
all finish: the poison rule counts only attempts that really began.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from jobsched.core import Client
from jobsched.storage import open_store

from tests.crashkit.checker import read_log
from tests.crashkit.harness import spawn
from tests.crashkit.node import CONFIG

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
def test_poison_task_is_orphaned_and_its_neighbours_finish(tmp_path: Path) -> None:
    db, log = tmp_path / "poison.db", tmp_path / "exec.log"
    store = open_store(db)
    store.open(None)
    client = Client(CONFIG, store)
    poison = client.submit("a.suicide", {}).id
    others = client.submit_many([("a.work", {"n": n, "ms": 2}) for n in range(200)])
    store.close()
    # A supervisor restarts the node whenever it dies, until it drains and exits 0.
    restarts = 0
    while True:
        proc = spawn(db, log, "--until-idle")
        code = proc.wait(timeout=60)  # it may die before it even says it is ready
        if code == 0:
            break
        assert code == -9, proc.stderr.read().decode()[-2000:] if proc.stderr else code
        restarts += 1
        assert restarts <= 10, "the poison task keeps killing the node"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = dict(
        con.execute("SELECT id, state || ':' || COALESCE(reason, '') FROM tasks").fetchall()
    )
    con.close()
    starts, _ = read_log(log)
    print(f"restarts={restarts} poison runs={starts[poison]} poison={rows[poison]}")
    assert rows[poison] == "failed:orphaned"
    assert starts[poison] == 3 == restarts
    assert {rows[i] for i in others} == {"succeeded:"}
