"""Configuration loading: TOML, then JOBSCHED_* environment, then flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobsched.console.config_report import config_rows
from jobsched.console.settings import DEFAULT_DB, DEMO_CONFIG, load_settings
from jobsched.core import ConfigError

SMALL = """\
[scheduler]
workers = 3
balance_interval = 1.5

[categories.x]
priority = 2
min_workers = 1
"""


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_without_any_file_the_packaged_demo_config_is_used(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.source == DEMO_CONFIG
    assert settings.db == DEFAULT_DB
    assert {"email", "web"} <= set(settings.config.categories)


def test_a_jobsched_toml_in_the_working_directory_is_picked_up(tmp_path: Path) -> None:
    write(tmp_path, SMALL, "jobsched.toml")
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.config.workers == 3
    assert list(settings.config.categories) == ["x"]


def test_environment_overrides_toml_and_flags_override_environment(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    env = {"JOBSCHED_CONFIG": str(path), "JOBSCHED_WORKERS": "5", "JOBSCHED_BALANCE_INTERVAL": "0.5",
           "JOBSCHED_DB": "env.db"}  # fmt: skip
    settings = load_settings(env=env, cwd=tmp_path)
    assert (settings.config.workers, settings.config.balance_interval, settings.db) == (
        5,
        0.5,
        "env.db",
    )
    settings = load_settings(db="flag.db", env=env, cwd=tmp_path, workers=2)
    assert (settings.config.workers, settings.db) == (2, "flag.db")


def test_storage_db_in_the_file_is_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL + '\n[storage]\ndb = "data/jobs.db"\n')
    assert load_settings(path, env={}).db == str(tmp_path / "data" / "jobs.db")


def test_a_missing_config_named_explicitly_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings(tmp_path / "nope.toml", env={})
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "[scheduler]\nwrkers = 3\n",
            ["unknown key", "scheduler.wrkers", "Did you mean 'scheduler.workers'"],
        ),
        ("[categories.x]\npriorty = 2\n", ["unknown key", "categories.x.priorty"]),
        ("[nonsense]\n", ["unknown key", "nonsense"]),
        ('[scheduler]\nworkers = "8"\n', ["scheduler.workers", "'8'", "whole number"]),
        ("[categories.x]\npriority = true\n", ["categories.x.priority", "True", "number"]),
        ("[scheduler]\nworkers = 0\n[categories.x]\n", ["workers", "0"]),
        ("[scheduler]\nworkers = 2\n[categories.x]\nmin_workers = 3\n", ["min_workers"]),
        ("[scheduler\n", ["not valid TOML"]),
        (
            '[categories.x]\n[retention]\nhistory = "30m"\n',
            ["retention.history", "'30m'", "at least 1h", '"48h"'],
        ),
        (
            "[categories.x]\n[retention]\nhistory = 1000\n",
            ["retention.history", "1000", '"48h"', "forever"],
        ),
        ('[categories.x]\n[retention]\nhistroy = "1d"\n', ["unknown key", "retention.history"]),
    ],
)
def test_bad_config_files_name_the_key_and_the_file(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(path) in caught.value.message
    for word in words:
        assert word in caught.value.message
    assert caught.value.exit_code == 2


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JOBSCHED_WORKERS") as caught:
        load_settings(write(tmp_path, SMALL), env={"JOBSCHED_WORKERS": "many"})
    assert "'many'" in caught.value.message


def test_the_history_retention_comes_from_the_retention_table(tmp_path: Path) -> None:
    # Given a file that keeps the history a week and failed tasks forever
    path = write(tmp_path, SMALL + '\n[retention]\nhistory = "7d"\nfailed = "forever"\n')
    settings = load_settings(path, env={})
    # Then both reach the configuration, each from the file, and `config` shows them
    assert settings.config.history_retention == "7d"
    assert settings.config.retention["failed"] == "forever"
    assert settings.origins["retention.history"] == str(path)
    rows = {row["key"]: row for row in config_rows(settings)}
    assert rows["retention.history"] == {"key": "retention.history", "value": "7d",
                                         "from": str(path)}  # fmt: skip
    # And without it, the default
    default = {
        row["key"]: row for row in config_rows(load_settings(write(tmp_path, SMALL), env={}))
    }
    assert default["retention.history"]["value"] == "48h"
    assert default["retention.history"]["from"] == "default"
