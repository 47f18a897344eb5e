"""Global options go before or after the command, and help reads like hand-written help:
metavars such as ``ID...`` and ``SECONDS``, never Python types such as ``<bool>``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from jobsched.console.cli import app

from tests.console.cli_support import Cli, make_cli

COMMANDS = sorted(
    c.name or c.callback.__name__ for c in app.registered_commands if c.callback is not None
)
TYPE_PLACEHOLDER = re.compile(r"<(bool|str|int|float|list\[[a-z]+\])>|\{[A-Z]")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


@pytest.mark.parametrize("where", ["before", "after"])
def test_db_and_config_are_accepted_before_or_after_the_command(cli: Cli, where: str) -> None:
    # Given: the environment names one database, the command line another
    other = cli.root / "other.db"
    opts = ["--db", str(other), "--config", str(cli.config)]
    args = [*opts, "status", "--json"] if where == "before" else ["status", *opts, "--json"]
    # When
    result = cli(*args, env={"JOBSCHED_CONFIG": None})
    # Then: the flag wins over JOBSCHED_DB, wherever it stands
    assert result.exit_code == 0, result.stderr
    assert str(other) in result.stdout
    assert other.exists()


def test_the_option_given_last_wins(cli: Cli) -> None:
    first, last = cli.root / "first.db", cli.root / "last.db"
    result = cli("--db", str(first), "status", "--db", str(last), "--json")
    assert result.exit_code == 0, result.stderr
    assert str(last) in result.stdout and str(first) not in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_names_the_global_options(cli: Cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "--db" in result.stdout and "--config" in result.stdout


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_metavars_not_python_types(cli: Cli, command: str | None) -> None:
    result = cli(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.stderr
    assert not TYPE_PLACEHOLDER.search(result.stdout), result.stdout


def test_help_shows_argument_metavars_in_usage(cli: Cli) -> None:
    assert "jobsched cancel [OPTIONS] [ID...]" in cli("cancel", "--help").stdout  # or --filter
    assert "jobsched retry [OPTIONS] [ID...]" in cli("retry", "--help").stdout
    assert "jobsched priority [OPTIONS] CATEGORY WEIGHT" in cli("priority", "--help").stdout


def test_submit_help_points_to_the_handlers_command(cli: Cli) -> None:
    assert "jobsched handlers" in cli("submit", "--help").stdout


def unwrapped(help_text: str) -> str:
    """The rendered help as one line of words: no panel borders, no wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", help_text).split())


def test_configuration_tables_in_help_are_shown_literally(cli: Cli) -> None:
    # Rich read "[web]" as markup and printed "config: token"
    assert "config: [web] token" in unwrapped(cli("console", "--help").stdout)
    assert "(config: [metrics] listen)" in unwrapped(cli("run", "--help").stdout)
    prune = unwrapped(cli("prune", "--help").stdout)
    assert "Follows [retention] of the configuration" in prune
    assert "instead of following [retention]." in prune


@pytest.mark.parametrize("command", COMMANDS)
def test_every_bracketed_word_of_a_help_text_is_printed(cli: Cli, command: str) -> None:
    found = typer.main.get_group(app).commands[command]
    texts = [found.help or "", *(getattr(p, "help", None) or "" for p in found.params)]
    words = {w for text in texts for w in re.findall(r"\[[^\]\s]+\]", text.replace("\\[", "["))}
    shown = unwrapped(cli(command, "--help").stdout)
    assert not [w for w in words if w not in shown], shown
