"""The durable store: tasks, settings, decisions and nodes in one SQLite file.

Semantics are MemoryStore's (``core/store.py``), checked by the shared contract suite;
this module adds durability: every write is one ``BEGIN IMMEDIATE`` transaction that has
committed before the method returns.

This module holds the store's connections and transactions and its task path (insert,
claim, record_start); the class is assembled from parts in this package: the outcome
batch (``outcomes.py``), opening and closing (``lifecycle.py``), recovery at start and
release at stop (``recovery.py``), the operator's cancel and retry (``operations.py``)
and upkeep (``upkeep.py``).
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from jobsched.core.claim_plan import ClaimLimits, ClaimPlan
from jobsched.core.errors import ConfigError, StoreBusyError, StoreUnavailableError
from jobsched.core.limits import Claimed
from jobsched.core.task import (
    QUEUED,
    RUNNING,
    SCHEDULED,
    NewTask,
    TaskRecord,
    claim_order,
)

from .. import query_sql
from .. import rows as shapes
from ..history_rows import HistoryRows
from ..rows import claimed_record
from ..schedule_rows import ScheduleRows
from . import queries
from .connection import DURABILITY, Database, sqlite_uri, write_lock
from .errors import translate_errors
from .lifecycle import SqliteLifecycle
from .nodelock import NodeLock
from .operations import SqliteOperations
from .outcomes import SqliteOutcomes
from .recovery import SqliteRecovery
from .startlog import StartJournal
from .tally import Tally, moved
from .upkeep import SqliteUpkeep
from .watch import DataVersionWatch

#: Ids per UPDATE of a claim (a window of many workers claims more in one go).
CLAIM_CHUNK = 512


class SqliteStore(
    SqliteOutcomes,
    SqliteLifecycle,
    SqliteRecovery,
    SqliteOperations,
    SqliteUpkeep,
    shapes.SqlReads,
    ScheduleRows,
    HistoryRows,
):
    """A :class:`core.store.TaskStore` on a SQLite file. Build it with
    :func:`storage.open_store`; the scheduler calls :meth:`open` with its node id.

    Construction touches nothing. ``open(node_id)`` takes the node lock on
    the database file (a ``flock``: one node per file, see ``storage.nodelock``), creates or upgrades the file and checks it is
    writable; ``open()`` without a node id is for other processes (CLI readers and
    writers) and takes no lock. Thread-safe: each thread gets its own connection, and
    writes queue on one in-process lock.
    """

    shared = True
    multi_node = False
    _q = queries
    _mark = "?"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        durability: str = "normal",
        busy_timeout: float = 5.0,
        pragmas: Mapping[str, object] | None = None,
    ) -> None:
        if durability not in DURABILITY:
            raise ConfigError(
                "durability", durability, "is not a durability level", "Use 'normal' or 'full'"
            )
        if not (isinstance(busy_timeout, int | float) and 0 < busy_timeout < math.inf):
            raise ConfigError(
                "busy timeout", busy_timeout, "must be a positive number of seconds", ""
            )
        self.location = os.fspath(path)
        self.path = os.path.abspath(self.location)
        self.read_only = read_only
        self.durability = durability
        self.busy_timeout = float(busy_timeout)
        self._pragmas = dict(pragmas or {})
        self._errors = translate_errors(self.location, self.busy_timeout)
        self._write_lock = write_lock(self.path)
        self._db: Database | None = None
        self._node_lock: NodeLock | None = None
        self._file_key: tuple[int, int] | None = None
        self._journal: StartJournal | None = None
        self._watches: list[DataVersionWatch] = []

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"SqliteStore({self.location!r}, {state})"

    # --- connections and transactions ------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        db = self._db
        if db is None:
            raise StoreUnavailableError(
                "database", self.location, "is not open", "Call open() first"
            )
        if db.is_closed():
            db.connect()
        conn: sqlite3.Connection = db.connection()
        return conn

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Never block without a timeout: a writer stuck longer than the busy timeout is
        # reported like a lock held by another process.
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            raise StoreBusyError(
                "database",
                self.location,
                f"is busy with another write of this process (waited {self.busy_timeout:g} s)",
                "Retry; split very large batches",
            )
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with self._errors, self._locked():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (SQLITE_FULL, a failed COMMIT): a
                # second ROLLBACK would raise and hide the real error.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _insert_one(self, query: str, params: Sequence[Any], category: str, state: str) -> int:
        """One INSERT and its counter, in one transaction. The new row's id is the
        connection's last rowid, read while this thread still holds the write lock."""
        with self._write() as conn:
            task_id = conn.execute(query, params).lastrowid
            moved_in = Tally()
            moved_in.add(category, state)
            moved_in.write(conn)
        assert task_id is not None
        return task_id

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._errors:
            return self._conn().execute(query, params).fetchall()

    # --- notifications and task starts -------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> None:
        """SQLite has no notifications: the node's poll (every ~100 ms) sees new rows."""

    def watch_commits(self) -> DataVersionWatch:
        """A watch on ``PRAGMA data_version``, on its own connection (closed with the
        store, before the file's shared descriptor: see ``storage.nodelock``)."""
        self._conn()  # refuses when the store is not open
        mode = "ro" if self.read_only else "rw"
        with self._errors:
            conn = sqlite3.connect(
                sqlite_uri(self.path, mode), uri=True, check_same_thread=False,
                timeout=self.busy_timeout,
            )  # fmt: skip
            watch = DataVersionWatch(conn)
        self._watches.append(watch)
        return watch

    def record_start(self, task: TaskRecord) -> bool:
        """Journal that this attempt begins (see ``sqlite.startlog``). Always True: only
        the node holding the file's lock claims from it, so no one else can have taken
        the claim back (a restart's recovery runs before anything is claimed)."""
        if self._journal is not None:
            self._journal.record(task.id, task.attempts)
        return True

    # --- write path --------------------------------------------------------------------
    def insert(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        """Insert a batch in one transaction; a live dedup key returns the existing id.

        Ids are assigned here, under the write transaction (no other writer can run), so
        the batch goes in as multi-row INSERTs without reading ids back.
        """
        if not tasks:
            return []
        if len(tasks) == 1 and tasks[0].dedup_key is None:
            new = tasks[0]
            state = SCHEDULED if new.run_at > now else QUEUED
            row = (new.handler, new.category, state, new.payload, new.run_at, now,
                   new.max_attempts, new.timeout, None, new.priority)  # fmt: skip
            return [self._insert_one(queries.INSERT_ONE, row, new.category, state)]
        with self._write() as conn:
            return self._insert_in(conn, tasks, now)

    def _insert_in(
        self, conn: sqlite3.Connection, tasks: Sequence[NewTask], now: float
    ) -> list[int]:
        """The batch insert, inside the caller's write transaction."""
        seq, highest = conn.execute(queries.NEXT_TASK_ID).fetchone()
        next_id = max(seq, highest) + 1
        ids: list[int] = []
        rows: list[tuple[Any, ...]] = []
        keys: dict[str, int] = {}
        for new in tasks:
            key = new.dedup_key
            if key is not None:
                existing = keys.get(key)
                if existing is None:
                    found = conn.execute(queries.LIVE_ID_FOR_KEY, (key,)).fetchone()
                    existing = None if found is None else found[0]
                if existing is not None:
                    ids.append(existing)
                    continue
                keys[key] = next_id
            state = SCHEDULED if new.run_at > now else QUEUED
            rows.append(
                (next_id, new.handler, new.category, state, new.payload, new.run_at, now,
                 new.max_attempts, new.timeout, key, new.priority)
            )  # fmt: skip
            ids.append(next_id)
            next_id += 1
        for chunk in query_sql.in_size_classes(rows, queries.INSERT_CHUNK):
            conn.execute(queries.insert_tasks(len(chunk)), [v for row in chunk for v in row])
        Tally().added((row[2], row[3]) for row in rows).write(conn)
        return ids

    def insert_claimed(self, tasks: Sequence[NewTask], now: float, owner: str) -> list[TaskRecord]:
        """Insert due tasks already claimed by ``owner`` (the node's direct hand-off)."""
        rows = [
            (new.handler, new.category, new.payload, new.run_at, now, new.max_attempts,
             new.timeout, owner, now, new.priority)
            for new in tasks
        ]  # fmt: skip
        if len(rows) == 1:
            ids = [self._insert_one(queries.INSERT_CLAIMED, rows[0], rows[0][1], RUNNING)]
        else:
            with self._write() as conn:
                ids = []
                for row in rows:
                    task_id = conn.execute(queries.INSERT_CLAIMED, row).lastrowid
                    assert task_id is not None
                    ids.append(task_id)
                Tally().added((row[1], RUNNING) for row in rows).write(conn)
        return [new.claimed(task_id, now, owner) for task_id, new in zip(ids, tasks, strict=True)]

    def promote_due(self, now: float) -> int:
        # Check first without the write lock: the node calls this on every poll.
        if not self._read(queries.ANY_DUE, (now,)):
            return 0
        tally = Tally()
        with self._write() as conn:
            rows = conn.execute(queries.PROMOTE_DUE, (now,)).fetchall()
            for (category,) in rows:
                tally.move(category, SCHEDULED, QUEUED)
            tally.write(conn)
        return len(rows)

    def next_run_at(self) -> float | None:
        value: float | None = self._read(queries.NEXT_RUN_AT)[0][0]
        return value

    def claim(self, category: str, limit: int, owner: str, now: float) -> list[TaskRecord]:
        """Move up to ``limit`` queued tasks of ``category``, highest priority first and
        lowest id first among equals, to running; returned in that order."""
        if limit <= 0 or not self._read(queries.ANY_QUEUED, (category,)):
            return []
        with self._write() as conn:
            rows = conn.execute(queries.CLAIM_NEXT, (category, limit)).fetchall()
            for start in range(0, len(rows), CLAIM_CHUNK):
                ids = query_sql.padded([row[0] for row in rows[start : start + CLAIM_CHUNK]])
                conn.execute(queries.claim_rows(len(ids)), (owner, now, *ids))
            moved(conn, category, QUEUED, RUNNING, len(rows))
        return [claimed_record(row, owner, now) for row in rows]  # in claim order

    def claim_limited(
        self, category: str, limit: int, owner: str, now: float, limits: ClaimLimits
    ) -> Claimed:
        """``claim`` paid for by token buckets (a ``ClaimPlan``), in one write transaction."""
        if limit <= 0 or not self._read(queries.ANY_QUEUED, (category,)):
            return Claimed([])
        with self._write() as conn:
            stored = {}
            for key in limits.buckets():
                row = conn.execute(queries.LIMITER, (key,)).fetchone()
                if row is not None:
                    stored[key] = (row[0], row[1])
            plan = ClaimPlan(limits, limit, stored, now)

            def select(blocked: list[str], n: int) -> list[tuple[int, str]]:
                sql = queries.claim_candidates(len(blocked))
                return conn.execute(sql, (category, *blocked, n)).fetchall()

            def claim(ids: list[int]) -> list[TaskRecord]:
                sql = queries.claim_ids(query_sql.size_class(len(ids)))
                rows = conn.execute(sql, (owner, now, *query_sql.padded(ids))).fetchall()
                moved(conn, category, QUEUED, RUNNING, len(rows))
                return list(map(shapes.task_from, rows))

            tasks = plan.run(select, claim)
            for key, (tokens, updated) in plan.states().items():
                conn.execute(queries.SAVE_LIMITER, (key, tokens, updated))
            wait = plan.wait(lambda: bool(select([], 1)))
        return Claimed(sorted(tasks, key=claim_order), wait)

    # --- reading -----------------------------------------------------------------------
    def get(self, task_id: int) -> TaskRecord | None:
        rows = self._read(queries.GET_TASK, (task_id,))
        return shapes.task_from(rows[0]) if rows else None
