"""Two node processes on one PostgreSQL database tick a schedule every second; one is
SIGKILLed half-way. Every tick has exactly one task, before and after the kill."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest
from jobsched.storage.postgres.connection import parse_url

pytestmark = [pytest.mark.slow(seconds=11), pytest.mark.postgres]

NODE = """
import sys, threading
from jobsched import Scheduler, SchedulerConfig, CategoryConfig, open_store
config = SchedulerConfig(workers=2, categories={"email": CategoryConfig()}, poll_interval=0.1)
sched = Scheduler(config, store=open_store(sys.argv[1]))
sched.handler("email.beat", category="email")(lambda payload: None)
sched.schedule("beat", "email.beat", every="1s", missed="catch_up", catch_up="all")
sched.start()
print("ready", flush=True)
sys.stdin.read()  # until the test closes it
sched.stop()
"""


def _poll(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)  # polling other processes' progress, bounded by the deadline
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _spawn(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", NODE, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.timeout(180)
def test_two_nodes_make_one_task_per_tick_and_a_kill_changes_nothing(
    pg_url: str, pg_schema: tuple[str, str]
) -> None:
    url, schema = pg_schema
    a, b = _spawn(url), _spawn(url)
    db = psycopg.connect(
        parse_url(pg_url).conninfo, autocommit=True, options=f"-c search_path={schema}"
    )

    def ticks() -> list[tuple[float, int | None]]:
        return db.execute(
            "SELECT tick, task_id FROM schedule_ticks WHERE schedule = 'beat' AND NOT manual"
            " ORDER BY tick"
        ).fetchall()

    try:
        # Given two nodes ticking for about 5 s
        _poll(lambda: len(ticks()) >= 5, 60, "5 ticks")
        # When one is SIGKILLed and the other runs on alone for about 5 s more
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=30)
        _poll(lambda: len(ticks()) >= 10, 60, "5 more ticks")
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=30)
    rows = ticks()
    # Then the ticks are consecutive seconds, each with its own task, and nothing else ran
    seconds = [int(tick) for tick, _ in rows]
    assert all(tick == int(tick) for tick, _ in rows)
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds))), "a gap"
    task_ids = [task_id for _, task_id in rows]
    assert None not in task_ids and len(set(task_ids)) == len(task_ids)
    tasks = db.execute("SELECT count(*) FROM tasks WHERE handler = 'email.beat'").fetchone()
    assert tasks is not None and tasks[0] == len(rows)
    db.close()
