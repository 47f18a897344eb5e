"""``jobsched limit``: an operator's rate limit is stored for every node, and bad rates
are refused naming the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobsched.core import CategoryConfig, Client, SchedulerConfig
from jobsched.core.limits import RateLimit
from jobsched.storage import open_store

from tests.console.cli_support import Cli, make_cli, one_line_error


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def stored(cli: Cli, category: str) -> tuple[str | None, int | None]:
    store = open_store(str(cli.db))
    store.open(None)
    try:
        settings = store.load_settings().get(category)
        return (None, None) if settings is None else (settings.rate, settings.burst)
    finally:
        store.close()


def test_limit_stores_the_rate_and_burst_and_none_lifts_it(cli: Cli) -> None:
    result = cli("limit", "a", "20/s", "--burst", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "a: at most 20/s burst 5"
    assert stored(cli, "a") == ("20/s", 5)
    # And a node reading the store applies it over the configuration
    client = Client(SchedulerConfig(categories={"a": CategoryConfig()}), open_store(str(cli.db)))
    client.store.open(None)
    assert client.category_config("a").rate_limit() is not None
    client.store.close()
    result = cli("limit", "a", "none")
    assert result.exit_code == 0 and result.stdout.strip() == "a: no rate limit"
    assert stored(cli, "a") == ("none", None)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["a", "20"], ["rate of category 'a' '20'", "N/s"]),
        (["a", "fast/s"], ["'fast/s'"]),
        (["a", "0/s"], ["'0/s'", "above 0"]),
        (["a", "20/s", "--burst", "0"], ["burst 0"]),
        (["nope", "20/s"], ["unknown category 'nope'"]),
    ],
)
def test_a_bad_limit_is_refused_and_stores_nothing(
    cli: Cli, args: list[str], words: list[str]
) -> None:
    one_line_error(cli("limit", *args), 2, *words)
    assert not cli.db.exists() or stored(cli, "a") == (None, None)


def test_limit_handler_stores_an_operator_limit_and_none_returns_to_the_configured_one(
    cli: Cli,
) -> None:
    # Given a.append configured at 1/min (the tests' handlers module registers it)
    cli.config.write_text(
        cli.config.read_text() + '\n[handlers."a.append"]\nrate = "1/min"\n', encoding="utf-8"
    )
    result = cli("limit", "--handler", "a.append", "5/s", "--burst", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "a.append: at most 5/s burst 3"
    assert stored(cli, "handler:a.append") == ("5/s", 3)
    # And a node reading the store applies it over the configuration
    config = SchedulerConfig(categories={"a": CategoryConfig()})
    client = Client(config, open_store(str(cli.db)))
    client.store.open(None)
    client.handler("a.append")(lambda p: None)
    assert client.handler_rates()["a.append"] == RateLimit(5.0, 3, "5/s")
    assert "handler:a.append" not in client.load_settings()
    client.store.close()
    # "none" lifts the operator's limit: the configured one applies again
    result = cli("limit", "--handler", "a.append", "none")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "a.append: at most 1/min (as configured)"
    assert stored(cli, "handler:a.append") == (None, None)
    # "unlimited" lifts the configured one too
    result = cli("limit", "--handler", "a.append", "unlimited")
    assert result.exit_code == 0 and result.stdout.strip() == "a.append: no rate limit"
    assert stored(cli, "handler:a.append") == ("none", None)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--handler", "a.nope", "5/s"], ["unknown handler 'a.nope'", "a.append"]),
        (["--handler", "a.append", "5/fortnight"], ["rate of handler 'a.append'", "5/fortnight"]),
        (["--handler", "a.append", "5/s", "--burst", "0"], ["burst 0"]),
        (["--handler", "a.append", "a", "5/s"], ["'a 5/s'", "one RATE"]),
        (["a"], ["'a'", "needs a RATE"]),
    ],
)
def test_a_bad_handler_limit_is_refused_and_stores_nothing(
    cli: Cli, args: list[str], words: list[str]
) -> None:
    one_line_error(cli("limit", *args), 2, *words)
    assert not cli.db.exists() or stored(cli, "handler:a.append") == (None, None)
