"""Backups of a database file before an upgrade: ``<db>.v<N>-backup``, written under a
temporary name, verified, then renamed into place; and the cleanup of copies left
half-written by a process that died."""

from __future__ import annotations

import contextlib
import os
import sqlite3

from jobsched.core.errors import StorageError

from .connection import sqlite_uri

#: The temporary name of a copy being written: ``<backup>.partial-<pid>``.
_PARTIAL = ".partial-"


def backup_file(path: str, version: int) -> str:
    """Copy the database (with its WAL) to ``<db>.v<version>-backup``, verified.

    The copy is written under a temporary name, checked (it opens, passes
    ``PRAGMA quick_check`` and carries this version), then renamed into place: so one
    backup per version is kept, an older copy is replaced only by a verified newer one,
    and a migration interrupted any number of times leaves one good backup, not one
    per attempt. A failed copy is deleted and the migration does not start.
    """
    target = backup_name(path, version)
    temp = f"{target}{_PARTIAL}{os.getpid()}"
    try:
        source = sqlite3.connect(sqlite_uri(os.path.abspath(path), "ro"), uri=True)
        try:
            copy = sqlite3.connect(temp)
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                copy.close()
        finally:
            source.close()
        _verify_backup(temp, version)
        os.replace(temp, target)
        fsync_directory(os.path.dirname(path))
    finally:
        for leftover in (temp, temp + "-journal", temp + "-wal", temp + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return target


def backup_name(path: str, version: int) -> str:
    """Where the backup of ``path`` taken before upgrading from ``version`` is kept."""
    return f"{path}.v{version}-backup"


def _verify_backup(temp: str, version: int) -> None:
    conn = sqlite3.connect(sqlite_uri(os.path.abspath(temp), "ro"), uri=True)
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        found = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if check != "ok" or found != version:
        raise StorageError(
            "backup copy",
            temp,
            f"did not verify (quick_check: {check}, schema version {found})",
            "The database was not upgraded and is unchanged; check the disk and retry",
        )


def remove_partial_backups(path: str) -> list[str]:
    """Delete backup copies left half-written by a process that has died; their names
    end in ``.partial-<pid>``. Called by a node at start; returns what it removed."""
    directory, base = os.path.split(path)
    removed: list[str] = []
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(base + ".v") and _PARTIAL in name):
            continue
        head, _, pid = name.rpartition(_PARTIAL)
        if not head.endswith("-backup") or not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, name))
            removed.append(name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_directory(directory: str) -> None:
    """Make a rename or a new name in ``directory`` durable."""
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
