"""Shared fixtures."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _quiet_jobsched_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jobsched")


# --- PostgreSQL ------------------------------------------------------------------------
# The PostgreSQL tests run against JOBSCHED_TEST_PG (default: the local server CI starts).
# Unreachable: they skip, saying how to enable them; with CI set they fail instead.

PG_ENV = "JOBSCHED_TEST_PG"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def pg_probe(url: str) -> str | None:
    """None if a connection to ``url`` works, else why not (one line, no password)."""
    try:
        import psycopg
        from jobsched.storage.postgres.connection import parse_url
    except ImportError as exc:
        return f"the driver is missing ({exc}); pip install -e '.[test]'"

    settings = parse_url(url)
    try:
        psycopg.connect(settings.conninfo, connect_timeout=3).close()
    except psycopg.Error as exc:
        return settings.target.mask(" ".join(str(exc).split()))
    return None


def with_query(url: str, **options: object) -> str:
    """``url`` with ``options`` added to its query string."""
    from urllib.parse import urlencode

    return url + ("&" if "?" in url else "?") + urlencode(options)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test server's URL; skips (fails under CI) when it cannot be reached."""
    from jobsched.storage.postgres.url import redact

    url = os.environ.get(PG_ENV) or PG_DEFAULT
    error = pg_probe(url)
    if error is not None:
        message = (
            f"PostgreSQL is not reachable at {redact(url)} ({error}). To run the PostgreSQL "
            f"tests, start a server and set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so this is an error: {message}", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[tuple[str, str]]:
    """(URL, schema): a schema of its own for one test (created by the first store that
    opens the URL), dropped with everything in it afterwards."""
    import psycopg
    from jobsched.storage.postgres.connection import parse_url

    schema = f"jobsched_test_{uuid.uuid4().hex[:12]}"
    yield with_query(pg_url, schema=schema), schema
    with psycopg.connect(parse_url(pg_url).conninfo, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
