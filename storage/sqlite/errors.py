"""The one place where sqlite3, Peewee and OS errors become jobsched storage errors.

Every public method of the SQLite store runs inside :class:`translate_errors`, so callers
only ever see :class:`core.errors.StorageError` subclasses, each naming the database and
saying what to do. The original exception stays attached as ``__cause__`` for logs.
"""

from __future__ import annotations

import errno
import os
import sqlite3

import peewee
from jobsched.core.errors import (
    StorageError,
    StoreBusyError,
    StoreCorruptError,
    StoreFullError,
    StoreReadOnlyError,
    StoreUnavailableError,
)

from ..errors import ErrorTranslator

# Primary result codes (the low byte of an extended code), see sqlite.org/rescode.html.
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


def _sqlite_cause(exc: BaseException) -> sqlite3.Error | None:
    """The sqlite3 exception behind ``exc`` (Peewee wraps it as its first argument)."""
    if isinstance(exc, sqlite3.Error):
        return exc
    if isinstance(exc, peewee.PeeweeException):
        for candidate in (*exc.args[:1], exc.__cause__, exc.__context__):
            if isinstance(candidate, sqlite3.Error):
                return candidate
    return None


def storage_error(exc: BaseException, location: str, busy_timeout: float) -> StorageError:
    """The storage error a caller should see for ``exc`` raised while using ``location``."""
    if isinstance(exc, OSError):
        return _os_error(exc, location)
    cause = _sqlite_cause(exc)
    detail = str(cause if cause is not None else exc)
    code = getattr(cause, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreBusyError(
            "database",
            location,
            f"is locked by another connection (waited {busy_timeout:g} s)",
            "Nothing was written; retry, or stop the program that holds the database",
        )
    if primary == SQLITE_READONLY:
        return StoreReadOnlyError(
            "database",
            location,
            f"is read-only ({detail})",
            "Nothing was written; make the file and its directory writable, "
            "or open it without ?mode=ro",
        )
    if primary == SQLITE_FULL:
        return StoreFullError(
            "database",
            location,
            f"is full ({detail}); nothing was written",
            "Free disk space, then retry",
        )
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreCorruptError(
            "database",
            location,
            f"is damaged ({detail})",
            "jobsched did not change it; restore it from a backup or move it away",
        )
    if primary == SQLITE_PERM:
        return StoreReadOnlyError(
            "database", location, f"cannot be accessed ({detail})", "Check its permissions"
        )
    if primary in (SQLITE_CANTOPEN, SQLITE_IOERR):
        return StoreUnavailableError(
            "database",
            location,
            f"cannot be opened or read ({detail})",
            "Check that the file exists and that its disk is mounted and healthy",
        )
    return StoreUnavailableError(
        "database", location, f"cannot be used ({detail})", "Check the file, then retry"
    )


def _os_error(exc: OSError, location: str) -> StorageError:
    path = exc.filename or location
    if exc.errno in (errno.EACCES, errno.EPERM) and not os.access(path, os.R_OK):
        # Denied, and not even readable (the file's mode, or a directory on its path):
        # saying "not writable" would send the operator to the wrong permission.
        return StoreUnavailableError(
            "file",
            path,
            f"cannot be read ({exc.strerror})",
            "Give this user read and write permission on the file and its directory",
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StoreReadOnlyError(
            "file", path, f"is not writable ({exc.strerror})", "Check permissions and the mount"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFullError("disk of", path, f"is full ({exc.strerror})", "Free disk space")
    return StoreUnavailableError("file", path, f"cannot be used ({exc.strerror})", "Check the path")


class translate_errors(ErrorTranslator):  # noqa: N801 - reads like a statement in a with
    """``with translate_errors(location, busy_timeout):`` for the SQLite store."""

    __slots__ = ("location", "busy_timeout")

    def __init__(self, location: str, busy_timeout: float) -> None:
        self.location = location
        self.busy_timeout = busy_timeout

    def translate(self, exc: BaseException) -> StorageError | None:
        if isinstance(exc, sqlite3.Error | peewee.PeeweeException | OSError):
            return storage_error(exc, self.location, self.busy_timeout)
        return None
