"""``tasks --filter`` and the bulk ``retry|cancel|delete --filter`` through Typer's
CliRunner, on a SQLite file under tmp_path: counts, confirmation, refusal without a
terminal, and one-line errors for a bad filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobsched.console.commands import bulk
from jobsched.core.task import CANCELLED, FAILED, QUEUED, NewTask

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
    result = cli("delete", "--filter", bulk.EVERY_TASK, "--yes")
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


def test_one_task_is_one_task_not_one_tasks(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    failed = submit(cli, "a.fail")
    run_until_idle(cli)
    one = submit(cli, "b.echo")
    # Refused without a terminal, the count is singular
    error = one_line_error(cli("cancel", "--filter", "cat:b"), 2, "would touch 1 task")
    assert "1 tasks" not in error
    # and so is the question on a terminal
    monkeypatch.setattr(bulk, "stdin_is_terminal", lambda: True)
    for action in ("retry", "cancel", "delete"):
        text = f"id:{failed}" if action != "cancel" else f"id:{one}"
        result = cli(action, "--filter", text, input="n\n")
        assert f"{action.capitalize()} 1 task matching '{text}'?" in result.stdout, result.stdout
        assert "1 tasks" not in result.stdout
    # retry by id and retry --failed say "1 task" too
    result = cli("retry", str(failed))
    assert result.exit_code == 0 and f"retried 1 task: {failed}" in result.stdout
    run_until_idle(cli)
    assert "retried 1 failed task\n" in cli("retry", "--failed").stdout


def test_cancel_takes_ids_or_a_filter(cli: Cli) -> None:
    one_line_error(cli("cancel"), 2, "ids or --filter")
    one_line_error(cli("cancel", "1", "--filter", "cat:a"), 2, "ids or --filter")
    one_line_error(cli("retry", "1", "--filter", "cat:a"), 2, "one of them")


def test_a_filter_naming_an_unknown_category_is_refused_like_category(cli: Cli) -> None:
    submit(cli, "b.echo")
    # The filter's error is the one --category gives: the value, the known ones
    listed = one_line_error(cli("tasks", "--filter", "cat:nosuch"), 2, "unknown category")
    by_option = one_line_error(cli("tasks", "--category", "nosuch"), 2, "unknown category")
    assert listed == by_option
    assert "'nosuch'" in listed and "Known categories: a, b" in listed
    # Every command that takes a filter refuses it, dry run or not, with a close match
    for command in ("retry", "cancel", "delete"):
        line = one_line_error(cli(command, "--filter", "cat:bb", "--dry-run"), 2, "'bb'")
        assert "Did you mean 'b'?" in line and "Known categories: a, b" in line
    # Among several values, the unknown one is named
    one_line_error(cli("tasks", "--filter", "cat:a,zz state:queued"), 2, "'zz'")


def test_a_category_only_the_store_holds_can_be_filtered(cli: Cli) -> None:
    # Given a task of a category the config no longer has, still in the store
    with cli.store() as store:
        [old] = store.insert([NewTask("gone.job", "gone", "null", 1.0, 1)], 1.0)
    # Then the filter and the bulk commands take it
    assert [t["id"] for t in cli.json("tasks", "--filter", "cat:gone")] == [old]
    result = cli("cancel", "--filter", "cat:gone", "--dry-run")
    assert result.exit_code == 0 and "1 would be cancelled" in result.stdout, result.stdout


@pytest.mark.parametrize("command", ["retry", "cancel", "delete"])
@pytest.mark.parametrize("text", ["", "   "])
def test_a_bulk_change_refuses_an_empty_filter_and_says_how_to_mean_every_task(
    cli: Cli, command: str, text: str
) -> None:
    failed = submit(cli, "a.fail")
    run_until_idle(cli)
    submit(cli, "b.echo")  # one task each command takes: failed, or queued
    line = one_line_error(cli(command, "--filter", text, "--yes"), 2, "is empty", "id:>0")
    assert line.startswith(f"Error: {command} --filter")
    assert cli.task(failed).state == FAILED  # nothing changed
    # Spelled out, every task is meant on purpose
    result = cli(command, "--filter", bulk.EVERY_TASK, "--dry-run")
    assert result.exit_code == 0 and "1 would be" in result.stdout, result.stdout


def test_listing_with_an_empty_filter_still_lists_every_task(cli: Cli) -> None:
    ids = [submit(cli, "b.echo") for _ in range(2)]
    assert [t["id"] for t in cli.json("tasks", "--filter", "")] == ids[::-1]


def test_the_help_of_the_bulk_commands_says_how_to_mean_every_task(cli: Cli) -> None:
    for command in ("retry", "cancel", "delete"):
        result = cli(command, "--help")
        assert result.exit_code == 0
        assert "id:>0" in " ".join(result.stdout.split()), command
