"""Where psycopg and Peewee errors become jobsched storage errors, for PostgreSQL.

Every public method of :class:`storage.postgres.store.PostgresStore` runs inside
:class:`translate_pg_errors`, so callers only see :class:`core.errors.StorageError`
subclasses (exit code 3), each naming the server or database and saying what to do. The
password of the URL never appears in a message: it is masked in every detail text.

libpq reports connection failures without a SQLSTATE, so those are told apart by their
text (refused, unknown role, bad password, unknown database).
"""

from __future__ import annotations

import re

import peewee
import psycopg
from jobsched.core.errors import (
    StorageError,
    StoreBusyError,
    StoreFullError,
    StoreMissingError,
    StoreReadOnlyError,
    StoreUnavailableError,
)

from ..errors import ErrorTranslator

_AUTH = re.compile(
    r"password authentication failed|no password supplied|role \".*\" does not exist"
    r"|pg_hba\.conf|authentication failed|permission denied for database",
    re.IGNORECASE,
)
_NO_DATABASE = re.compile(r"database \"(?P<name>.*)\" does not exist", re.IGNORECASE)


def _psycopg_cause(exc: BaseException) -> psycopg.Error | None:
    """The psycopg exception behind ``exc`` (Peewee wraps it)."""
    if isinstance(exc, psycopg.Error):
        return exc
    for candidate in (*exc.args[:1], exc.__cause__, exc.__context__):
        if isinstance(candidate, psycopg.Error):
            return candidate
    return None


class PgTarget:
    """What messages say about a PostgreSQL URL: where, which database, which user."""

    __slots__ = ("location", "server", "database", "user", "secrets")

    def __init__(
        self, location: str, server: str, database: str, user: str, secrets: tuple[str, ...]
    ) -> None:
        self.location = location
        self.server = server
        self.database = database
        self.user = user
        self.secrets = tuple(s for s in secrets if s)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def pg_storage_error(exc: BaseException, target: PgTarget) -> StorageError:
    """The storage error a caller should see for ``exc`` raised while using ``target``."""
    cause = _psycopg_cause(exc)
    detail = target.mask(" ".join(str(cause if cause is not None else exc).split()))
    state = getattr(cause, "sqlstate", None) or ""
    if isinstance(cause, psycopg.OperationalError) and not state:
        return _connect_error(detail, target)
    if state in ("28P01", "28000"):
        return _auth_error(detail, target)
    if state == "3D000":
        return _missing_database(target)
    if state in ("25006", "42501"):
        return StoreReadOnlyError(
            "database",
            target.location,
            f"refused a write ({detail})",
            f"Nothing was written; grant user {target.user!r} write access to the jobsched "
            "tables, or connect to a writable server (not a standby)",
        )
    if state.startswith("53"):
        if state == "53300":
            return StoreBusyError(
                "PostgreSQL server",
                target.server,
                f"has no connection slot left ({detail})",
                "Raise max_connections or run fewer processes, then retry",
            )
        return StoreFullError(
            "PostgreSQL server",
            target.server,
            f"is out of resources ({detail}); nothing was written",
            "Free disk space or memory on the server, then retry",
        )
    if state in ("40P01", "40001", "55P03", "57014"):
        return StoreBusyError(
            "database",
            target.location,
            f"was busy ({detail}); nothing was written",
            "Retry; if it persists, look for long transactions on the server",
        )
    if state.startswith("08") or state.startswith("57P") or _lost(cause):
        return StoreUnavailableError(
            "PostgreSQL server",
            target.server,
            f"closed the connection ({detail})",
            "Check that the server is running; jobsched reconnects on the next call",
        )
    if state in ("42P01", "42703", "3F000"):
        return StoreUnavailableError(
            "database",
            target.location,
            f"no longer has the jobsched tables ({detail})",
            "Something dropped or changed them; restore the database or open a new one",
        )
    return StoreUnavailableError(
        "database", target.location, f"cannot be used ({detail})", "Check the server, then retry"
    )


def _lost(cause: psycopg.Error | None) -> bool:
    return isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError) and (
        "closed" in str(cause).lower() or "terminat" in str(cause).lower()
    )


def _connect_error(detail: str, target: PgTarget) -> StorageError:
    """A failure while connecting: libpq gives no SQLSTATE, only its message."""
    if _AUTH.search(detail):
        return _auth_error(detail, target)
    missing = _NO_DATABASE.search(detail)
    if missing:
        return _missing_database(target)
    why = detail.removeprefix("connection failed: ")
    return StoreUnavailableError(
        "PostgreSQL server",
        target.server,
        f"is not reachable ({why})",
        "Start PostgreSQL there, or check the host and port in the --db URL",
    )


def _auth_error(detail: str, target: PgTarget) -> StorageError:
    return StoreUnavailableError(
        "PostgreSQL server",
        target.server,
        f"refused user {target.user!r} ({detail.removeprefix('connection failed: ')})",
        "Check the user and password in the --db URL (or PGPASSWORD / ~/.pgpass) "
        "and the server's pg_hba.conf",
    )


def _missing_database(target: PgTarget) -> StorageError:
    return StoreMissingError(
        "PostgreSQL database",
        target.database,
        f"does not exist on {target.server}",
        f"Create it (createdb {target.database}) or fix the database name in the --db URL",
    )


class translate_pg_errors(ErrorTranslator):  # noqa: N801 - reads like a statement in a with
    """``with translate_pg_errors(target):`` for the PostgreSQL store."""

    __slots__ = ("target",)

    def __init__(self, target: PgTarget) -> None:
        self.target = target

    def translate(self, exc: BaseException) -> StorageError | None:
        if isinstance(exc, psycopg.Error | peewee.PeeweeException):
            return pg_storage_error(exc, self.target)
        return None
