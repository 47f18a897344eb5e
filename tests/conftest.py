"""Shared fixtures."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator

import pytest

# Running in parallel (pytest-xdist): test order, temporary directories, unused snapshots.
pytest_plugins = ["tests.parallel"]


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
    """The test server's URL; skips (fails under CI) when it cannot be reached.

    Under pytest-xdist each worker gets a database of its own on that server (the base
    database's name plus ``_gw0``, ``_gw1``, ...): advisory locks, ``NOTIFY`` and node
    rows are per database, so workers never see each other's."""
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
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        _vacuum(url)
        return url
    worker_url, database = worker_database(url, worker)
    _create_database(url, database)
    _vacuum(worker_url)
    return worker_url


def _vacuum(url: str) -> None:
    """VACUUM the test database once per run. Each test makes and drops a schema of its
    own (tables, indexes, triggers, functions): thousands of system catalog rows per run,
    which only a VACUUM reclaims. A server with autovacuum off (as on some machines) would
    keep them all: after a day of runs one worker's ``pg_attribute`` held 1.2 million dead
    rows (231 MB), and every schema a test made got slower. About 0.1 s on a clean database."""
    import psycopg
    from jobsched.storage.postgres.connection import parse_url

    with psycopg.connect(parse_url(url).conninfo, autocommit=True) as conn:
        conn.execute("VACUUM")


def worker_database(url: str, worker: str) -> tuple[str, str]:
    """(URL, name) of the database of xdist worker ``worker`` beside ``url``'s database."""
    from urllib.parse import urlsplit, urlunsplit

    from jobsched.storage.postgres.connection import parse_url

    params = parse_url(url).params
    database = f"{params.get('dbname') or params.get('user') or 'postgres'}_{worker}"
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}")), database


def _create_database(url: str, database: str) -> None:
    """Create ``database`` unless it exists. It is kept for the next run, like the base
    database: dropping one makes the server flush and wait on every backend, which takes
    seconds on a busy server, and each test drops its own schema anyway."""
    import psycopg
    from jobsched.storage.postgres.connection import parse_url
    from psycopg import sql

    with psycopg.connect(parse_url(url).conninfo, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            return
        # DuplicateDatabase: another run created it meanwhile.
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


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
