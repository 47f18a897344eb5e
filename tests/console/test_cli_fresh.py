"""``--fresh`` starts on a new, empty database and keeps the old one, moved aside under a
name it prints; it never moves a database a node is running on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.cli_support import Cli, Node, make_cli, one_line_error


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


def test_fresh_moves_the_old_database_aside_and_starts_empty(cli: Cli) -> None:
    # Given: a database with a paused category and a task
    assert cli("inject", "a").exit_code == 0
    assert cli("pause", "a").exit_code == 0
    # When
    result = cli("run", "--fresh", "--for", "0")
    # Then: a new, empty database; the old one kept under the name printed
    assert result.exit_code == 0, result.stderr
    aside = result.stderr.split("moved the old database aside to ", 1)[1].split(";", 1)[0]
    assert Path(aside).is_file() and Path(aside).parent == cli.db.parent
    status = cli.json("status")
    assert all(c["queued"] == 0 and not c["paused"] for c in status["categories"])
    old = cli.json("status", "--db", aside)
    assert old["categories"][0]["paused"] and old["categories"][0]["queued"] == 1


def test_fresh_refuses_to_move_a_database_a_node_runs_on(cli: Cli) -> None:
    node = Node(cli)
    try:
        node.wait_up()
        one_line_error(cli("run", "--fresh", "--for", "0"), 4)
        assert cli.db.is_file()
    finally:
        node.signal()
        node.wait()


def test_fresh_is_refused_on_postgresql(cli: Cli) -> None:
    result = cli("run", "--fresh", "--db", "postgresql://nobody@127.0.0.1:1/x")
    one_line_error(result, 2, "--fresh", "SQLite files only")
