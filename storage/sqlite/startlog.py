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
database (``<db>.starts``) and belongs to the node holding ``<db>.lock``; past the
last line it holds zero bytes, which the reader skips like any torn line. When it is
full it is rewritten with only the unfinished starts.

Its disk space is allocated when the file is made (``posix_fallocate``): a page of a
sparse map first touched on a full disk would kill the process with SIGBUS, while a
failed allocation is an ``OSError`` that a start reports (the task runs anyway, as
with a failed ``write``) and an end ignores (end lines only save recovery work).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading


class StartJournal:
    def __init__(self, path: str, rotate_bytes: int = 4 << 20) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes  # the mapped file's size; rewritten when full
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self._end = 0  # bytes of lines written
        self._open: dict[int, int] = {}  # task id -> attempt: started, not yet ended
        self._closed = False

    def read(self) -> set[tuple[int, int]] | None:
        """The starts the previous owner wrote (a torn last line and the zero bytes after
        the last line are ignored), or None when there is no journal at all (then
        recovery must count every claim)."""
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
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
        line = f"{task_id} {attempt}\n".encode()
        with self._lock:
            if self._closed:
                return  # the store let the file go (a worker racing the node's stop)
            if self._map is None:  # recovery has not reset it (or could not): keep it
                self._start(self._existing())
            if self._end + len(line) > self.rotate_bytes:
                self._rotate()
            self._put(line)
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
        try:
            with open(self.path, "rb") as fh:
                used = fh.read().rstrip(b"\0")
        except FileNotFoundError:
            return b""
        return used[: used.rfind(b"\n") + 1]  # a torn last line is dropped, not completed

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
