"""Values that used to escape the documented exit codes: each is now one line on stderr
with exit 2 (bad input) or 3 (storage), never "unexpected ... This is a bug"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_support import CONFIG, make_cli, one_line_error

pytestmark = pytest.mark.timeout(60)

BIG = str(2**63)


@pytest.mark.parametrize(
    "args",
    [("run", "--grace", "1e12"), ("run", "--for", "1e12"), ("result", "1", "--wait", "--timeout", "1e12")],
    ids=["grace", "for", "timeout"],
)  # fmt: skip
def test_durations_beyond_ten_years_are_bad_input(tmp_path: Path, args: tuple[str, ...]) -> None:
    cli = make_cli(tmp_path)
    one_line_error(cli(*args), 2, "ten years")


def test_a_config_grace_period_of_1e308_is_bad_input(tmp_path: Path) -> None:
    cli = make_cli(tmp_path, CONFIG.replace("grace_period = 5", "grace_period = 1e308"))
    one_line_error(cli("run", "--until-idle"), 2, "grace_period", "ten years")


@pytest.mark.parametrize(
    "args",
    [("show", BIG), ("result", BIG), ("cancel", BIG), ("retry", BIG), ("tasks", "--limit", BIG),
     ("show", "9" * 5000)],
    ids=["show", "result", "cancel", "retry", "limit", "5000-digits"],
)  # fmt: skip
def test_numbers_of_64_bits_and_more_are_bad_input(tmp_path: Path, args: tuple[str, ...]) -> None:
    cli = make_cli(tmp_path)
    line = one_line_error(cli(*args), 2)
    assert "out of range" in line or "not a whole number" in line


def test_a_payload_nested_100000_deep_is_bad_input(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    deep = "[" * 100_000 + "]" * 100_000
    one_line_error(cli("submit", "a.append", "--payload", "-", input=deep), 2, "deeper than 64")
    assert not cli.db.exists() or cli.json("tasks") == []


def test_a_directory_in_place_of_the_start_journal_is_storage_unavailable(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    assert cli("tasks").exit_code == 0  # the database exists
    (tmp_path / "jobs.db.starts").mkdir()
    one_line_error(cli("run", "--until-idle"), 3, "start journal", "is a directory")


def test_a_malformed_ipv6_postgres_url_is_bad_input_and_redacted(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    result = cli("status", env={"JOBSCHED_DB": "postgresql://bob:Hunter2@[::1/db"})
    line = one_line_error(result, 2, "not a valid URL")
    assert "Hunter2" not in line and "bob:***@" in line


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("raise RuntimeError('broken at import')", "RuntimeError: broken at import"),
        ("def broken(:\n    pass\n", "SyntaxError"),
        ("import sys\nsys.exit(9)\n", "SystemExit: 9"),
    ],
    ids=["raises", "syntax-error", "sys-exit"],
)
def test_a_failing_handlers_module_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, words: str
) -> None:
    name = f"failing_handlers_{abs(hash(body))}"
    (tmp_path / f"{name}.py").write_text(body, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    cli = make_cli(tmp_path, CONFIG.replace('"tests.console.cli_handlers"', f'"{name}"'))
    one_line_error(cli("submit", "a.x"), 2, f"handlers module '{name}'", words)


def test_show_cuts_a_huge_result_and_full_prints_it(tmp_path: Path) -> None:
    from jobsched.console.tables import SHOWN_CHARS
    from jobsched.core.task import NewTask, Outcome
    from jobsched.storage import open_store

    cli = make_cli(tmp_path)
    store = open_store(str(cli.db))
    store.open("writer")
    big = "r" * (SHOWN_CHARS * 5)
    [task_id] = store.insert([NewTask("a.append", "a", "null", 0.0, 1)], 0.0)
    store.claim("a", 1, "writer", 0.0)
    store.finish([Outcome(task_id, "writer", 1, "succeeded", 1.0, result=json.dumps(big))])
    store.close()

    shown = cli("show", str(task_id))
    assert shown.exit_code == 0 and len(shown.stdout) < SHOWN_CHARS * 2
    assert "more characters not shown" in shown.stdout and "--full" in shown.stdout
    assert big in cli("show", str(task_id), "--full").stdout.replace("\n", "")
    assert cli.json("show", str(task_id))["result"] == big


def test_result_cuts_a_result_over_the_bound_with_a_note(tmp_path: Path) -> None:
    from jobsched.console.commands.submitting import RESULT_CHARS
    from jobsched.core.task import NewTask, Outcome
    from jobsched.storage import open_store

    cli = make_cli(tmp_path)
    store = open_store(str(cli.db))
    store.open("writer")
    big = "q" * (RESULT_CHARS + 1000)
    [task_id] = store.insert([NewTask("a.append", "a", "null", 0.0, 1)], 0.0)
    store.claim("a", 1, "writer", 0.0)
    store.finish([Outcome(task_id, "writer", 1, "succeeded", 1.0, result=json.dumps(big))])
    store.close()

    cut = cli("result", str(task_id))
    assert cut.exit_code == 0 and len(cut.stdout) <= RESULT_CHARS + 1
    assert "--full" in cut.stderr and f"{RESULT_CHARS:,}" in cut.stderr
    assert json.loads(cli("result", str(task_id), "--full").stdout) == big
