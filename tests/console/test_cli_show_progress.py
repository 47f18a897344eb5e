"""``jobsched show`` reports a task's latest progress and each attempt's error (human and
``--json``), as a node on the same SQLite file stored them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobsched.core import CategoryConfig, FakeClock, Scheduler, SchedulerConfig, current_task
from jobsched.storage import open_store

from tests.console.cli_support import make_cli


def test_show_prints_the_progress_a_handler_reported(tmp_path: Path) -> None:
    # Given a node on the CLI's database whose handler reported 40 of 100 pages, then failed
    cli = make_cli(tmp_path)
    clock = FakeClock()
    cats = {"a": CategoryConfig(min_workers=1, max_attempts=1)}
    sched = Scheduler(SchedulerConfig(workers=1, categories=cats), open_store(str(cli.db)),
                      clock=clock, threaded=False)  # fmt: skip

    @sched.handler("a.pages", category="a")
    def pages(payload: Any) -> None:
        current_task().progress(done=40, total=100, note="pages")
        raise RuntimeError("stopped at page 41")

    with sched:
        task_id = sched.submit("a.pages").id
        quiet_id = sched.submit("jobsched.synthetic", category="a", payload={"ms": 0}).id
        sched.run_until_idle()
    # When show reads them
    data = cli.json("show", str(task_id))
    quiet = cli.json("show", str(quiet_id))
    human = cli("show", str(task_id))
    # Then the report is there, with its attempt and time
    assert data["progress"] == {
        "attempt": 1, "fraction": 0.4, "done": 40, "total": 100, "note": "pages",
        "at": "2027-01-15T08:00:00.000Z",
    }  # fmt: skip
    assert quiet["progress"] is None
    assert human.exit_code == 0, human.stderr
    assert "progress: 40% (40/100 pages) (attempt 1, at 2027-01-15T08:00:00.000Z)" in human.stdout


def test_show_lists_the_error_of_each_attempt(tmp_path: Path) -> None:
    # Given a node on the CLI's database whose handler fails twice, then succeeds
    cli = make_cli(tmp_path)
    clock = FakeClock()
    cats = {"a": CategoryConfig(min_workers=1, max_attempts=3)}
    sched = Scheduler(SchedulerConfig(workers=1, categories=cats), open_store(str(cli.db)),
                      clock=clock, threaded=False)  # fmt: skip
    calls: list[int] = []

    @sched.handler("a.flaky", category="a")
    def flaky(payload: Any) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(f"failure number {len(calls)}")
        return "ok"

    with sched:
        task_id = sched.submit("a.flaky").id
        for _ in range(5):  # each retry waits out its backoff
            sched.run_until_idle()
            clock.advance(10)
    assert cli.task(task_id).state == "succeeded"
    # When show reads it
    data = cli.json("show", str(task_id))
    human = cli("show", str(task_id))
    # Then both failed attempts are listed, oldest first, with their reason and end
    attempts = data["attempt_errors"]
    assert [(a["number"], a["reason"]) for a in attempts] == [(1, "error"), (2, "error")]
    assert "failure number 1" in attempts[0]["error"]
    assert "failure number 2" in attempts[1]["error"]
    assert all(a["ended_at"].endswith("Z") for a in attempts)
    assert human.exit_code == 0, human.stderr
    first, second = human.stdout.index("failure number 1"), human.stdout.index("failure number 2")
    assert human.stdout.index("attempt 1: ended with an error (error, ") < first < second
