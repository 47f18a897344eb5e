"""One scheduler node per SQLite file: an exclusive ``flock`` on the database file itself.

The lock lives on the database's inode, so it cannot be deleted from under the node (a
side file could be, and a second node would then lock a new file of the same name). It is
a BSD ``flock``, which on Linux never interacts with the POSIX byte-range locks SQLite
takes on the same file, and the kernel drops it when the holder dies.

Two rules keep it honest:

- **One descriptor per file per process, closed only when no store of this process uses
  the file.** Closing any descriptor of a file drops every POSIX lock the process holds
  on it, SQLite's included: a refused attempt or a released node must not do that while
  a connection of this process may hold them. The descriptor is shared by all stores of
  the process (counted in :func:`use` / :func:`unuse`); within the process, who holds the
  lock is kept in a table, as ``flock`` on a shared descriptor would always succeed.
- **Never inherited.** The descriptor is ``O_CLOEXEC`` (an ``exec`` drops it) and a
  ``fork()``ed child closes its copy at once (``os.register_at_fork``), so a handler's
  child that outlives the node never keeps the database locked. Closing the child's copy
  leaves the parent's lock in place; unlocking it would not.

``<db>.lock`` beside the database only names the holder's pid for messages; deleting it
changes nothing. When it is missing, the holder is read from the kernel's lock table
(``/proc/locks``) instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from jobsched.core.errors import NodeLockedError

_guard = threading.Lock()


@dataclass
class _File:
    fd: int
    users: int = 0
    held: bool = False


#: (device, inode) of each database file this process has open -> its shared descriptor.
_files: dict[tuple[int, int], _File] = {}


def _close_all_in_child() -> None:
    """After ``fork()``, in the child: drop every descriptor (the parent keeps its locks)."""
    for entry in _files.values():
        with contextlib.suppress(OSError):
            os.close(entry.fd)
    _files.clear()
    global _guard
    _guard = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_close_all_in_child)


def use(path: str) -> tuple[int, int]:
    """Register a store of this process on the database file ``path``; returns its key.

    Every open store calls this before its first connection, and :func:`unuse` after its
    last one closed, so the shared descriptor outlives every SQLite lock of the process.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    key = _key(fd)
    with _guard:
        entry = _files.get(key)
        if entry is None:
            entry = _files[key] = _File(fd)
        else:
            os.close(fd)  # safe: another descriptor of this process keeps the file open
        entry.users += 1
    return key


def unuse(key: tuple[int, int]) -> None:
    """The store registered as ``key`` closed all its connections."""
    with _guard:
        entry = _files.get(key)
        if entry is None:
            return
        entry.users -= 1
        if entry.users <= 0:
            del _files[key]
            os.close(entry.fd)  # no store of this process has a connection left


def _key(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


class NodeLock:
    """Held by the node that runs on a database; ``acquire`` fails at once if taken."""

    def __init__(self, path: str, location: str) -> None:
        self.path = path  # the database file
        self.location = location
        self.info_path = path + ".lock"
        self._key: tuple[int, int] | None = None

    @property
    def held(self) -> bool:
        return self._key is not None

    def acquire(self, key: tuple[int, int]) -> NodeLock:
        """Lock the database file registered as ``key`` (see :func:`use`) or raise
        :class:`NodeLockedError` naming the holder's pid."""
        with _guard:
            entry = _files[key]
            if entry.held:
                self._refuse(str(os.getpid()))
            try:
                fcntl.flock(entry.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._refuse(_holder(self.info_path, key))
            entry.held = True
        self._key = key
        self._write_info()
        return self

    def _refuse(self, holder: str) -> None:
        raise NodeLockedError(
            "database",
            self.location,
            f"is in use by another node (pid {holder})",
            "Stop that node first, or give this one another --db file",
        )

    def _write_info(self) -> None:
        """Name this process in ``<db>.lock`` (information only: the lock is the flock)."""
        try:
            fd = os.open(self.info_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        finally:
            os.close(fd)

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None:
            return
        with contextlib.suppress(OSError), open(self.info_path, "r+b") as fh:
            if fh.read(32).strip() == str(os.getpid()).encode():
                fh.truncate(0)  # nobody reads a stale pid
        with _guard:
            entry = _files.get(key)
            if entry is not None and entry.held:
                entry.held = False
                fcntl.flock(entry.fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive(path: str, location: str) -> Iterator[NodeLock]:
    """Hold the node lock of the existing database ``path`` for a ``with`` block (for
    work on the file that no node may see, such as moving it aside)."""
    key = use(path)
    try:
        lock = NodeLock(path, location).acquire(key)
        try:
            yield lock
        finally:
            lock.release()
    finally:
        unuse(key)


def _holder(info_path: str, key: tuple[int, int]) -> str:
    """The pid holding the flock on the file ``key``: from the kernel's lock table when
    it can be read, else from ``<db>.lock``; "unknown" if neither says."""
    pid = _holder_from_proc(key)
    if pid is not None:
        return pid
    try:
        with open(info_path, "rb") as fh:
            text = fh.read(32).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


def _holder_from_proc(key: tuple[int, int]) -> str | None:
    """Linux: ``/proc/locks`` lines look like ``1: FLOCK ADVISORY WRITE <pid> MM:mm:ino ...``."""
    dev, ino = key
    wanted = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not the holder
            continue
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == wanted:
            return parts[4]
    return None
