"""Recognising, creating and migrating jobsched database files.

A jobsched file carries ``PRAGMA application_id = APPLICATION_ID`` and
``PRAGMA user_version = schema_version()``. Opening a file goes:

1. :func:`inspect_file` looks at it read-only and refuses, untouched, anything that is not
   ours (empty file, another program's file, not SQLite) or is newer than this program.
2. A missing file is built by :func:`create_file` under a temporary name and linked into
   place, so a crash never leaves a half-made database under the real name.
3. An older file is backed up to ``<db>.v<N>-backup`` (verified; see :func:`backup_file`)
   and upgraded by :func:`upgrade_file` in one transaction: ``UPGRADES[n - 1]`` takes the
   schema from version ``n`` to ``n + 1``.

A new (or blank) file gets the current schema at once, generated from the models in
``storage/models.py``; the upgrades take older files to the same tables.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw
from jobsched.core.errors import (
    ForeignDatabaseError,
    JobschedError,
    SchemaTooNewError,
    StorageError,
    StoreUnavailableError,
)

from . import upgrades
from .backups import backup_file, fsync_directory
from .connection import sqlite_uri
from .errors import translate_errors

log = logging.getLogger("jobsched.storage")

#: 'JSCH': marks a SQLite file as a jobsched database.
APPLICATION_ID = 0x4A534348
SQLITE_MAGIC = b"SQLite format 3\x00"
_UNTOUCHED = "jobsched left the file untouched"


#: ``UPGRADES[n - 1]`` upgrades a database from schema version ``n`` to ``n + 1`` (version 1
#: is the first released schema). Append a step (in ``upgrades.py``) with every change to
#: the models; never edit a released one.
UPGRADES: list[Callable[[pw.Database], None]] = list(upgrades.STEPS)


def schema_version() -> int:
    """The schema version this program writes (and the newest it can read): the one the
    models describe."""
    return 1 + len(UPGRADES)


@dataclass(frozen=True, slots=True)
class FileState:
    """What :func:`inspect_file` found. ``version`` is 0 for a missing or blank file."""

    exists: bool
    version: int
    #: A SQLite file with nothing in it (no tables, no marks): adopted and initialised.
    blank: bool = False


def inspect_file(path: str, location: str, busy_timeout: float) -> FileState:
    """Look at ``path`` without writing it; raise if it must not be opened.

    Reads through SQLite (not the raw header), because a WAL file's latest pages may
    still live in ``-wal``.
    """
    if not os.path.lexists(path):
        return FileState(exists=False, version=0)
    _check_regular(path, location, busy_timeout)
    with translate_errors(location, busy_timeout), open(path, "rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if not head:
        raise ForeignDatabaseError(
            "database",
            location,
            "is an empty file, not a jobsched database",
            f"{_UNTOUCHED}; delete it or choose another --db path",
        )
    if head != SQLITE_MAGIC:
        raise ForeignDatabaseError(
            "database",
            location,
            "is not a SQLite database (if it was a jobsched database, its header is damaged)",
            f"{_UNTOUCHED}; choose another --db path or restore the file from a backup",
        )
    with translate_errors(location, busy_timeout):
        try:
            app_id, version, objects = _read_marks(path, busy_timeout, settled=True)
        except sqlite3.DatabaseError:
            if not os.path.lexists(path + "-wal"):
                raise  # really unreadable, not a writer that started meanwhile
            app_id, version, objects = _read_marks(path, busy_timeout, settled=False)
    if app_id == APPLICATION_ID:
        if version > schema_version():
            raise SchemaTooNewError(
                "database",
                location,
                f"has schema version {version}, newer than this jobsched's {schema_version()}",
                f"Upgrade jobsched; {_UNTOUCHED}",
            )
        return FileState(exists=True, version=version)
    if _blank(app_id, version, objects):
        return FileState(exists=True, version=0, blank=True)
    if app_id:
        why = f"belongs to another application (application_id {app_id:#010x})"
    else:
        why = "is another program's SQLite database (it has no jobsched mark)"
    raise ForeignDatabaseError("database", location, why, f"{_UNTOUCHED}; choose another --db path")


def _check_regular(path: str, location: str, busy_timeout: float) -> None:
    """Refuse a directory, FIFO, socket or device before opening it: reading the header
    of a FIFO would wait forever for a writer."""
    with translate_errors(location, busy_timeout):
        info = os.stat(path)  # follows a symlink to the file it names
    mode = info.st_mode
    if stat.S_ISREG(mode):
        check_links(path, location, info)
        return
    if stat.S_ISDIR(mode):
        raise StoreUnavailableError(
            "database", location, "is a directory", "Point --db at a file inside it"
        )
    kind = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
            stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}  # fmt: skip
    raise StoreUnavailableError(
        "database",
        location,
        f"is {kind.get(stat.S_IFMT(mode), 'not a regular file')}, not a database file",
        f"{_UNTOUCHED}; point --db at a regular file",
    )


def check_links(path: str, location: str, info: os.stat_result) -> None:
    """Refuse a database file with a second name (``info``: its ``stat``, read before).

    SQLite names the -wal and -shm files after the path: two names of one file give two
    write-ahead logs for one database, and corrupt it. A file that :func:`create_file` is
    linking into place has its temporary name for a moment; that one is not a second
    name. Its creator may drop the temporary name between ``info`` and the look at the
    folder, so the count is read again after that look: either the look saw the
    temporary name, or the count read after it no longer holds it.
    """
    if info.st_nlink <= 1 or _being_created(path):
        return
    with contextlib.suppress(OSError):  # gone meanwhile: the open that follows says so
        info = os.stat(path)
    if info.st_nlink > 1:
        raise StoreUnavailableError(
            "database",
            location,
            f"has {info.st_nlink} hard links (other names for the same file), and SQLite "
            "keeps its write-ahead log per name, so writes through two names corrupt it",
            f"{_UNTOUCHED}; remove the other links (find them with "
            f"`find / -samefile {path}`) or use a symbolic link instead",
        )


def _being_created(path: str) -> bool:
    """Whether :func:`create_file` is linking a new database into place right now (the
    file then has a second name for a moment: its temporary one)."""
    folder, name = os.path.split(os.path.abspath(path))
    with contextlib.suppress(OSError):
        return any(entry.startswith(f"{name}.new-") for entry in os.listdir(folder))
    return False


def create_file(path: str, location: str, busy_timeout: float) -> bool:
    """Build a new database next to ``path`` and link it into place.

    Returns False (and changes nothing) if ``path`` appeared meanwhile: another process
    created it first, and the caller inspects that file instead.
    """
    temp = f"{path}.new-{os.getpid()}-{threading.get_ident()}"
    db = pw.SqliteDatabase(temp, timeout=busy_timeout, autoconnect=False)
    try:
        with translate_errors(location, busy_timeout):
            db.connect()
            conn = db.connection()
            conn.execute("BEGIN IMMEDIATE")
            _run_steps(db, conn, 0)
            conn.execute("COMMIT")
            db.close()
            if not _place(temp, path):
                return False
            fsync_directory(os.path.dirname(path))
        log.info("created database %s (schema v%d)", location, schema_version())
        return True
    finally:
        if not db.is_closed():
            db.close()
        for leftover in (temp, temp + "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def upgrade_file(db: pw.Database, path: str, location: str, state: FileState) -> None:
    """Upgrade an older (or blank) file to :func:`schema_version` in one transaction.

    The caller holds the store's write lock. The version is read again inside the
    transaction, so two processes opening an old file migrate it once.
    """
    backup = None if state.blank else backup_file(path, state.version)
    conn = db.connection()
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id, version, objects = _marks(conn)
        ours = app_id == APPLICATION_ID or _blank(app_id, version, objects)
        if not ours or version > schema_version():
            raise StorageError(
                "database", location, "changed while it was being opened", "Open it again"
            )
        if version < schema_version():
            _run_steps(db, conn, version)
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.rollback()
        if not isinstance(exc, Exception) or isinstance(
            exc, JobschedError | sqlite3.Error | pw.PeeweeException
        ):
            raise  # storage errors are translated by the caller
        kept = f"; a backup is at {backup}" if backup else ""
        raise StorageError(
            "database",
            location,
            f"could not be upgraded from schema v{state.version} ({exc!r})",
            f"It was left at v{state.version}{kept}. Report this with the message above",
        ) from exc
    if backup:
        log.warning(
            "upgraded database %s from schema v%d to v%d (backup: %s)",
            location,
            state.version,
            schema_version(),
            backup,
        )


def _read_marks(path: str, busy_timeout: float, settled: bool) -> tuple[int, int, int]:
    """The marks of the file at ``path``, read without creating anything beside it.

    With no ``-wal`` file, the database file holds everything (no process has it open in
    WAL mode), so it is read as ``immutable``: SQLite then creates no ``-wal`` or
    ``-shm``, and a refused file leaves its directory as it was. Otherwise (or when a
    writer appeared during that read) it is read through the WAL.
    """
    uri = sqlite_uri(os.path.abspath(path), "ro")
    if settled and not os.path.lexists(path + "-wal"):
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
    try:
        return _marks(conn)
    finally:
        conn.close()


def _marks(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(application_id, user_version, number of schema objects) of a database."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0] & 0xFFFFFFFF
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return app_id, version, objects


def _blank(app_id: int, version: int, objects: int) -> bool:
    """A SQLite file with nothing in it and no marks: safe to adopt."""
    return app_id == 0 and version == 0 and objects == 0


def _run_steps(db: pw.Database, conn: sqlite3.Connection, version: int) -> None:
    """Create the schema (version 0) or apply ``UPGRADES[version - 1:]``, inside the
    caller's transaction, and stamp the file."""
    if version == 0:
        upgrades.create(db)
    else:
        for step in UPGRADES[version - 1 :]:
            step(db)
    # Both pragmas are part of the transaction: a crash leaves the old marks.
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {schema_version()}")


def _place(temp: str, path: str) -> bool:
    """Give ``temp`` the name ``path`` unless that name exists; False if it does."""
    try:
        os.link(temp, path)  # atomic and never replaces anyone's file
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(path):
            return False
        os.rename(temp, path)
        return True
