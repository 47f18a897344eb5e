"""The console's task list on PostgreSQL: after ANALYZE, with 20,000 tasks, the planner
reads every page the console asks for through an index, never a scan of the table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from jobsched.core.query import Page
from jobsched.storage import PostgresStore, query_sql
from jobsched.storage.columns import TASK_COLUMNS
from jobsched.storage.postgres import queries

from tests.storage.task_list import fill, pages

pytestmark = pytest.mark.postgres
ROWS = 20_000


@pytest.fixture
def store(pg_schema: tuple[str, str]) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_schema[0])
    store.open(None)
    yield store
    store.close()


def statement(store: PostgresStore, page: Page) -> tuple[str, list[Any]]:
    """The SELECT ``store.find_tasks(page)`` runs (built as the store builds it)."""
    walk = query_sql.choose_walk(page.query, store.counts())
    return query_sql.page_sql(TASK_COLUMNS, page, "%s", walk, queries.LIST_INDEXES)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def test_every_page_the_console_reads_uses_an_index(
    store: PostgresStore, admin: psycopg.Connection[Any]
) -> None:
    # Given 20,000 tasks, most queued, the oldest tenth finished, and fresh statistics
    fill(store, ROWS)
    admin.execute("ANALYZE tasks")
    reads: Callable[[Page], list[Any]] = store.find_tasks
    for name, page in pages(ROWS).items():
        sql, params = statement(store, page)
        [[explained]] = admin.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchall()
        scans = [n for n in nodes(explained[0]["Plan"]) if n.get("Relation Name") == "tasks"]
        # Then every read of the table goes through an index; for a filter of states or
        # categories, a walk of that index bounded by them (not every id, filtered)
        assert scans and all("Index" in n["Node Type"] for n in scans), (name, explained)
        if page.query.states or page.query.categories:
            conditions = [n.get("Index Cond") or "" for n in scans]
            assert all("state" in c or "category" in c for c in conditions), (name, explained)
        assert reads(page) or "running" in name, name
