"""``tasks --filter`` and the bulk ``retry|cancel|delete --filter`` through Typer's
CliRunner, on a SQLite file under tmp_path: counts, confirmation, refusal without a
terminal, and one-line errors for a bad filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobsched.console.commands import bulk
from jobsched.core.task import CANCELLED, FAILED, QUEUED

from tests.console.cli_support import Cli, make_cli, one_line_error
from tests.console.test_cli import run_until_idle, submit


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def test_tasks_filter_pages_oldest_first_over_the_whole_store(cli: Cli) -> None:
    ids = [submit(cli, "b.echo") for _ in range(5)]
    failing = submit(cli, "a.fail")
    assert [
        t["id"] for t in cli.json("tasks", "--filter", "cat:b", "--oldest", "--limit", "2")
    ] == ids[:2]
    page = cli.json(
        "tasks", "--filter", "cat:b", "--oldest", "--limit", "2", "--after", str(ids[1])
    )
    assert [t["id"] for t in page] == ids[2:4]
    assert [t["id"] for t in cli.json("tasks", "--filter", f"id:{failing}")] == [failing]
    human = cli("tasks", "--filter", "cat:b", "--limit", "2")
    assert human.exit_code == 0 and f"more: --after {ids[3]}" in human.stderr


def test_a_bad_filter_is_one_line_and_exit_2(cli: Cli) -> None:
    one_line_error(cli("tasks", "--filter", "state:bogus"), 2, "unknown state", "bogus")
    one_line_error(cli("retry", "--filter", "stat:failed", "--yes"), 2, "Did you mean state:")
    one_line_error(cli("delete", "--filter", 'error:"open'), 2, "filter")
    one_line_error(cli("tasks", "--filter", "x", "--state", "failed"), 2, "replaces --state")


def test_bulk_retry_cancel_and_delete_report_what_they_touched(cli: Cli) -> None:
    # Given three failing tasks that ran, and two queued ones
    failed = [submit(cli, "a.fail") for _ in range(3)]
    run_until_idle(cli)
    queued = [submit(cli, "b.echo") for _ in range(2)]
    # A dry run counts and changes nothing
    result = cli("retry", "--filter", "state:failed", "--dry-run")
    assert result.exit_code == 0 and "3 would be retried" in result.stdout
    assert {cli.task(i).state for i in failed} == {FAILED}
    # Without a terminal and without --yes it refuses: exit 2, one line, nothing changed
    one_line_error(cli("retry", "--filter", "state:failed"), 2, "would touch 3", "--yes")
    result = cli("retry", "--filter", "cat:a error:purpose", "--yes")
    assert result.exit_code == 0 and "3 retried" in result.stdout, result.stdout
    assert {cli.task(i).state for i in failed} == {QUEUED}
    result = cli("cancel", "--filter", "state:queued", "--yes")
    assert result.exit_code == 0 and "5 cancelled" in result.stdout
    assert {cli.task(i).state for i in failed + queued} == {CANCELLED}
    # Delete never touches a live task: it says how many it skipped
    live = submit(cli, "b.echo")
    result = cli("delete", "--filter", "", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "5 deleted" in result.stdout and "1 skipped" in result.stdout
    assert cli.task(live).state == QUEUED
    assert "0 deleted" in cli("delete", "--filter", "state:failed").stdout


def test_bulk_asks_on_a_terminal(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "stdin_is_terminal", lambda: True)
    ids = [submit(cli, "b.echo") for _ in range(2)]
    result = cli("cancel", "--filter", "cat:b", input="n\n")
    assert "Cancel 2 tasks matching 'cat:b'?" in result.stdout
    assert "nothing changed" in result.stdout and cli.task(ids[0]).state == QUEUED
    result = cli("cancel", "--filter", "cat:b", input="y\n")
    assert result.exit_code == 0 and "2 cancelled" in result.stdout
    assert {cli.task(i).state for i in ids} == {CANCELLED}


def test_cancel_takes_ids_or_a_filter(cli: Cli) -> None:
    one_line_error(cli("cancel"), 2, "ids or --filter")
    one_line_error(cli("cancel", "1", "--filter", "cat:a"), 2, "ids or --filter")
    one_line_error(cli("retry", "1", "--filter", "cat:a"), 2, "one of them")
