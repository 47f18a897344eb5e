"""The two parts of the PostgreSQL store that own a connection of their own.

- :class:`Listener`: a thread that ``LISTEN``s on the work channel and calls the node's
  callbacks when another process wrote work or settings. A hint only: the node still
  polls, so a lost notification (a dropped connection) only costs one poll interval.
- :class:`StartRecorder`: writes "this attempt began" before a handler runs, for the
  poison rule, fenced by the claim: a claim given back meanwhile is not marked, and its
  caller told so (it must not run the handler). Workers that start at the same moment
  share one UPDATE (group commit): the first to arrive writes everything pending while
  the others wait for that write.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from jobsched.core.errors import StoreBusyError
from jobsched.core.outage import OutageTracker

from . import queries

log = logging.getLogger("jobsched.storage")

Connect = Callable[[], "psycopg.Connection[Any]"]


class Listener:
    """Calls every subscribed callback (on its own thread) after notifications arrive.

    The thread body is one step, :meth:`listen_once`, in a loop that checks a stop event;
    tests call the step directly.
    """

    #: How long one step waits for a notification; also how soon a stop is noticed.
    WAIT = 0.25
    #: Pause before reconnecting after the connection failed (doubles up to the maximum).
    RETRY_MIN, RETRY_MAX = 0.5, 5.0

    def __init__(self, connect: Connect, location: str) -> None:
        self._connect = connect
        self._location = location
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry = self.RETRY_MIN
        # INFO: the node still polls, and its dispatcher reports the outage at WARNING.
        self.outage = OutageTracker("notifications", location, logger=log, level=logging.INFO)
        self.notified = 0

    def add(self, callback: Callable[[], None]) -> None:
        """Subscribe ``callback``; the first subscription starts the thread."""
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="jobsched-pg-listener", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self._close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.listen_once(self.WAIT)
                self._retry = self.RETRY_MIN
                self.outage.ok()
            except Exception as exc:  # the node still polls: note it, wait, reconnect
                self.outage.failed(exc)
                self._close()
                self._stop.wait(self._retry)
                self._retry = min(self.RETRY_MAX, self._retry * 2)

    def listen_once(self, wait: float) -> int:
        """Wait up to ``wait`` seconds for notifications; call the callbacks once if any
        came (or after a reconnect, when some may have been missed). Returns how many."""
        conn = self._conn
        fresh = conn is None
        if conn is None:
            conn = self._connect()
            conn.execute(queries.LISTEN)
            self._conn = conn
        count = sum(1 for _ in conn.notifies(timeout=wait, stop_after=1))
        if count:  # take whatever else already arrived, so one call covers a burst
            count += sum(1 for _ in conn.notifies(timeout=0))
        if count or fresh:
            self.notified += count
            for callback in list(self._callbacks):
                try:
                    callback()
                except Exception:
                    log.exception("a store subscriber failed")
        return count

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


#: One start as the recorder writes it: (task id, owner, attempt, claim time).
Start = tuple[int, str, int, "float | None"]


class StartRecorder:
    """Group commit of ``record_start``: each caller returns once its start is written,
    with whether it applied (its claim still held)."""

    #: The longest a worker waits for its start to be written before giving up.
    TIMEOUT = 30.0
    #: The longest a batch waits for more starts (see ``record``), and how long the number
    #: of callers seen together is remembered.
    LINGER, PEAK_SPAN = 0.0005, 1.0

    def __init__(self, connect: Connect, condition: threading.Condition | None = None) -> None:
        """``condition``: what callers wait on (a test may pass one that delays them)."""
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = None
        self._cond = condition or threading.Condition()
        self._joined = threading.Condition(self._cond)  # a lingering batch grew
        self._pending: list[Start] = []
        self._writing = False
        self._next = 1  # the number of the batch now filling
        self._done = 0  # the number of the last batch written (or failed)
        # A batch's answers (or error), kept until every caller in it has read them.
        self._failed: dict[int, BaseException] = {}
        self._applied: dict[int, set[Start]] = {}
        self._unread: dict[int, int] = {}  # batch number -> callers yet to return
        self._inside = 0  # callers in record() now
        self._peak = 0  # the most callers in record() at once lately
        self._peak_since = time.monotonic()

    def record(self, start: Start) -> bool:
        """Write ``start`` (in a batch with the others pending); False if its claim is no
        longer the task's. Raises the store's error when the write failed (its outcome
        is then unknown)."""
        with self._cond:
            self._inside += 1
            try:
                return self._record(start)
            finally:
                self._inside -= 1

    def _record(self, start: Start) -> bool:
        """``record``'s body, entered holding the condition; left holding it."""
        self._pending.append(start)
        self._note_peak()
        ticket = self._next
        self._unread[ticket] = self._unread.get(ticket, 0) + 1
        try:
            return self._take_part(start, ticket)
        finally:
            left = self._unread.pop(ticket) - 1
            if left:
                self._unread[ticket] = left
            else:  # the last caller of the batch has its answer
                self._applied.pop(ticket, None)
                self._failed.pop(ticket, None)

    def _take_part(self, start: Start, ticket: int) -> bool:
        """Wait for batch ``ticket`` to be written by another caller, or write it."""
        if len(self._pending) >= self._peak:
            self._joined.notify()  # a lingering first caller need not wait longer
        while self._writing and self._done < ticket:
            if not self._cond.wait(self.TIMEOUT):
                raise StoreBusyError(
                    "start of task",
                    start[0],
                    f"could not be recorded within {self.TIMEOUT:g} s",
                    "Check the database server",
                )
        if self._done >= ticket:  # written by another caller's batch
            error = self._failed.get(ticket)
            if error is not None:
                raise error
            return start in self._applied.get(ticket, ())
        self._writing = True
        self._linger()
        batch, self._pending = self._pending, []
        number, self._next = self._next, self._next + 1
        self._cond.release()  # the write runs unlocked: the next batch fills meanwhile
        try:
            return self._write_batch(number, batch, start)
        finally:
            self._cond.acquire()

    def _note_peak(self) -> None:
        """Remember how many callers were in ``record`` at once (over ``PEAK_SPAN``)."""
        now = time.monotonic()
        if now - self._peak_since > self.PEAK_SPAN:
            self._peak, self._peak_since = 0, now
        self._peak = max(self._peak, self._inside)

    def _linger(self) -> None:
        """Workers that start together reach the recorder a few microseconds apart: the
        first would write alone and the rest wait for its round trip, then write
        together (batches of 1, 3, 1, 3 with four workers). The first caller therefore
        waits, at most ``LINGER``, until as many starts are pending as callers lately
        came at once: one statement per round of workers."""
        deadline = time.monotonic() + self.LINGER
        while len(self._pending) < self._peak:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._joined.wait(left)

    def _write_batch(self, number: int, batch: list[Start], start: Start) -> bool:
        """Write a batch as its leader, publish the answers; whether ``start`` applied."""
        error: BaseException | None = None
        applied: set[Start] = set()
        try:
            applied = self._write(batch)
        except BaseException as exc:
            error = exc
        self._settle(number, applied, error)
        if error is not None:
            raise error
        return start in applied

    def _settle(self, number: int, applied: set[Start], error: BaseException | None) -> None:
        """Publish batch ``number``'s answers to the callers waiting for it."""
        with self._cond:
            self._writing = False
            self._done = number
            if number in self._unread:  # callers of the batch are still to read it
                if error is not None:
                    self._failed[number] = error
                else:
                    self._applied[number] = applied
            self._cond.notify_all()

    def _write(self, batch: Sequence[Start]) -> set[Start]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            conn = self._conn = self._connect()
            # The mark must survive this process being killed, which a commit the server
            # has made visible does; waiting for the WAL flush as well (a power loss) would
            # cost a disk sync before every run.
            conn.execute("SET synchronous_commit = off")
            # Marking a run begun moves no task between states: the count triggers may
            # skip this connection's statements (see columns.POSTGRES_COUNT_BODY).
            conn.execute("SET jobsched.counts_unchanged = on")
            # Its one statement keeps one plan (the planner would plan each execution
            # anew), which finds the ids by index even when the plan was made while the
            # table was small (it would scan the whole table on every start once the
            # table had grown, until the next ANALYZE).
            conn.execute("SET plan_cache_mode = force_generic_plan")
            conn.execute("SET enable_seqscan = off")
        ordered = sorted(batch, key=lambda start: start[0])  # rows locked in id order
        columns = [list(column) for column in zip(*ordered, strict=True)]
        rows = conn.execute(queries.RECORD_STARTS, (*columns, columns[0])).fetchall()
        return {(row[0], row[1], row[2], row[3]) for row in rows}

    def close(self) -> None:
        with self._cond:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
