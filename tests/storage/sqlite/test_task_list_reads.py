"""The console's task list on SQLite: every page it reads after a key is an index walk,
whose work does not grow with the table (for a free word it does: text has no index)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jobsched.core.query import Page, parse
from jobsched.storage import SqliteStore

from tests.storage.task_list import NO_MATCH, fill, pages
from tests.store_contract import T0

MakeStore = Callable[..., SqliteStore]
SMALL, BIG = 1_000, 10_000


@contextmanager
def traced(store: SqliteStore) -> Iterator[list[str]]:
    """The statements ``store`` runs on this thread meanwhile, parameters filled in."""
    conn = store._conn()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        conn.set_trace_callback(None)


def work(store: SqliteStore, page: Page) -> int:
    """How much work SQLite does to read ``page``: virtual machine steps, in hundreds
    (a count, not a time: the same on any machine)."""
    conn = store._conn()
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(step, 100)
    try:
        store.find_tasks(page)
    finally:
        conn.set_progress_handler(None, 0)
    return steps[0]


def page_plan(store: SqliteStore, page: Page) -> str:
    """The query plan of the statement that reads ``page``'s rows."""
    with traced(store) as statements:
        rows = store.find_tasks(page)
    [statement] = [s for s in statements if "FROM tasks" in s]
    conn = sqlite3.connect(store.path)
    try:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}"))
    finally:
        conn.close()
    assert rows or "running" in statement  # the pages are not empty (but one)
    return plan


@pytest.fixture
def big(make_store: MakeStore, tmp_path: Path) -> SqliteStore:
    store = make_store(tmp_path / "big.db")
    store.open(None)
    fill(store, BIG)
    return store


def test_every_page_the_console_reads_walks_an_index(big: SqliteStore) -> None:
    for name, page in pages(BIG).items():
        plan = page_plan(big, page)
        if page.query.states or page.query.categories:
            # one walk of tasks_state or tasks_category per value, never a scan or a
            # sort of the matching rows (a merge sorts at most a page from each walk)
            walks = [part for part in plan.split(" | ") if "tasks" in part.split(" ")[:2]]
            assert walks and all(
                w.startswith("SEARCH tasks USING") and ("tasks_state" in w or "tasks_category" in w)
                for w in walks
            ), (name, plan)
        elif page.query.id_ranges or page.after is not None:
            assert plan.startswith("SEARCH tasks USING INTEGER PRIMARY KEY"), (name, plan)
        else:  # the first page: the ids from one end, stopped after a page
            assert plan == "SCAN tasks", (name, plan)


def test_the_work_of_a_page_does_not_grow_with_the_table(
    make_store: MakeStore, tmp_path: Path, big: SqliteStore
) -> None:
    # Given the same store at a tenth of the size
    small = make_store(tmp_path / "small.db")
    small.open(None)
    fill(small, SMALL)
    for name, page in pages(BIG).items():
        if page.after is not None or page.query.id_ranges:
            continue  # a position in the big table: compared below at the same depth
        # Then a page of ten times the rows costs about the same
        assert work(big, page) <= 2 * work(small, page) + 5, name
    deep = pages(BIG)["state:queued, a later page"]
    shallow = pages(SMALL)["state:queued, a later page"]
    assert work(big, deep) <= 2 * work(small, shallow) + 5
    # And the measure sees a scan: a word that matches nothing reads every row
    word = Page(parse(NO_MATCH, T0), limit=30)
    assert work(big, word) >= 5 * work(small, word) > 0


def test_a_bulk_count_by_state_reads_the_state_index(big: SqliteStore) -> None:
    with traced(big) as statements:
        assert big.count_tasks(parse("state:failed,cancelled", T0)) == BIG // 10 // 7
    conn = sqlite3.connect(big.path)
    plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statements[-1]}"))
    conn.close()
    assert "COVERING INDEX tasks_state (state=?)" in plan and "SCAN" not in plan
