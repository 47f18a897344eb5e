"""The shared store: several nodes (processes, machines) on one PostgreSQL database.

Semantics are MemoryStore's (``core/store.py``), checked by the shared contract suite;
this module adds what several nodes need. Design decisions:

- **Claims** are one statement: a CTE picks the lowest queued ids of a category with
  ``FOR UPDATE SKIP LOCKED`` and an ``UPDATE ... RETURNING`` marks them running, so nodes
  claiming at the same moment take different rows and never wait on each other.
- **Outcomes** are fenced (``id``, ``owner``, ``attempts``, ``state = 'running'``) and a
  ``finish()`` batch is one transaction of at most two array statements.
- **Notifications**: inserts, settings changes, cancel requests, releases and recoveries
  ``NOTIFY jobsched_work`` (delivered at commit). ``subscribe`` starts a listener thread
  that wakes the node. A hint only: nodes still poll every ``poll_interval``.
- **Liveness is judged on one clock, the database server's.** A heartbeat stores the
  node's own ``heartbeat_at`` (shown to people) and ``seen_at = now()`` on the server;
  staleness compares ``seen_at`` with the server's ``now()``. Clock skew between nodes
  therefore never makes a live node look dead or a dead one look alive. (Due times and
  ``finished_at`` still come from the nodes' clocks: keep them in sync with NTP, or a
  node with a fast clock runs delayed tasks early by the skew.)
- **Recovery**: every node calls ``recover`` after each heartbeat. A cheap read first
  asks whether any node is stale or any running row has a dead owner; only then a
  transaction takes ``pg_try_advisory_xact_lock`` (one recoverer at a time; the others
  skip, as the winner does the work) and re-queues the running rows whose owner is not
  the caller and has no fresh heartbeat (stale by ``stale_after`` seconds, stopped, or
  never seen). Never by a task's age. Those nodes are marked stopped, with who recovered
  them and when. A node that comes back after being declared dead logs an error at its
  next heartbeat: its outcomes are fenced out, but a task it still runs may run twice.
- **record_start is real**, not a no-op: ``run_began`` is set on the row (fenced by the
  claim: owner, attempt and claim time) before the handler runs, so recovery gives back
  the attempt of a task that was only claimed into the dead node's FIFO, and only runs
  that really began count toward ``orphaned``. Without it a crash would charge every
  prefetched task an attempt, and a node killed a few times by one poison task could fail
  its innocent neighbours.
  It costs one round trip before each run, shared by workers starting together
  (``StartRecorder``'s group commit: the first waits up to 0.5 ms for the others of its
  round) over one connection per node, committed without waiting for the WAL flush: the
  mark must survive the node being killed, as the protocol asks, not the server losing
  power (then a run counts as never begun). The statement finds its rows by primary key,
  keeps one generic plan, and its session tells the count triggers to skip it (a start
  moves no task between states). With four workers a node writes about one start
  statement per four no-op tasks (``bench/postgres_compare.py``).
- **Claims not begun go back sooner**: each heartbeat publishes the node's claim lease
  (three heartbeat intervals). Once a node's heartbeat is older than that, on the
  server's clock, the recoverer gives back its running rows with no ``run_began``
  (attempt returned, owner cleared, in the same transaction as the rest of recovery),
  without declaring the node dead: its runs that began wait for ``stale_after`` as
  before. It is safe against a node that was only slow (a pause, a stalled connection):
  the start is one fenced UPDATE, and the row lock orders it against the give-back, so
  either the start lands first (the row is begun: not given back) or it finds the claim
  gone and the handler does not run. The claim time in the fence keeps a later claim
  of the same task (same attempt number, this node again) from answering for an old one.
- Connections: one per thread (``postgres.connection``), autocommit; the listener and the start
  recorder each own one more.

This module holds the store's connections and transactions and its task path (insert,
claim, record_start); the class is assembled from parts in this package: the outcome
batch (``outcomes.py``), opening and closing (``lifecycle.py``), recovery and release at
stop (``recovery.py``), the operator's cancel and retry (``operations.py``) and upkeep
(``upkeep.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from jobsched.core.claim_plan import ClaimLimits, ClaimPlan
from jobsched.core.errors import ConfigError, StoreBusyError, StoreUnavailableError
from jobsched.core.limits import Claimed
from jobsched.core.task import (
    QUEUED,
    SCHEDULED,
    NewTask,
    TaskRecord,
    claim_order,
)

from .. import rows as shapes
from ..history_rows import HistoryRows
from ..schedule_rows import ScheduleRows
from . import queries
from .connection import Database, PgSettings, parse_url
from .errors import translate_pg_errors
from .lifecycle import PostgresLifecycle
from .operations import PostgresOperations
from .outcomes import PostgresOutcomes
from .recovery import PostgresRecovery
from .threads import Listener, StartRecorder
from .upkeep import PostgresUpkeep
from .upkeep import task_ids as _ids
from .watch import ListenWatch


class PostgresStore(
    PostgresOutcomes,
    PostgresLifecycle,
    PostgresRecovery,
    PostgresOperations,
    PostgresUpkeep,
    shapes.SqlReads,
    ScheduleRows,
    HistoryRows,
):
    """A :class:`core.store.TaskStore` on PostgreSQL, shared by many nodes. Build it with
    :func:`storage.open_store`; the scheduler calls :meth:`open` with its node id.

    ``url``: ``postgresql://user:password@host:port/database``, optionally with
    ``?stale_after=SECONDS&schema=NAME&mode=ro`` and any libpq parameter (``sslmode``...).
    ``stale_after`` and ``schema`` given here win over the URL's. ``busy_timeout`` is how
    long a statement waits for a row lock (``lock_timeout``). Construction touches nothing.
    """

    shared = True
    multi_node = True
    _q = queries
    _mark = "%s"

    def __init__(
        self,
        url: str,
        *,
        stale_after: float | None = None,
        schema: str | None = None,
        read_only: bool = False,
        busy_timeout: float = 5.0,
    ) -> None:
        if not (isinstance(busy_timeout, int | float) and 0 < busy_timeout < math.inf):
            raise ConfigError(
                "busy timeout", busy_timeout, "must be a positive number of seconds", ""
            )
        self.settings: PgSettings = parse_url(
            url, stale_after=stale_after, schema=schema, read_only=read_only
        )
        self.location = self.settings.location
        self.stale_after = self.settings.stale_after
        self.read_only = self.settings.read_only
        self.busy_timeout = float(busy_timeout)
        self.schema: str | None = self.settings.schema
        self._errors = translate_pg_errors(self.settings.target)
        self._db: Database | None = None
        self._recovery_key = 0
        self._ticks_seed = 0
        self._listener: Listener | None = None
        self._starts: StartRecorder | None = None
        self._watches: list[ListenWatch] = []
        self._warned_recovered: dict[str, Any] = {}  # node id -> recovered_at warned of

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"PostgresStore({self.location!r}, {state})"

    # --- connections and transactions ------------------------------------------------
    def _conn(self) -> psycopg.Connection[Any]:
        db = self._db
        if db is None:
            raise StoreUnavailableError(
                "database", self.location, "is not open", "Call open() first"
            )
        return db.usable_connection()

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction: committed when the block ends, rolled back on error."""
        with self._errors:
            conn = self._conn()
            with conn.transaction():
                yield conn

    def _lock_ticks(self, conn: psycopg.Connection[Any], name: str) -> None:
        """A transaction-scoped advisory lock per schedule (see ScheduleRows): under READ
        COMMITTED a statement's snapshot may predate a commit it raced, and a claim whose
        guard missed a newer tick could re-insert a tick a prune deleted meanwhile."""
        conn.execute(queries.LOCK_SCHEDULE_TICKS, (name, self._ticks_seed))

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """One statement in autocommit (a single-statement write is fine here too)."""
        with self._errors:
            return self._conn().execute(query, params).fetchall()

    # --- notifications and task starts -------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` from the listener thread when another process notifies."""
        if self._listener is None:
            raise StoreUnavailableError(
                "database", self.location, "is not open", "Call open() first"
            )
        self._listener.add(callback)

    def watch_commits(self) -> ListenWatch:
        """A watch that LISTENs, on its own connection, for batches of outcomes."""
        self._conn()  # refuses when the store is not open
        with self._errors:
            watch = ListenWatch(self._own_connection())
        self._watches.append(watch)
        return watch

    def record_start(self, task: TaskRecord) -> bool:
        """Mark the claimed attempt as begun, before its handler runs; False when the
        claim was given back meanwhile (see the module docstring)."""
        starts = self._starts
        if starts is None:
            raise StoreUnavailableError(
                "database", self.location, "is not open", "Call open() first"
            )
        if task.owner is None:
            return False  # not a claimed row
        with self._errors:
            return starts.record((task.id, task.owner, task.attempts, task.started_at))

    # --- write path --------------------------------------------------------------------
    def insert(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        """Insert a batch in one transaction; a live dedup key returns the existing id."""
        if not tasks:
            return []
        with self._write() as conn:
            return self._insert_in(conn, tasks, now)

    def _insert_in(
        self, conn: psycopg.Connection[Any], tasks: Sequence[NewTask], now: float
    ) -> list[int]:
        """The batch insert, inside the caller's transaction."""
        ids = [0] * len(tasks)
        rows: list[NewTask] = []
        places: list[list[int]] = []  # for each new row, the batch positions it answers
        keys = {t.dedup_key for t in tasks if t.dedup_key is not None}
        live = dict(conn.execute(queries.LIVE_IDS_FOR_KEYS, (list(keys),))) if keys else {}
        row_of_key: dict[str, int] = {}
        for position, new in enumerate(tasks):
            key = new.dedup_key
            if key is not None and key in live:
                ids[position] = live[key]
            elif key is not None and key in row_of_key:
                places[row_of_key[key]].append(position)
            else:
                if key is not None:
                    row_of_key[key] = len(rows)
                rows.append(new)
                places.append([position])
        if rows:
            new_ids = self._insert_rows(conn, rows, now)
            for row_id, positions in zip(new_ids, places, strict=True):
                for position in positions:
                    ids[position] = row_id
            conn.execute(queries.NOTIFY)
        return ids

    def _insert_rows(
        self, conn: psycopg.Connection[Any], rows: list[NewTask], now: float
    ) -> list[int]:
        """Insert ``rows``; return their ids (a concurrent winner's id for a lost key)."""
        new_ids = sorted(r[0] for r in conn.execute(queries.NEXT_IDS, (len(rows),)))
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [], [], [])
        for row_id, new in zip(new_ids, rows, strict=True):
            state = SCHEDULED if new.run_at > now else QUEUED
            values = (row_id, new.handler, new.category, state, new.payload, new.run_at,
                      new.max_attempts, new.timeout, new.dedup_key, new.priority)  # fmt: skip
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        inserted = {r[0] for r in conn.execute(queries.INSERT_TASKS, (now, *columns))}
        lost = [i for i, row_id in enumerate(new_ids) if row_id not in inserted]
        if lost:
            keys = [rows[i].dedup_key for i in lost]
            winners = dict(conn.execute(queries.LIVE_IDS_FOR_KEYS, (keys,)))
            for i, key in zip(lost, keys, strict=True):
                if key not in winners:  # the winner finished between the two statements
                    raise StoreBusyError(
                        "dedup key",
                        key,
                        "was used by another process at the same moment",
                        "Nothing was inserted; submit again",
                    )
                new_ids[i] = winners[key]
        return new_ids

    def insert_claimed(self, tasks: Sequence[NewTask], now: float, owner: str) -> list[TaskRecord]:
        """Insert due tasks already claimed by ``owner`` (the node's direct hand-off)."""
        if not tasks:
            return []
        with self._write() as conn:
            ids = sorted(r[0] for r in conn.execute(queries.NEXT_IDS, (len(tasks),)))
            columns = [
                ids,
                [t.handler for t in tasks],
                [t.category for t in tasks],
                [t.payload for t in tasks],
                [t.run_at for t in tasks],
                [t.max_attempts for t in tasks],
                [t.timeout for t in tasks],
                [t.priority for t in tasks],
            ]
            conn.execute(queries.INSERT_CLAIMED, (now, owner, now, *columns))
        return [t.claimed(task_id, now, owner) for task_id, t in zip(ids, tasks, strict=True)]

    def promote_due(self, now: float) -> int:
        with self._errors:
            return self._conn().execute(queries.PROMOTE_DUE, (now,)).rowcount

    def next_run_at(self) -> float | None:
        value: float | None = self._read(queries.NEXT_RUN_AT)[0][0]
        return value

    def claim(self, category: str, limit: int, owner: str, now: float) -> list[TaskRecord]:
        """Move up to ``limit`` queued tasks of ``category``, highest priority first and
        lowest id first among equals, to running (returned in that order); rows another
        node is claiming at this moment are skipped, not waited for."""
        if limit <= 0:
            return []
        with self._errors:  # planned each time: see queries.CLAIM
            conn = self._conn()
            rows = conn.execute(queries.CLAIM, (owner, now, category, limit), prepare=False)
            rows = rows.fetchall()
        return sorted(map(shapes.task_from, rows), key=claim_order)

    def claim_limited(
        self, category: str, limit: int, owner: str, now: float, limits: ClaimLimits
    ) -> Claimed:
        """``claim`` paid for by token buckets (a ``ClaimPlan``): their rows are locked in
        the claim's transaction (in name order), so the nodes claiming a limited category
        take turns on them; their time is the server's clock."""
        if limit <= 0:
            return Claimed([])
        with self._write() as conn:
            stored, clock = {}, 0.0
            for key, rate in sorted(limits.buckets().items()):
                conn.execute(queries.ENSURE_LIMITER, (key, float(rate.burst)))
                tokens, updated, clock = conn.execute(queries.LOCK_LIMITER, (key,)).fetchone()
                stored[key] = (tokens, updated)
            plan = ClaimPlan(limits, limit, stored, clock)

            def select(blocked: list[str], n: int) -> list[tuple[int, str]]:
                return conn.execute(queries.CLAIM_CANDIDATES, (category, blocked, n)).fetchall()

            def claim(ids: list[int]) -> list[TaskRecord]:
                rows = conn.execute(queries.CLAIM_IDS, (owner, now, ids)).fetchall()
                return list(map(shapes.task_from, rows))

            tasks = plan.run(select, claim)
            for key, (tokens, updated) in plan.states().items():
                conn.execute(queries.SAVE_LIMITER, (tokens, updated, key))
            more = conn.execute(queries.ANY_QUEUED, (category,)).fetchone
            wait = plan.wait(lambda: more() is not None)
        return Claimed(sorted(tasks, key=claim_order), wait)

    # --- reading -----------------------------------------------------------------------
    def get(self, task_id: int) -> TaskRecord | None:
        if not _ids([task_id]):
            return None
        rows = self._read(queries.GET_TASK, (task_id,))
        return shapes.task_from(rows[0]) if rows else None
