"""The start journal: which claimed tasks really began, as the node that owns the file
saw it. It lets recovery tell an interrupted run (counted against ``max_attempts``, the
poison rule) from a task that was only waiting in a FIFO (its attempt is given back).

One line ``<id> <attempt>`` per start, appended with a single ``write`` before the
handler runs: the kernel keeps it when the process is killed (a power loss may lose it,
and then recovery counts every claim, as a store without a journal does). A line
``-<id> <attempt>`` marks that run's end: a retry or a release starts the count of
attempts again, so the same pair may be claimed again and must not read as started.
The file sits beside the database (``<db>.starts``) and belongs to the node holding
``<db>.lock``. It is rewritten with only the unfinished starts when it grows past
``rotate_bytes``.
"""

from __future__ import annotations

import os
import threading


class StartJournal:
    def __init__(self, path: str, rotate_bytes: int = 4 << 20) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._open: dict[int, int] = {}  # task id -> attempt: started, not yet ended
        self._size = 0

    def read(self) -> set[tuple[int, int]] | None:
        """The starts the previous owner wrote (a torn last line is ignored), or None when
        there is no journal at all (then recovery must count every claim)."""
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
            self._close()
            self._fd = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o644
            )
            self._open.clear()
            self._size = 0

    def record(self, task_id: int, attempt: int) -> None:
        line = f"{task_id} {attempt}\n".encode()
        with self._lock:
            if self._fd is None:  # recovery has not reset it: keep what is there
                self._fd = os.open(
                    self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644
                )
                self._size = os.fstat(self._fd).st_size
            os.write(self._fd, line)
            self._open[task_id] = attempt
            self._size += len(line)
            if self._size > self.rotate_bytes:
                self._rotate()

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
            if ended and self._fd is not None:
                lines = "".join(f"-{i} {a}\n" for i, a in ended).encode()
                os.write(self._fd, lines)
                self._size += len(lines)
                if self._size > self.rotate_bytes:
                    self._rotate()

    def _rotate(self) -> None:
        # Write the unfinished starts to a new file and rename it over the old one: a
        # crash at any point leaves one complete journal that holds every unfinished start.
        tmp = self.path + ".tmp"
        body = "".join(f"{i} {a}\n" for i, a in self._open.items()).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        self._close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._size = len(body)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close()
