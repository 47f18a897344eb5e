"""The start journal: which claimed tasks really began, as the node that owns the file
saw it. It lets recovery tell an interrupted run (counted against ``max_attempts``, the
poison rule) from a task that was only waiting in a FIFO (its attempt is given back).

One line ``<id> <attempt>`` per start, written before the handler runs into a shared
memory map of the file: the kernel's page cache holds it the moment it is copied, so it
survives the process being killed (a power loss may lose it, and then recovery counts
every claim, as a store without a journal does). A memory map, not a ``write`` per
start: a system call per task released and re-took the GIL, and with four busy workers
that hand-off cost more than the rest of the journal (figures in docs/benchmarks.md). A line ``-<id> <attempt>``
marks that run's end: a retry or a release starts the count of attempts again, so the
same pair may be claimed again and must not read as started. The file sits beside the
database (``<db>.starts``) and belongs to the node holding the database's lock; past
the last line it holds zero bytes, where the reader stops. When it is full it is
rewritten with only the unfinished starts.

What it must never do is turn a waiting task into an orphan. A missing journal (deleted,
or never made) therefore reads as "no run began": every claim gets its attempt back. A
journal deleted while the node runs is written again, with the unfinished starts, at the
next batch of ends. Reading is bounded: it stops at the first zero byte and at
:data:`MAX_READ` bytes (a larger file is not one this module wrote), so a huge or sparse
file costs no more than a real journal.

Its disk space is allocated when the file is made (``posix_fallocate``): a page of a
sparse map first touched on a full disk would kill the process with SIGBUS, while a
failed allocation is an ``OSError`` that a start reports (the task runs anyway, as
with a failed ``write``) and an end ignores (end lines only save recovery work).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import stat
import threading

from jobsched.core.errors import StoreUnavailableError

log = logging.getLogger("jobsched.storage")

#: The most of a journal file ever read: far above what a node writes (the file is
#: ``rotate_bytes``, 4 MiB, unless the unfinished starts alone need more).
MAX_READ = 64 << 20
_CHUNK = 1 << 20


class StartJournal:
    def __init__(self, path: str, rotate_bytes: int = 4 << 20) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes  # the mapped file's size; rewritten when full
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self._end = 0  # bytes of lines written
        self._open: dict[int, int] = {}  # task id -> attempt: started, not yet ended
        self._closed = False
        self._inode: tuple[int, int] | None = None  # of the mapped file

    def read(self) -> set[tuple[int, int]] | None:
        """The starts the previous owner wrote (a torn last line and the zero bytes after
        the last line are ignored), or None when there is no journal at all: recovery
        then counts no run as begun."""
        data = _used_bytes(self.path)
        if data is None:
            return None
        starts: set[tuple[int, int]] = set()
        for line in data.split(b"\n"):
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit():
                continue
            if parts[0].isdigit():
                starts.add((int(parts[0]), int(parts[1])))
            elif parts[0][:1] == b"-" and parts[0][1:].isdigit():
                starts.discard((int(parts[0][1:]), int(parts[1])))
        return starts

    def reset(self) -> None:
        """Start an empty journal (after recovery has read the old one)."""
        with self._lock:
            self._open.clear()
            self._start(b"")

    def record(self, task_id: int, attempt: int) -> None:
        line = b"%d %d\n" % (task_id, attempt)
        with self._lock:
            if self._closed:
                return  # the store let the file go (a worker racing the node's stop)
            if self._map is None:  # recovery has not reset it (or could not): keep it
                self._start(self._existing())
            if self._end + len(line) > self.rotate_bytes:
                self._rotate()
            end = self._end + len(line)  # _put, inline: this runs once per task
            self._map[self._end : end] = line  # type: ignore[index]
            self._end = end
            self._open[task_id] = attempt

    def forget(self, task_ids: list[int], attempts: list[int] | None = None) -> None:
        """These tasks' runs ended (finished or released): recovery no longer needs them.
        With ``attempts`` (one per id), only those attempts: a newer one may have begun."""
        with self._lock:
            ended: list[tuple[int, int]] = []
            for n, task_id in enumerate(task_ids):
                attempt = self._open.get(task_id)
                if attempt is None or (attempts is not None and attempts[n] != attempt):
                    continue
                del self._open[task_id]
                ended.append((task_id, attempt))
            if not ended or self._map is None or self._closed:
                return
            if self._replaced():
                # Deleted or replaced under us: write it again with what is unfinished.
                log.warning("the start journal %s was deleted or replaced: writing it again",
                            self.path)  # fmt: skip
                with contextlib.suppress(OSError):
                    self._rotate()
                return
            lines = "".join(f"-{i} {a}\n" for i, a in ended).encode()
            if self._end + len(lines) <= self.rotate_bytes:
                self._put(lines)
                return
            # The new file holds only unfinished starts: nothing to add. With no room for
            # it, the ended runs stay listed, which is safe (end lines only save work).
            with contextlib.suppress(OSError):
                self._rotate()

    def _put(self, data: bytes) -> None:
        assert self._map is not None
        end = self._end + len(data)
        self._map[self._end : end] = data
        self._end = end

    def _existing(self) -> bytes:
        used = _used_bytes(self.path) or b""
        return used[: used.rfind(b"\n") + 1]  # a torn last line is dropped, not completed

    def _replaced(self) -> bool:
        """Whether the file at ``path`` is no longer the one mapped (one ``stat``, once
        per batch of ends, not per start)."""
        try:
            info = os.stat(self.path)
        except OSError:
            return True
        return (info.st_dev, info.st_ino) != self._inode

    def _rotate(self) -> None:
        self._start("".join(f"{i} {a}\n" for i, a in self._open.items()).encode())

    def _start(self, body: bytes) -> None:
        """Write ``body`` to a new file of ``rotate_bytes`` (grown if the body needs it),
        rename it over the old one and map it: a crash at any point leaves one complete
        journal that holds every unfinished start."""
        self._close()
        size = max(self.rotate_bytes, 2 * len(body) + 64)
        tmp = self.path + ".tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            try:
                os.posix_fallocate(fd, 0, size)  # every page on disk now, or an OSError
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                os.unlink(tmp)  # the old journal stays in place, complete
                raise
            os.replace(tmp, self.path)
            self._map = mmap.mmap(fd, size)
            info = os.fstat(fd)
            self._inode = (info.st_dev, info.st_ino)
        finally:
            os.close(fd)
        self.rotate_bytes = size
        self._end = len(body)

    def _close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._close()


def _used_bytes(path: str) -> bytes | None:
    """The journal's lines: the bytes before the first zero byte, at most
    :data:`MAX_READ`; None if there is no regular file at ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # no journal can ever be written there: refuse to start
            raise StoreUnavailableError(
                "start journal",
                path,
                "is a directory",
                "It is the node's record of task starts beside the database: "
                "move the directory away",
            )
        if not stat.S_ISREG(mode):
            log.warning("ignoring the start journal %s: it is not a regular file", path)
            return None
        chunks: list[bytes] = []
        total = 0
        while total < MAX_READ:
            chunk = os.pread(fd, min(_CHUNK, MAX_READ - total), total)
            zero = chunk.find(b"\0")
            if zero >= 0 or not chunk:
                chunks.append(chunk[: max(zero, 0)] if zero >= 0 else chunk)
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
        log.warning("the start journal %s is larger than %d bytes: the rest is ignored",
                    path, MAX_READ)  # fmt: skip
        return b"".join(chunks)
    finally:
        os.close(fd)
