"""Fixtures shared by the PostgreSQL store tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from jobsched.storage.postgres.connection import parse_url


@pytest.fixture
def admin(pg_url: str, pg_schema: tuple[str, str]) -> Iterator[psycopg.Connection[Any]]:
    """A plain connection to the test's schema, for looking behind the store's back."""
    _, schema = pg_schema
    conn = psycopg.connect(
        parse_url(pg_url).conninfo, autocommit=True, options=f"-c search_path={schema}"
    )
    yield conn
    conn.close()
