"""The ``jobsched`` commands through Typer's CliRunner, on a SQLite file under tmp_path.

Each test reads Given (a config and database), When (a command), Then (exit code, output,
what the store holds). Bad input always ends in one ``Error:`` line and the exit code of
the error, with nothing stored.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from jobsched.console import reports
from jobsched.core.counters import NodeCounters
from jobsched.core.task import CANCELLED, FAILED, QUEUED, SCHEDULED, SUCCEEDED, NodeInfo

from tests.console.cli_support import Cli, make_cli, one_line_error

STATUS_CATEGORY_KEYS = {
    "name", "kind", "priority", "paused", "min_workers", "max_workers", "workers",
    "queued", "scheduled", "running", "succeeded", "failed", "cancelled",
}  # fmt: skip
STATUS_NODE_KEYS = {
    "node_id", "host", "pid", "heartbeat_age", "state", "alive", "stopped", "workers",
    "targets", "busy", "done", "rate", "rates",
}  # fmt: skip
SHOW_KEYS = {
    "id", "handler", "category", "state", "payload", "result", "error", "attempts",
    "max_attempts", "created_at", "run_at", "started_at", "finished_at",
}  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def submit(cli: Cli, *args: str) -> int:
    result = cli("submit", *args)
    assert result.exit_code == 0, result.stderr
    return int(result.stdout.strip())


def run_until_idle(cli: Cli) -> None:
    result = cli("run", "--until-idle")
    assert result.exit_code == 0, result.stderr
    assert "stopping (idle)" in result.stderr


def task_count(cli: Cli) -> int:
    with cli.store() as store:
        return sum(sum(per.values()) for per in store.counts().values())


# --- global options and usage ----------------------------------------------------------------


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("jobsched ")


def test_no_command_prints_help_and_exits_2(cli: Cli) -> None:
    result = cli()
    assert result.exit_code == 2
    assert "submit" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["frobnicate"], ["No such command 'frobnicate'"]),
        (["submit"], ["Missing argument"]),
        (["tasks", "--limit", "many"], ["--limit"]),
        (["submit", "b.echo", "--delay", "soon"], ["--delay"]),
        (["status", "--colour"], ["No such option"]),
        (["pin", "a", "two"], ["'two'"]),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(cli: Cli, args: list[str], words: list[str]) -> None:
    one_line_error(cli(*args), 2, *words)


def test_the_database_can_be_given_as_a_flag(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    result = cli("--db", str(other), "submit", "b.echo")
    assert result.exit_code == 0, result.stderr
    assert other.exists()


# --- submit ----------------------------------------------------------------------------------


def test_submit_prints_the_id_and_show_reports_the_task(cli: Cli) -> None:
    task_id = submit(cli, "b.echo", "--payload", '{"n": [1, 2]}', "--key", "k1")
    assert submit(cli, "b.echo", "--payload", '{"n": 3}', "--key", "k1") == task_id  # dedup
    shown = cli.json("show", str(task_id))
    assert set(shown) >= SHOW_KEYS
    assert (shown["id"], shown["handler"], shown["category"], shown["state"]) == (
        task_id,
        "b.echo",
        "b",
        QUEUED,
    )
    assert shown["payload"] == {"n": [1, 2]}
    assert shown["created_at"].endswith("Z") and "T" in shown["created_at"]
    human = cli("show", str(task_id))
    assert human.exit_code == 0 and "b.echo" in human.stdout


def test_submit_with_a_delay_is_scheduled(cli: Cli) -> None:
    task_id = submit(cli, "b.echo", "--delay", "60")
    assert cli.task(task_id).state == SCHEDULED


def test_submit_and_inject_take_a_priority_that_show_reports(cli: Cli) -> None:
    task_id = submit(cli, "b.echo", "--priority", "7")
    assert cli.json("show", str(task_id))["priority"] == 7
    assert cli("inject", "a", "--priority", "9").exit_code == 0
    assert cli.task(task_id + 1).priority == 9


def test_submit_reads_the_payload_from_a_file_or_stdin(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"from": "file"}', encoding="utf-8")
    from_file = submit(cli, "b.echo", "--payload", f"@{tmp_path / 'p.json'}")
    result = cli("submit", "b.echo", "--payload", "-", input='{"from": "stdin"}')
    assert result.exit_code == 0, result.stderr
    assert cli.task(from_file).payload_value() == {"from": "file"}
    assert cli.task(int(result.stdout)).payload_value() == {"from": "stdin"}


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (
            ["b.echo", "--category", "bb"],
            2,
            ["unknown category 'bb'", "Did you mean 'b'", "Known categories: a, b"],
        ),
        (["b.ech"], 2, ["unknown handler 'b.ech'", "Did you mean 'b.echo'"]),
        (["b.echo", "--payload", "{not json"], 2, ["--payload", "not valid JSON"]),
        (["b.echo", "--payload", '{"x": NaN}'], 2, ["--payload", "NaN"]),
        (["b.echo", "--payload", "@/no/such/file.json"], 2, ["payload file", "/no/such/file.json"]),
        (["b.echo", "--delay", "-1"], 2, ["delay -1.0", "must not be negative"]),
        (["b.echo", "--delay", "nan"], 2, ["delay", "finite"]),
        (["b.echo", "--delay", "1e12"], 2, ["delay", "ten years"]),
        (["b.echo", "--wait", "--timeout", "-3"], 2, ["--timeout", "-3"]),
        (["bad name!"], 2, ["invalid handler name"]),
        (["b.echo", "--priority", "10"], 2, ["task priority 10", "0 to 9"]),
        (["b.echo", "--priority", "high"], 2, ["'high' is not a whole number"]),
    ],
)
def test_bad_submits_are_rejected_and_store_nothing(
    cli: Cli, args: list[str], code: int, words: list[str]
) -> None:
    one_line_error(cli("submit", *args), code, *words)
    assert not cli.db.exists() or task_count(cli) == 0


# --- inject ----------------------------------------------------------------------------------


def test_inject_submits_synthetic_jobs(cli: Cli) -> None:
    result = cli("inject", "a", "--count", "5", "--duration-ms", "1")
    assert result.exit_code == 0, result.stderr
    assert "injected 5 synthetic tasks into a: ids 1..5" in result.stdout
    assert cli.json("status")["categories"][0]["queued"] == 5


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nope"], ["unknown category 'nope'"]),
        (["a", "--count", "0"], ["count 0"]),
        (["a", "--fail-rate", "2"], ["fail_rate 2.0"]),
        (["a", "--duration-ms", "-5"], ["duration_ms -5.0"]),
    ],
)
def test_bad_injects_are_rejected(cli: Cli, args: list[str], words: list[str]) -> None:
    one_line_error(cli("inject", *args), 2, *words)


# --- reading ---------------------------------------------------------------------------------


def test_status_json_has_categories_nodes_and_decisions(cli: Cli) -> None:
    submit(cli, "b.echo")
    report = cli.json("status")
    assert set(report) >= {"categories", "nodes", "decisions"}
    assert [c["name"] for c in report["categories"]] == ["a", "b"]
    for cat in report["categories"]:
        assert set(cat) >= STATUS_CATEGORY_KEYS
    assert report["categories"][1]["queued"] == 1
    assert report["nodes"] == [] and report["decisions"] == []
    # Then after a node ran, its heartbeat and its decisions are there
    run_until_idle(cli)
    report = cli.json("status")
    (node,) = report["nodes"]
    assert set(node) >= STATUS_NODE_KEYS
    assert node["alive"] is False and node["stopped"] is True and node["state"] == "stopped"
    assert node["done"] == 1 and set(node["targets"]) == {"a", "b"}
    assert isinstance(node["rate"], float) and set(node["rates"]) <= {"a", "b"}
    assert report["decisions"] and report["decisions"][0]["changes"]
    assert report["decisions"][0]["at"].endswith("Z")
    human = cli("status")
    assert human.exit_code == 0 and "category" in human.stdout and "decisions" in human.stdout
    assert "stopped" in human.stdout and f"a {node['targets']['a']} · b" in human.stdout


def heartbeat(at: float, **fields: Any) -> NodeInfo:
    return NodeInfo(node_id="h:7:x", host="h", pid=7, started_at=at - 10, heartbeat_at=at,
                    budget=6, **fields)  # fmt: skip


def test_node_report_sums_rates_and_finished_tasks_from_the_heartbeat() -> None:
    counters = {
        "targets": {"a": 4, "b": 2},
        "rates": {"a": 1.25, "b": 0.5},
        "by_category": {
            "a": {"started": 9, "succeeded": 5, "failed": 2, "cancelled": 1, "retried": 3},
            "b": {"succeeded": 4},
        },
    }
    workers = [{"name": "a-1", "category": "a", "state": "busy"},
               {"name": "a-2", "category": "a", "state": "idle", "retiring": True},
               {"name": "b-1", "category": "b", "state": "idle"}]  # fmt: skip

    node = reports.node_report(
        heartbeat(100.0, workers=workers, counters=NodeCounters.from_dict(counters)), 101.5, 0.5
    )

    assert node["rate"] == 1.75 and node["rates"] == {"a": 1.25, "b": 0.5}
    assert node["targets"] == {"a": 4, "b": 2} and node["workers"] == {"a": 1, "b": 1}
    assert node["busy"] == {"a": 1} and node["done"] == 12
    assert (node["state"], node["alive"], node["heartbeat_age"]) == ("alive", True, 1.5)


def test_node_report_without_counters_falls_back_to_the_workers() -> None:
    workers = [{"name": "a-1", "category": "a", "state": "idle"}]

    node = reports.node_report(heartbeat(100.0, workers=workers), 100.0, 0.5)

    assert node["targets"] == {"a": 1} and node["rate"] == 0 and node["rates"] == {}
    assert node["done"] == 0


@pytest.mark.parametrize(
    ("age", "stopped", "state"),
    [(0.0, False, "alive"), (2.5, False, "alive"), (2.6, False, "stale"), (0.0, True, "stopped")],
)
def test_a_node_is_alive_for_three_intervals_and_a_second(
    age: float, stopped: bool, state: str
) -> None:
    node = reports.node_report(heartbeat(100.0, stopped=stopped), 100.0 + age, 0.5)
    assert node["state"] == state and node["alive"] is (state == "alive")


def test_tasks_lists_newest_first_with_filters(cli: Cli) -> None:
    first = submit(cli, "b.echo")
    second = submit(cli, "a.fail")
    assert [t["id"] for t in cli.json("tasks")] == [second, first]
    assert [t["id"] for t in cli.json("tasks", "--category", "a")] == [second]
    assert [t["id"] for t in cli.json("tasks", "--state", "queued", "--limit", "1")] == [second]
    assert cli.json("tasks", "--state", "failed") == []
    human = cli("tasks")
    assert human.exit_code == 0 and "a.fail" in human.stdout


def test_tasks_rejects_an_unknown_state_or_category(cli: Cli) -> None:
    one_line_error(cli("tasks", "--state", "done"), 2, "task state 'done'", "succeeded")
    one_line_error(cli("tasks", "--category", "c"), 2, "unknown category 'c'")
    one_line_error(cli("tasks", "--limit", "0"), 2, "--limit 0")


def test_show_and_result_of_an_unknown_task(cli: Cli) -> None:
    submit(cli, "b.echo")
    one_line_error(cli("show", "99"), 2, "unknown task 99")
    one_line_error(cli("result", "99"), 2, "unknown task 99")


def test_result_of_finished_tasks(cli: Cli) -> None:
    ok = submit(cli, "b.echo", "--payload", '{"answer": 42}')
    bad = submit(cli, "a.fail")
    gone = submit(cli, "b.echo", "--delay", "600")
    assert cli("cancel", str(gone)).exit_code == 0
    run_until_idle(cli)
    result = cli("result", str(ok))
    assert result.exit_code == 0 and json.loads(result.stdout) == {"answer": 42}
    assert json.loads(cli("result", str(ok), "--wait", "--timeout", "1").stdout) == {"answer": 42}
    one_line_error(cli("result", str(bad)), 1, f"task {bad}", "failed", "failed on purpose")
    one_line_error(cli("result", str(gone)), 1, f"task {gone}", "cancelled")


def test_result_of_an_unfinished_task(cli: Cli) -> None:
    task_id = submit(cli, "b.echo")
    one_line_error(cli("result", str(task_id)), 5, "is still queued", "--wait")
    one_line_error(
        cli("result", str(task_id), "--wait", "--timeout", "0.2"), 5, "did not finish within 0.2 s"
    )
    one_line_error(
        cli("submit", "b.echo", "--wait", "--timeout", "0.2"), 5, "did not finish within 0.2 s"
    )


# --- changing --------------------------------------------------------------------------------


def test_priority_pause_pin_and_rebalance_are_stored(cli: Cli) -> None:
    assert cli("priority", "b", "2.5").stdout.strip() == "b: priority 2.5"
    assert cli("pause", "a").exit_code == 0
    assert cli("pin", "b", "2").exit_code == 0
    assert cli("rebalance").exit_code == 0
    cats = {c["name"]: c for c in cli.json("status")["categories"]}
    assert cats["b"]["priority"] == 2.5 and cats["b"]["pinned"] == 2
    assert cats["a"]["paused"] is True
    assert cli("resume", "a").exit_code == 0
    assert cli("unpin", "b").exit_code == 0
    cats = {c["name"]: c for c in cli.json("status")["categories"]}
    assert cats["a"]["paused"] is False and cats["b"]["pinned"] is None


@pytest.mark.parametrize(
    ("weight", "words"),
    [
        ("nan", ["'b'", "nan", "finite"]),
        ("inf", ["'b'", "inf", "finite"]),
        ("0", ["'b'", "must be above 0"]),
        ("-1", ["'b'", "-1", "must be above 0"]),
        ("abc", ["'b'", "'abc'", "not a number"]),
    ],
)
def test_bad_priorities_are_rejected(cli: Cli, weight: str, words: list[str]) -> None:
    one_line_error(cli("priority", "b", weight), 2, *words)
    assert cli.json("status")["categories"][1]["priority"] == 1


def test_changes_to_unknown_categories_are_rejected(cli: Cli) -> None:
    for args in (
        ["priority", "x", "2"],
        ["pause", "x"],
        ["resume", "x"],
        ["pin", "x", "1"],
        ["unpin", "x"],
    ):
        one_line_error(cli(*args), 2, "unknown category 'x'", "Known categories: a, b")


def test_a_pin_over_the_budget_is_rejected(cli: Cli) -> None:
    one_line_error(cli("pin", "a", "9"), 2, "above the budget of 4")
    one_line_error(cli("pin", "a", "-1"), 2, "pin -1")


def test_cancel_and_retry(cli: Cli) -> None:
    queued = submit(cli, "b.echo")
    failing = submit(cli, "a.fail")
    result = cli("cancel", str(queued))
    assert result.exit_code == 0 and f"task {queued}: cancelled" in result.stdout
    assert cli.task(queued).state == CANCELLED
    assert "already finished" in cli("cancel", str(queued)).stdout
    run_until_idle(cli)
    assert cli.task(failing).state == FAILED
    # When both are retried by id, then both are queued again
    result = cli("retry", str(queued), str(failing))
    assert result.exit_code == 0, result.stderr
    assert {cli.task(queued).state, cli.task(failing).state} == {QUEUED}
    run_until_idle(cli)
    assert cli.task(queued).state == SUCCEEDED
    # And --failed retries every failed task
    result = cli("retry", "--failed")
    assert result.exit_code == 0 and "retried 1 failed task\n" in result.stdout
    assert cli.task(failing).state == QUEUED


def test_cancel_and_retry_reject_bad_ids(cli: Cli) -> None:
    done = submit(cli, "b.echo")
    one_line_error(cli("cancel", "404"), 2, "unknown task 404")
    one_line_error(cli("retry"), 2, "needs task ids, --failed or --filter")
    one_line_error(cli("retry", "1", "--failed"), 2, "needs task ids, --failed or --filter")
    one_line_error(cli("retry", "404"), 2, "unknown task 404")
    result = cli("retry", str(done))
    assert result.exit_code == 2 and "is queued" in result.stderr


# --- configuration and storage faults ------------------------------------------------------


def test_a_config_path_that_is_a_device_or_fifo_says_so(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        one_line_error(cli("--config", path, "status"), 2, path, "not a regular file")


def test_a_missing_config_file_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    one_line_error(
        cli("--config", str(tmp_path / "nope.toml"), "status"), 2, "nope.toml", "does not exist"
    )
    one_line_error(
        cli("status", env={"JOBSCHED_CONFIG": str(tmp_path / "gone.toml")}), 2, "gone.toml"
    )


def test_a_bad_config_file_names_the_key_and_the_file(cli: Cli) -> None:
    cli.config.write_text("[scheduler]\nworkers = 'eight'\n", encoding="utf-8")
    one_line_error(cli("status"), 2, str(cli.config), "scheduler.workers", "'eight'")


def test_a_bad_environment_value_is_exit_2(cli: Cli) -> None:
    one_line_error(cli("status", env={"JOBSCHED_WORKERS": "lots"}), 2, "JOBSCHED_WORKERS", "'lots'")


def test_a_handler_module_that_cannot_be_imported_is_exit_2(cli: Cli) -> None:
    cli.config.write_text(
        cli.config.read_text().replace("tests.console.cli_handlers", "no.such.module")
    )
    one_line_error(cli("status"), 2, "handlers module 'no.such.module'")


def test_a_missing_database_directory_is_exit_3(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "jobs.db"
    for args in (["submit", "b.echo"], ["status"], ["run", "--until-idle"]):
        one_line_error(cli("--db", str(missing), *args), 3, str(missing.parent), "does not exist")
    assert not (tmp_path / "no").exists()


def test_a_read_only_database_refuses_writes_and_nodes(cli: Cli) -> None:
    task_id = submit(cli, "b.echo")
    url = f"sqlite:///{cli.db}?mode=ro"
    one_line_error(cli("--db", url, "submit", "b.echo"), 3, "read-only")
    one_line_error(cli("--db", url, "priority", "b", "2"), 3, "read-only")
    one_line_error(cli("--db", url, "run", "--until-idle"), 3, "read-only")
    # Reading still works
    result = cli("--db", url, "show", str(task_id), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == task_id
    assert task_count(cli) == 1


def test_a_foreign_sqlite_database_is_refused_untouched(cli: Cli) -> None:
    with sqlite3.connect(cli.db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()
    before = cli.db.read_bytes()
    for args in (["submit", "b.echo"], ["status"], ["run", "--until-idle"]):
        one_line_error(cli(*args), 3, str(cli.db))
    assert cli.db.read_bytes() == before


def test_an_empty_file_is_refused(cli: Cli) -> None:
    cli.db.write_bytes(b"")
    one_line_error(cli("status"), 3, str(cli.db))
    assert cli.db.read_bytes() == b""


def test_a_database_url_with_an_unknown_scheme_is_exit_2(cli: Cli) -> None:
    one_line_error(cli("--db", "mysql://x/y", "status"), 2, "mysql")


# --- console ---------------------------------------------------------------------------------


def test_console_reports_a_missing_textual_app_in_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jobsched.console.compose", None)  # the lazy import fails
    one_line_error(cli("console"), 2, "console", "not available")


def test_the_cli_module_does_not_import_textual() -> None:
    import subprocess

    code = "import sys, console.cli; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert out.stdout.strip() == "False"


def test_console_needs_a_terminal(cli: Cli) -> None:
    one_line_error(cli("console"), 2, "needs a terminal")


# --- the node in-process, interrupts and bugs ------------------------------------------------


def test_run_for_a_while_then_stop(cli: Cli) -> None:
    task_id = submit(cli, "b.echo", "--payload", '{"x": 1}')
    result = cli("run", "--for", "0.5")
    assert result.exit_code == 0, result.stderr
    assert "stopping (--for 0.5 s elapsed)" in result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("jobsched: rate=")]
    assert progress and " | a q=" in progress[0] and " | b q=" in progress[0]
    assert cli.task(task_id).state == SUCCEEDED


def test_run_rejects_bad_durations(cli: Cli) -> None:
    one_line_error(cli("run", "--for", "-1"), 2, "--for -1.0")
    one_line_error(cli("run", "--grace", "nan"), 2, "--grace nan")
    one_line_error(cli("run", "--workers", "0"), 2, "workers", "0")


def test_ctrl_c_while_waiting_exits_130(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = submit(cli, "b.echo")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("jobsched.console.reports.wait_terminal", interrupted)
    one_line_error(cli("result", str(task_id), "--wait"), 130, "interrupted")


def test_an_unexpected_exception_is_one_line_without_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something odd")

    monkeypatch.setattr("jobsched.console.reports.status_report", broken)
    one_line_error(cli("status"), 1, "unexpected RuntimeError: something odd", "JOBSCHED_DEBUG")
