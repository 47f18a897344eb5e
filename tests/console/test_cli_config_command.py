"""``jobsched config`` shows each effective value and where it came from; a bad value is
blamed on its real source; ``jobsched handlers`` lists what ``submit`` accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jobsched.console.settings import load_settings
from jobsched.core import ConfigError

from tests.console.cli_support import Cli, make_cli, one_line_error


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def by_key(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(row["key"]): row for row in rows}


def test_config_names_the_default_the_file_the_env_var_and_the_flag(cli: Cli) -> None:
    # Given: workers from the environment, --db as a flag, the rest from the file or defaults
    other = str(cli.root / "flag.db")
    result = cli("config", "--json", "--db", other, env={"JOBSCHED_WORKERS": "2"})
    assert result.exit_code == 0, result.stderr
    rows = by_key(json.loads(result.stdout))
    # Then
    assert rows["scheduler.workers"] == {
        "key": "scheduler.workers", "value": 2, "from": "env JOBSCHED_WORKERS"
    }  # fmt: skip
    assert rows["storage.db"]["value"] == other and rows["storage.db"]["from"] == "flag --db"
    assert rows["scheduler.balance_interval"]["from"] == str(cli.config)
    assert rows["scheduler.retry_max"] == {
        "key": "scheduler.retry_max", "value": 300.0, "from": "default"
    }  # fmt: skip
    assert rows["categories.a.priority"]["value"] == 1.0
    assert rows["config"]["from"] == "env JOBSCHED_CONFIG"


def test_config_without_json_prints_one_aligned_line_per_key(cli: Cli) -> None:
    result = cli("config")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["key", "value", "from"]
    workers = next(line for line in lines if line.startswith("scheduler.workers "))
    assert workers.split() == ["scheduler.workers", "4", str(cli.config)]


def test_a_bad_environment_value_is_blamed_on_the_variable_not_the_file(cli: Cli) -> None:
    result = cli("status", env={"JOBSCHED_WORKERS": "-3"})
    line = one_line_error(result, 2, "JOBSCHED_WORKERS", "-3")
    assert str(cli.config) not in line and "test.toml" not in line


def test_a_bad_flag_value_is_blamed_on_the_flag(cli: Cli) -> None:
    one_line_error(cli("run", "--workers", "0", "--until-idle"), 2, "--workers", "0")


def test_storage_db_in_the_file_is_checked_even_when_a_flag_overrides_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[categories.x]\n[storage]\ndb = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="storage.db"):
        load_settings(path, db=str(tmp_path / "flag.db"), env={})


def test_handlers_lists_the_configured_handlers_with_their_category(cli: Cli) -> None:
    rows = cli.json("handlers")
    names = {row["name"]: row["category"] for row in rows}
    assert names["a.append"] == "a" and names["b.echo"] == "b"
    human = cli("handlers")
    assert human.exit_code == 0 and "b.echo" in human.stdout


def test_the_web_token_is_shown_as_set_never_its_value(cli: Cli) -> None:
    rows = by_key(cli.json("config"))
    assert rows["web.token"] == {"key": "web.token", "value": None, "from": "default"}
    result = cli("config", "--json", env={"JOBSCHED_WEB_TOKEN": "s3cret"})
    assert by_key(json.loads(result.stdout))["web.token"] == {
        "key": "web.token", "value": "(set)", "from": "env JOBSCHED_WEB_TOKEN"}  # fmt: skip
    shown = cli("config", env={"JOBSCHED_WEB_TOKEN": "s3cret"})
    assert "web.token" in shown.stdout and "s3cret" not in shown.stdout
