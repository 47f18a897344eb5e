"""One scheduler node per SQLite file: an exclusive ``flock`` on ``<db>.lock``.

The kernel drops the lock when the holder dies, so a crashed node never leaves a stale
lock behind; the pid written into the file is only there to name the holder in messages.
The lock file is never deleted: deleting it would let two processes lock two different
files under the same name.
"""

from __future__ import annotations

import fcntl
import os

from jobsched.core.errors import NodeLockedError


class NodeLock:
    """Held by the node that runs on a database; ``acquire`` fails at once if taken."""

    def __init__(self, path: str, location: str) -> None:
        self.path = path
        self.location = location
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> NodeLock:
        """Take the lock or raise :class:`NodeLockedError` naming the holder's pid.

        The file is opened without truncating, so a refused attempt never erases the
        holder's pid.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise NodeLockedError(
                "database",
                self.location,
                f"is in use by another node (pid {holder})",
                "Stop that node first, or give this one another --db file",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # still ours until close: no one else reads a stale pid
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor releases the flock


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"
