"""The smallest durable design, as a yardstick: not a product, and it keeps no promise beyond
writing each event once.

Submit appends an ``insert`` event and puts the task on an in-memory queue; 4 workers take
tasks from that queue and append a ``start`` and an ``end`` event around each; ONE writer
thread drains every pending event and writes them in one transaction (an ``executemany``
per run of same-kind events, in order), commits, and repeats. WAL and
``synchronous=NORMAL``, as jobsched's default. Submits return once their batch's ``insert``
events are committed (the writer signals the commit), so a submit is acknowledged as
jobsched's is; the drain ends when every ``end`` event is committed.

jobsched shares this design's constraints (SQLite, durable events, 4 workers), so the ratio
of the two says how close the product gets to the floor of its own kind of system.

With ``claims=True`` (the "minimal design with claims" row) it also takes the one step the
product's flow adds to that floor: tasks reach the workers through the store, not from the
submit. Submits only insert; the writer, in the same transaction as the events it writes,
claims the next rows in claim order (``SELECT`` on a partial index of queued rows by
category, priority and id, then ``UPDATE`` of those ids to ``claimed`` with an owner) while
the in-memory window holds fewer than half of WINDOW tasks, and hands them to the workers
after the commit; a start sets ``running`` and an end is fenced (``WHERE id = ? AND owner
= ? AND state = 'running'``). Nothing else of the product is added (no attempts, journal,
progress, metrics, retries): the ratio of the two rows is the share of the floor that the
claim itself leaves.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import WARM_UP_TASKS, StartTimes, latency_result, paced

WORKERS = 4
#: Tasks per submit call in the bulk run (one acknowledgement each).
SUBMIT_BATCH = 1_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    handler TEXT NOT NULL,
    payload TEXT,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
"""
#: The claim variant's window: as jobsched's with 4 workers (each one running plus 64 waiting).
WINDOW = WORKERS * (1 + 64)
CLAIM_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY,
    handler TEXT NOT NULL,
    category TEXT NOT NULL,
    priority INTEGER NOT NULL,
    payload BLOB,  -- no affinity: the payload comes back as it went in
    state TEXT NOT NULL,
    owner TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS tasks_claim ON tasks (category, state, priority DESC, id)
    WHERE state = 'queued';
"""
CLAIM_SQL = {
    "insert": "INSERT INTO tasks (id, handler, category, priority, payload, state, created_at)"
    " VALUES (?, ?, 'default', 0, ?, 'queued', ?)",
    "start": "UPDATE tasks SET state = 'running', started_at = ? WHERE id = ? AND owner = 'n1'",
    "end": "UPDATE tasks SET state = 'done', finished_at = ? WHERE id = ? AND owner = 'n1'"
    " AND state = 'running'",
}
CLAIM_NEXT = (
    "SELECT id, payload FROM tasks WHERE category = 'default' AND state = 'queued'"
    " ORDER BY priority DESC, id LIMIT ?"
)
CLAIM_ROWS = "UPDATE tasks SET state = 'claimed', owner = 'n1' WHERE id = ?"
SQL = {
    "insert": "INSERT INTO tasks (id, handler, payload, state, created_at)"
    " VALUES (?, ?, ?, 'queued', ?)",
    "start": "UPDATE tasks SET state = 'running', started_at = ? WHERE id = ?",
    "end": "UPDATE tasks SET state = 'done', finished_at = ? WHERE id = ?",
}
_STOP = object()


class Writer:
    """One thread, one connection: drains the event queue into one transaction per pass."""

    def __init__(self, path: Path, claims: bool = False) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(CLAIM_SCHEMA if claims else SCHEMA)
        self.sql = CLAIM_SQL if claims else SQL
        #: the claim variant: the workers' window, filled after each commit
        self.window: queue.SimpleQueue[Any] | None = queue.SimpleQueue() if claims else None
        self.backlog = False  # whether a claim may find queued rows
        self.events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.ended = 0
        self.ended_changed = threading.Condition()
        self.thread = threading.Thread(target=self.run, name="writer", daemon=True)
        self.thread.start()

    def put(self, kind: str, row: tuple[Any, ...]) -> None:
        self.events.put((kind, row))

    def put_many(self, kind: str, rows: list[tuple[Any, ...]], acked: threading.Event) -> None:
        self.events.put((kind, rows, acked))

    def run(self) -> None:
        while True:
            # A claim that is due does not wait for an event.
            batch = [] if self.claimable() else [self.events.get()]
            while True:
                try:
                    batch.append(self.events.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            self.write([item for item in batch if item is not _STOP])
            if stop:
                return

    def claimable(self) -> bool:
        window = self.window
        return window is not None and self.backlog and window.qsize() < WINDOW // 2

    def write(self, batch: list[Any]) -> None:
        acks: list[threading.Event] = []
        ended = 0
        claimed: list[tuple[int, Any]] = []
        self.conn.execute("BEGIN")
        kind, rows = None, []  # the current run of same-kind events
        for item in batch:
            if len(item) == 3:  # a submitted batch: its rows, and who waits for the commit
                item_kind, item_rows, ack = item
                acks.append(ack)
            else:
                item_kind, item_rows = item[0], [item[1]]
            if item_kind != kind and rows:
                self.conn.executemany(self.sql[kind], rows)  # type: ignore[index]
                rows = []
            kind = item_kind
            rows.extend(item_rows)
            if item_kind == "end":
                ended += len(item_rows)
            if item_kind == "insert":
                self.backlog = True
        if rows:
            self.conn.executemany(self.sql[kind], rows)  # type: ignore[index]
        if self.claimable():
            assert self.window is not None
            want = WINDOW - self.window.qsize()
            claimed = self.conn.execute(CLAIM_NEXT, (want,)).fetchall()
            self.conn.executemany(CLAIM_ROWS, [(task_id,) for task_id, _ in claimed])
            self.backlog = len(claimed) == want
        self.conn.execute("COMMIT")
        for task in claimed:
            self.window.put(task)  # type: ignore[union-attr]
        for ack in acks:
            ack.set()
        if ended:
            with self.ended_changed:
                self.ended += ended
                self.ended_changed.notify_all()

    def wait_ended(self, n: int, timeout: float) -> None:
        with self.ended_changed:
            if not self.ended_changed.wait_for(lambda: self.ended >= n, timeout):
                raise TimeoutError(f"{self.ended} of {n} tasks done in {timeout:g} s")

    def close(self) -> None:
        self.events.put(_STOP)
        self.thread.join(10)
        self.conn.close()


class System:
    """The writer, an in-memory task queue and 4 worker threads."""

    def __init__(
        self,
        path: Path,
        handler: Callable[[Any], object] = lambda payload: None,
        claims: bool = False,
    ) -> None:
        self.writer = Writer(path, claims)
        self.claims = claims
        #: the workers' queue: filled by submits, or (claims) by the writer's claims
        self.tasks: queue.SimpleQueue[Any] = self.writer.window or queue.SimpleQueue()
        self.handler = handler
        self.next_id = 1
        self.id_lock = threading.Lock()
        self.workers = [
            threading.Thread(target=self.work, name=f"worker-{i}", daemon=True)
            for i in range(WORKERS)
        ]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def submit_many(self, payloads: list[Any]) -> list[int]:
        """Acknowledged: returns once the inserts are committed."""
        with self.id_lock:
            first = self.next_id
            self.next_id += len(payloads)
        now = time.time()
        rows = [(first + i, "noop", payload, now) for i, payload in enumerate(payloads)]
        acked = threading.Event()
        self.writer.put_many("insert", rows, acked)
        acked.wait()
        if self.claims:
            return [row[0] for row in rows]  # the writer claimed them (see Writer.write)
        for i, payload in enumerate(payloads):
            self.tasks.put((first + i, payload))
        return [row[0] for row in rows]

    def work(self) -> None:
        while True:
            task = self.tasks.get()
            if task is _STOP:
                return
            task_id, payload = task
            self.writer.put("start", (time.time(), task_id))
            self.handler(payload)
            self.writer.put("end", (time.time(), task_id))

    def close(self) -> None:
        for _ in self.workers:
            self.tasks.put(_STOP)
        for worker in self.workers:
            worker.join(10)
        self.writer.close()


def bulk(tmp: Path, n: int, timeout: float = 900, claims: bool = False) -> dict[str, float]:
    """Submit everything (the workers not yet started, as jobsched's categories are paused),
    then start the workers and drain."""
    system = System(tmp / "minimal.db", claims=claims)
    try:
        t0 = time.perf_counter()
        for offset in range(0, n, SUBMIT_BATCH):
            system.submit_many([None] * min(SUBMIT_BATCH, n - offset))
        t1 = time.perf_counter()
        system.start()
        system.writer.wait_ended(n, timeout)
        t2 = time.perf_counter()
    finally:
        system.close()
    return {"n": n, "submit_s": t1 - t0, "drain_s": t2 - t1}


def one(tmp: Path, n: int, claims: bool = False) -> dict[str, float]:
    """One acknowledged submit per call, with the workers draining meanwhile."""
    system = System(tmp / "minimal.db", claims=claims)
    system.start()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            system.submit_many([None])
        return {"n": n, "submit_s": time.perf_counter() - t0}
    finally:
        system.close()


def latency(
    tmp: Path, rate: float, seconds: float, warm_up: int = WARM_UP_TASKS, claims: bool = False
) -> dict[str, Any]:
    n = int(rate * seconds)
    starts = StartTimes(n)
    system = System(tmp / "minimal.db", handler=starts.mark, claims=claims)
    system.start()
    try:
        before = paced(rate, seconds, lambda i: system.submit_many([i]))
        return latency_result(before, starts, timeout=60, warm_up=warm_up)
    finally:
        system.close()
