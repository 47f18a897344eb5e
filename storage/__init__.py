"""Durable stores for jobsched, built on Peewee. ``open_store`` picks one from a URL.

    store = open_store("jobs.db")                  # a path: SQLite
    store = open_store("sqlite:///jobs.db")        # the same (sqlite:////abs/path.db)
    store = open_store("sqlite:///jobs.db?mode=ro&durability=full")
    store = open_store(None)                       # ./jobsched.db
    store = open_store("postgresql://user:pw@host:5432/jobs")   # several nodes
    store = open_store("postgresql://host/jobs?stale_after=10&schema=jobsched")

Nothing is touched until the scheduler calls ``store.open(node_id)``.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from jobsched.core.errors import ConfigError, InvalidInputError, StoreUnavailableError
from jobsched.core.store import TaskStore

from .postgres.url import is_postgres_url, redact
from .sqlite.connection import DURABILITY
from .sqlite.schema import APPLICATION_ID, schema_version
from .sqlite.store import SqliteStore

__all__ = [
    "APPLICATION_ID",
    "DEFAULT_PATH",
    "PostgresStore",
    "SqliteStore",
    "open_store",
    "schema_version",
]

DEFAULT_PATH = "jobsched.db"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_URL_OPTIONS = {"mode": ("ro", "rw", "rwc"), "durability": tuple(DURABILITY)}


def open_store(
    url: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    durability: str = "normal",
    busy_timeout: float = 5.0,
) -> TaskStore:
    """The store for ``url``; the CLI, the console and the Python API all call this.

    ``url``: a file path, ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``file:path``, optionally with ``?mode=ro`` and ``?durability=full``; None means
    ``./jobsched.db``. ``postgresql://`` (or ``postgres://``) selects PostgreSQL, for
    several nodes on one database (options: see :class:`PostgresStore`).
    ``durability="full"`` makes every commit survive power loss (``synchronous=FULL``; on
    PostgreSQL the server's own settings decide); ``busy_timeout`` is how long (seconds) a
    write waits for another process's lock (PostgreSQL: a row lock, ``lock_timeout``).
    """
    text = DEFAULT_PATH if url is None else os.fspath(url)
    if is_postgres_url(text):
        if durability not in DURABILITY:
            raise ConfigError(
                "durability", durability, "is not a durability level", "Use 'normal' or 'full'"
            )
        store: TaskStore = _postgres_store()(text, read_only=read_only, busy_timeout=busy_timeout)
        return store
    path, options = _parse(text)
    if options.get("mode") == "ro":
        read_only = True
    return SqliteStore(
        path,
        read_only=read_only,
        durability=options.get("durability", durability),
        busy_timeout=busy_timeout,
    )


def _postgres_store() -> Any:
    """The PostgresStore class, imported on first use: psycopg is an optional dependency."""
    try:
        from .postgres.store import PostgresStore
    except ImportError as exc:
        raise StoreUnavailableError(
            "PostgreSQL driver",
            "psycopg",
            f"cannot be imported ({exc})",
            "Install it with: pip install 'jobsched[postgres]'",
        ) from exc
    return PostgresStore


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        return _postgres_store()
    raise AttributeError(f"module 'storage' has no attribute {name!r}")


def _parse(url: str) -> tuple[str, dict[str, str]]:
    """(path, options) of a SQLite URL or plain path; raise for anything else."""
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    if scheme in ("postgresql", "postgres"):
        raise InvalidInputError(
            "database URL",
            _redact(url),
            "a PostgreSQL URL needs two slashes",
            "Write postgresql://user@host:5432/database",
        )
    if scheme == "sqlite":
        if not url[len("sqlite:") :].startswith("///"):
            raise InvalidInputError(
                "database URL",
                url,
                "a SQLite URL needs three slashes",
                "Write sqlite:///relative.db or sqlite:////absolute/path.db",
            )
        rest = url[len("sqlite:///") :]
    elif scheme == "file":
        rest = url[len("file:") :]
        if rest.startswith("//"):  # file:///abs/path or file://localhost/abs/path
            rest = rest[2:]
            rest = rest[rest.index("/") :] if "/" in rest else ""
    elif scheme:
        raise InvalidInputError(
            "database URL",
            _redact(url),
            f"the scheme {scheme!r} is not supported",
            "Use a file path or a sqlite:///path.db URL",
        )
    else:
        if not url:
            raise InvalidInputError("database path", url, "is empty", "Give a file name")
        return url, {}
    raw_path, _, query = rest.partition("?")
    path = unquote(raw_path)
    if not path:
        raise InvalidInputError(
            "database URL", url, "names no file", "Add a path after the slashes"
        )
    return path, _options(url, query)


def _options(url: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        allowed = _URL_OPTIONS.get(name)
        if allowed is None:
            known = ", ".join(sorted(_URL_OPTIONS))
            raise InvalidInputError(
                "database URL option", name, "is not known", f"Known options: {known}"
            )
        if value not in allowed:
            raise InvalidInputError(
                f"database URL option {name}",
                value,
                "is not valid",
                f"Use one of: {', '.join(allowed)}",
            )
        options[name] = value
    return options


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    return redact(url)
