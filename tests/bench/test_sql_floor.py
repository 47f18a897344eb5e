"""``bench/sql_floor.py`` measures what its rows say: every variant takes every task
through to its end, on the schema it names, and the report's ceilings are the
yardstick's time over each floor."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench import sql_floor


@pytest.mark.timeout(30)
def test_each_variant_takes_every_task_through() -> None:
    # Given a few windows of tasks and a remainder
    n = 2 * sql_floor.WINDOW + 37

    # When every variant runs once
    [seconds] = sql_floor.run_rounds(n, 1)

    # Then each one gave a figure (a variant that lost a task raises instead)
    assert set(seconds) == set(sql_floor.VARIANTS)


@pytest.mark.timeout(30)
def test_the_statements_variant_ends_every_task_on_the_schema_it_names(tmp_path: Path) -> None:
    # Given the store's statements, run without the three secondary indexes
    n = sql_floor.WINDOW + 5
    sql_floor.statements_alone(tmp_path, n, sql_floor.SECONDARY)

    # Then every task succeeded, claimed once, and those indexes are gone
    [database] = tmp_path.glob("*.db")
    with sqlite3.connect(database) as conn:
        states = conn.execute(
            "SELECT state, attempts, COUNT(*) FROM tasks GROUP BY 1, 2"
        ).fetchall()
        indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert states == [("succeeded", 1, n)]
    assert not indexes & set(sql_floor.SECONDARY)
    assert "tasks_claim" in indexes


def test_a_variant_that_lost_tasks_voids_its_figure() -> None:
    # Given a variant that took 7 of its 9 tasks through
    # When its count is checked, then the figure is refused, saying how many went through
    with pytest.raises(RuntimeError, match="7 of 9 tasks"):
        sql_floor.check_through(7, 9, "store alone")


def test_the_ceiling_is_the_yardsticks_time_over_the_floor() -> None:
    # Given three rounds where the store alone took 2, 4 and 5 times the yardstick's time
    rounds = [{label: 1.0 for label in sql_floor.VARIANTS} for _ in range(3)]
    for r, times in zip(rounds, (2.0, 4.0, 5.0), strict=True):
        r["jobsched: the store alone"] = times

    # When reported
    text = sql_floor.report(1000, rounds)

    # Then the ceiling row gives each round's ratio and their median
    assert "| jobsched: the store alone | 0.25 x | 0.50, 0.25, 0.20 |" in text
