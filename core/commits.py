"""Waiting for a task in a process that runs no node: woken by the store's commits.

A client with no engine in its process (a producer, the CLI) cannot be told by a completer
that a task ended. It asks its store for a :class:`CommitWatch` (``TaskStore.watch_commits``:
PostgreSQL ``LISTEN``, SQLite ``PRAGMA data_version``), a sign that another connection
committed, and re-reads its task on each sign. :class:`CommitFeed` shares one watch (one
connection) among every thread of the client that waits: one thread at a time watches
(the leader) and counts the signs in a generation number the others wait on.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from .clock import Clock
from .errors import TaskNotFoundError, WaitTimeoutError
from .store import TaskStore
from .task import TERMINAL, TaskRecord

log = logging.getLogger("jobsched")

#: The longest a waiter goes without reading its task, in case a sign was missed (a
#: dropped connection, a recovery that wrote no sign).
FALLBACK_POLL = 1.0


class CommitWatch(Protocol):
    """A sign that another connection committed, on a connection of its own.

    Called by one thread at a time (``CommitFeed``'s leader)."""

    def changed(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a commit by another connection since the
        previous call; True if one came (a hint: it may concern other tasks)."""

    def close(self) -> None: ...


class CommitFeed:
    """One :class:`CommitWatch` shared by the waiting threads of one client."""

    def __init__(self, store: TaskStore) -> None:
        self._store = store
        self._cond = threading.Condition()
        self._watch: CommitWatch | None = None
        self._leading = False
        self._pause = threading.Event()  # never set: the pause between failed watches
        #: how many signs were seen: a waiter that read its task at generation g waits
        #: for a generation above g
        self.generation = 0

    def _ensure_watch(self) -> None:
        with self._cond:
            if self._watch is None:
                self._watch = self._store.watch_commits()

    def wait_terminal(self, clock: Clock, task_id: int, timeout: float | None) -> TaskRecord:
        """Block until the task is terminal and return its record; raises
        WaitTimeoutError after ``timeout`` seconds, TaskNotFoundError for no such task."""
        # The watch exists before the first read, so a commit between the read and the
        # wait is a sign the leader sees (SQLite compares with its last data_version;
        # PostgreSQL queues notifications on the listening connection).
        self._ensure_watch()
        deadline = None if timeout is None else clock.monotonic() + timeout
        while True:
            seen = self.generation
            record = self._store.get(task_id)
            if record is None:
                raise TaskNotFoundError(task_id)
            if record.state in TERMINAL:
                return record
            left = None if deadline is None else deadline - clock.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeoutError(task_id, timeout or 0.0)
            self.wait_change(seen, FALLBACK_POLL if left is None else min(left, FALLBACK_POLL))

    def wait_change(self, seen: int, timeout: float) -> None:
        """Return once the generation is above ``seen``, or after ``timeout`` seconds."""
        with self._cond:
            if self.generation > seen:
                return
            if self._leading:  # another thread watches: wait for its news
                self._cond.wait(timeout)
                return
            self._leading = True
            watch = self._watch
        changed = False
        try:
            if watch is None:
                watch = self._watch = self._store.watch_commits()
            changed = watch.changed(timeout)
        except Exception as exc:  # polling it is, until the watch works again
            log.debug("commit watch failed (%s); reading the store every %g s", exc, timeout)
            self._drop()
            self._pause.wait(timeout)
        finally:
            with self._cond:
                self._leading = False
                if changed:
                    self.generation += 1
                self._cond.notify_all()

    def _drop(self) -> None:
        with self._cond:
            watch, self._watch = self._watch, None
        if watch is not None:
            try:
                watch.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                log.debug("closing a failed commit watch failed too", exc_info=True)

    def close(self) -> None:
        with self._cond:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
