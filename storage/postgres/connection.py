"""PostgreSQL connection set-up, in one place: the URL, its options, and the connections.

- ``postgresql://user:password@host:port/database?option=value`` (``postgres://`` too).
  jobsched's own options are taken out of the query; the rest (``sslmode``,
  ``connect_timeout``, ...) go to libpq unchanged (``DEFAULT_LIBPQ`` lists the libpq
  settings jobsched chooses when the URL does not: a connect timeout and keepalives):
  ``stale_after`` (seconds without a heartbeat before a node counts as dead, default 30),
  ``schema`` (the schema holding the tables, created if missing; default: the user's
  ``search_path``), ``mode=ro`` (read-only sessions: for readers, never for a node).
- Connections are psycopg 3 connections made by Peewee's ``PostgresqlDatabase``: one per
  thread (a psycopg connection must not be shared by threads running statements), in
  autocommit mode, so a read is one round trip and a write transaction is explicit.
  :meth:`Database.close_all` closes every thread's connection at once.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import peewee as pw
import psycopg
from jobsched.core.config import check_seconds
from jobsched.core.errors import InvalidInputError
from psycopg.conninfo import conninfo_to_dict

from .errors import PgTarget
from .url import SCHEMES, ambiguous_credentials, is_postgres_url, redact

__all__ = ["Database", "PgSettings", "connect_one", "is_postgres_url", "parse_url", "redact"]

#: Seconds without a heartbeat after which a node is dead and its running tasks are
#: recovered by another node.
DEFAULT_STALE_AFTER = 30.0
DEFAULT_CONNECT_TIMEOUT = 5
#: libpq settings used unless the URL gives its own: connecting is bounded, and a server
#: that vanished from the network (no reset, no answer) is detected by TCP keepalives and
#: the TCP user timeout within about half a minute instead of the system's hours.
DEFAULT_LIBPQ: dict[str, Any] = {
    "connect_timeout": DEFAULT_CONNECT_TIMEOUT,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
_OWN_OPTIONS = ("stale_after", "schema", "mode")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class PgSettings:
    """A parsed PostgreSQL URL: what to give libpq, and jobsched's own options.

    ``conninfo`` and ``params`` may hold the password: they stay out of the repr.
    """

    conninfo: str = field(repr=False)
    location: str
    target: PgTarget = field(repr=False)
    stale_after: float = DEFAULT_STALE_AFTER
    schema: str | None = None
    read_only: bool = False
    params: dict[str, str] = field(default_factory=dict, repr=False)


def parse_url(
    url: str,
    *,
    stale_after: float | None = None,
    schema: str | None = None,
    read_only: bool = False,
) -> PgSettings:
    """Split a PostgreSQL URL into libpq's part and jobsched's options; validate both.

    Keyword arguments, when given, win over the URL's options.
    """
    location = redact(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        # The parser's reason may quote a piece of the password: shown only without one.
        reason = f" ({exc})" if location == url else ""
        raise InvalidInputError(
            "database URL",
            location,
            f"is not a valid URL{reason}",
            "Write postgresql://user@host:5432/database, an IPv6 host in brackets: [::1]",
        ) from None
    if ambiguous_credentials(url, parts.netloc):
        raise InvalidInputError(
            "database URL",
            location,
            "its user name or password holds a character that must be percent-encoded "
            "(one of @ / ? # [ ]), or the slashes after the scheme are not two",
            "Percent-encode them, e.g. @ as %40 and / as %2F",
        )
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidInputError(
            "database URL", location, "is not a PostgreSQL URL", "Write postgresql://host/db"
        )
    own: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _OWN_OPTIONS:
            own[name] = value
        else:
            kept.append((name, value))
    # libpq only knows the "postgresql" and "postgres" schemes; normalise to the first.
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        # The driver's reason may quote a piece of the password: shown only without one.
        reason = f" ({exc})" if location == url else ""
        raise InvalidInputError(
            "database URL",
            location,
            f"is not a valid PostgreSQL URL{reason}",
            "Write postgresql://user@host:5432/database",
        ) from None
    if stale_after is None:
        stale_after = _seconds(own.get("stale_after"), location)
    check_seconds("stale_after", stale_after)
    schema = schema if schema is not None else own.get("schema")
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise InvalidInputError(
            "database URL option schema",
            schema,
            "is not a plain schema name",
            "Use lower-case letters, digits and underscores (at most 63), not starting with a digit",
        )
    mode = own.get("mode", "rw")
    if mode not in ("ro", "rw"):
        raise InvalidInputError(
            "database URL option mode", mode, "is not valid", "Use one of: ro, rw"
        )
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    server = f"{host}:{port}"
    password = str(params.get("password") or "")
    target = PgTarget(
        location,
        server,
        str(params.get("dbname") or params.get("user") or "(default)"),
        str(params.get("user") or "(default)"),
        (password, quote(password, safe="")),
    )
    return PgSettings(
        conninfo=conninfo,
        location=location,
        target=target,
        stale_after=float(stale_after),
        schema=schema,
        read_only=read_only or mode == "ro",
        params={k: str(v) for k, v in params.items()},
    )


def _seconds(text: str | None, location: str) -> float:
    if text is None:
        return DEFAULT_STALE_AFTER
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(
            "database URL option stale_after",
            text,
            "is not a number of seconds",
            "Use e.g. stale_after=30",
        ) from None


def session_options(settings: PgSettings, lock_timeout: float) -> dict[str, Any]:
    """Keyword arguments for ``psycopg.connect`` besides the conninfo."""
    options = [f"-c lock_timeout={int(lock_timeout * 1000)}"]
    if settings.schema is not None:
        options.append(f"-c search_path={settings.schema}")
    if settings.read_only:
        options.append("-c default_transaction_read_only=on")
    extra: dict[str, Any] = {"options": " ".join(options)}
    for name, value in DEFAULT_LIBPQ.items():  # the URL's own values win
        if name not in settings.params:
            extra[name] = value
    if "application_name" not in settings.params:
        extra["application_name"] = "jobsched"
    return extra


def connect_one(settings: PgSettings, lock_timeout: float) -> psycopg.Connection[Any]:
    """A connection owned by one object (the listener, the start recorder), autocommit."""
    return psycopg.connect(
        settings.conninfo, autocommit=True, **session_options(settings, lock_timeout)
    )


class Database(pw.PostgresqlDatabase):
    """Peewee's PostgreSQL database on psycopg 3, remembering every thread's connection so
    that :meth:`close_all` can close them (Peewee only closes the calling thread's)."""

    def __init__(self, settings: PgSettings, lock_timeout: float) -> None:
        self._all: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
        self._all_lock = threading.Lock()
        super().__init__(
            settings.conninfo,
            prefer_psycopg3=True,
            autoconnect=False,
            **session_options(settings, lock_timeout),
        )

    def _connect(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = super()._connect()
        with self._all_lock:
            self._all.add(conn)
        return conn

    def usable_connection(self) -> psycopg.Connection[Any]:
        """This thread's connection, made (or made again, if it broke) on demand."""
        if not self.is_closed():
            conn: psycopg.Connection[Any] = self.connection()
            if not conn.closed and not conn.broken:
                return conn
            self._state.reset()  # a broken connection: forget it and connect afresh
            conn.close()
        self.connect()
        fresh: psycopg.Connection[Any] = self.connection()
        return fresh

    def close_all(self) -> None:
        with self._all_lock:
            conns = list(self._all)
            self._all.clear()
        for conn in conns:
            conn.close()
