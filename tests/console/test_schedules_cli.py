"""``jobsched schedules``: the list, pause and resume through the store, run-now, and
refused schedules at load (one ``Error:`` line naming the schedule, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.cli_support import CONFIG, make_cli, one_line_error

SCHEDULES = """
[[schedules]]
name = "beat"
handler = "a.append"
every = "10s"
payload = {n = 1}
missed = "catch_up"
catch_up = "all"

[[schedules]]
name = "nightly"
handler = "b.echo"
cron = "0 3 * * *"
timezone = "Europe/Paris"
"""


def test_list_pause_resume_and_run_now(tmp_path: Path) -> None:
    cli = make_cli(tmp_path, CONFIG + SCHEDULES)
    listed = cli.json("schedules")
    assert [(s["name"], s["spec"], s["paused"]) for s in listed] == [
        ("beat", "every 10s", False), ("nightly", "cron 0 3 * * * (Europe/Paris)", False),
    ]  # fmt: skip
    assert listed[0]["missed"] == "catch_up all (max 100)" and listed[0]["next_run"]
    assert cli("schedules", "pause", "beat").exit_code == 0
    assert cli.json("schedules")[0]["paused"] is True
    assert cli("schedules", "resume", "beat").exit_code == 0
    assert cli.json("schedules")[0]["paused"] is False
    ran = cli.json("schedules", "run-now", "nightly")
    assert cli.task(ran["task_id"]).handler == "b.echo"
    nightly = cli.json("schedules")[1]
    assert (nightly["last_task_id"], nightly["last_state"]) == (ran["task_id"], "queued")
    table = cli("schedules")
    assert table.exit_code == 0 and "nightly" in table.stdout and "paused" not in table.stdout


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ('name = "x"\nhandler = "a.nope"\nevery = "5s"', ["schedule 'x'", "a.nope"]),
        ('name = "x"\nhandler = "a.append"\ncron = "61 * * * *"', ["schedule 'x'", "cron"]),
        ('name = "x"\nhandler = "a.append"\ncron = "* * *"', ["schedule 'x'", "fields"]),
        ('name = "x"\nhandler = "a.append"', ["schedule 'x'", "exactly one of cron, every"]),
        ('name = "x"\nhandler = "a.append"\nevery = "soon"', ["schedule 'x'", "every"]),
        ('name = "x"\nhandler = "a.append"\nevery = "5s"\ntimezone = "Mars/Base"',
         ["schedule 'x'", "time zone"]),
        ('name = "x"\nhandler = "a.append"\nevery = "5s"\nmissed = "later"', ["schedule 'x'"]),
        ('name = "x"\nhandler = "a.append"\nevery = "5s"\nwhen = 1', ["schedule 'x'", "when"]),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_refused_at_load_naming_it(
    tmp_path: Path, entry: str, words: list[str]
) -> None:
    cli = make_cli(tmp_path, CONFIG + "\n[[schedules]]\n" + entry + "\n")
    one_line_error(cli("schedules"), 2, *words)


def test_an_unknown_schedule_name_is_one_line_exit_2(tmp_path: Path) -> None:
    cli = make_cli(tmp_path, CONFIG + SCHEDULES)
    one_line_error(cli("schedules", "pause", "nope"), 2, "nope", "beat, nightly")
    one_line_error(cli("schedules", "pause"), 2, "needs a schedule name")
