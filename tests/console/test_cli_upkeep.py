"""``jobsched prune``, ``check`` and ``vacuum`` on a real SQLite file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from jobsched.core.task import FAILED, SUCCEEDED, Outcome

from tests.console.cli_support import Cli, make_cli, one_line_error
from tests.store_contract import new

DAY = 86400.0


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def finished(cli: Cli, state: str, ages: list[float]) -> None:
    """Given tasks of category a that finished ``ages`` seconds ago."""
    now = time.time()
    with cli.store() as store:
        store.insert([new(category="a") for _ in ages], now - max(ages) - 60)
        tasks = store.claim("a", len(ages), "node-x", now - max(ages) - 60)
        store.finish(
            [
                Outcome(t.id, "node-x", t.attempts, state, now - age)
                for t, age in zip(tasks, ages, strict=True)
            ]
        )


def test_prune_follows_the_options_and_a_dry_run_deletes_nothing(cli: Cli) -> None:
    finished(cli, SUCCEEDED, [3 * DAY, 2 * DAY, 3600])
    finished(cli, FAILED, [3 * DAY])
    dry = cli.json("prune", "--older-than", "1d", "--dry-run")
    assert dry == {"dry_run": True, "would_delete": {"succeeded": 2, "failed": 1, "cancelled": 0}}
    done = cli.json("prune", "--state", "succeeded", "--older-than", "1d")
    assert done == {"dry_run": False, "deleted": {"succeeded": 2}}
    with cli.store() as store:
        assert store.counts()["a"][SUCCEEDED] == 1 and store.counts()["a"][FAILED] == 1
    # The configured rules (defaults: 7 days, 30 days) find nothing more
    assert cli.json("prune")["deleted"] == {"succeeded": 0, "failed": 0, "cancelled": 0}


def test_prune_refuses_a_bad_state_or_duration(cli: Cli) -> None:
    one_line_error(cli("prune", "--state", "queued"), 2, "--state", "queued")
    one_line_error(cli("prune", "--older-than", "soon"), 2, "--older-than", "soon")


def test_check_exits_1_on_a_difference_and_0_once_repaired(cli: Cli) -> None:
    finished(cli, SUCCEEDED, [60, 60])
    assert cli("check").exit_code == 0
    conn = sqlite3.connect(cli.db)
    conn.execute("UPDATE task_counts SET n = 7 WHERE state = 'succeeded'")
    conn.commit()
    conn.close()
    result = cli("check")
    assert result.exit_code == 1
    assert "a succeeded: counter 7, tasks 2" in result.stdout
    repaired = cli("check", "--repair", "--json")
    assert repaired.exit_code == 0, repaired.stderr
    assert '"repaired": true' in repaired.stdout
    assert cli("check").exit_code == 0


def test_vacuum_reports_the_sizes(cli: Cli) -> None:
    finished(cli, SUCCEEDED, [3 * DAY] * 50)
    cli.json("prune", "--older-than", "1d")
    sizes = cli.json("vacuum")
    assert sizes["bytes_after"] <= sizes["bytes_before"]
