"""Raw ``sqlite3``, WAL, ``synchronous=NORMAL``: the task lifecycle (insert, mark running,
mark done) in batches of 100 per transaction. No scheduler at all: the floor of durable
bookkeeping that any SQLite-backed queue pays."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

WORKERS = 4
BATCH = 100

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
CREATE INDEX IF NOT EXISTS tasks_queued ON tasks (id) WHERE state = 'queued';
"""
CLAIM = (
    "UPDATE tasks SET state = 'running', started_at = ? WHERE id IN "
    "(SELECT id FROM tasks WHERE state = 'queued' ORDER BY id LIMIT ?) "
    "RETURNING id, handler, payload"
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class Queue:
    """A table, one connection per thread, and one in-process write lock (as jobsched's
    store has), so the threads queue on a Python lock instead of SQLite's busy wait."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        connect(path).executescript(SCHEMA)
        self.done = 0
        self.stop = threading.Event()

    def insert(self, conn: sqlite3.Connection, count: int) -> None:
        now = time.time()
        with self.lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO tasks (handler, payload, state, created_at) VALUES (?, ?, 'queued', ?)",
                [("noop", None, now)] * count,
            )
            conn.execute("COMMIT")

    def work(self) -> None:
        """One worker: claim up to 100, run them, mark them done; poll briefly when empty."""
        conn = connect(self.path)
        while not self.stop.is_set():
            with self.lock:
                conn.execute("BEGIN IMMEDIATE")
                rows = conn.execute(CLAIM, (time.time(), BATCH)).fetchall()
                conn.execute("COMMIT")
            if not rows:
                self.stop.wait(0.001)
                continue
            for _id, _handler, _payload in rows:
                pass  # the no-op task
            now = time.time()
            with self.lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "UPDATE tasks SET state = 'done', finished_at = ? WHERE id = ?",
                    [(now, row[0]) for row in rows],
                )
                conn.execute("COMMIT")
                self.done += len(rows)
        conn.close()

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.work, daemon=True) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        return threads

    def wait_done(self, n: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while self.done < n:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self.done} of {n} tasks done in {timeout:g} s")
            time.sleep(0.005)

    def close(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        for thread in threads:
            thread.join(10)


def bulk(tmp: Path, n: int, timeout: float = 900) -> dict[str, float]:
    queue = Queue(tmp / "raw.db")
    conn = connect(queue.path)
    t0 = time.perf_counter()
    for offset in range(0, n, BATCH):
        queue.insert(conn, min(BATCH, n - offset))
    t1 = time.perf_counter()
    threads = queue.start()
    try:
        queue.wait_done(n, timeout)
        t2 = time.perf_counter()
    finally:
        queue.close(threads)
    return {"n": n, "submit_s": t1 - t0, "drain_s": t2 - t1}


def one(tmp: Path, n: int) -> dict[str, float]:
    """One committed INSERT per call, with the workers draining meanwhile."""
    queue = Queue(tmp / "raw.db")
    conn = connect(queue.path)
    threads = queue.start()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            queue.insert(conn, 1)
        return {"n": n, "submit_s": time.perf_counter() - t0}
    finally:
        queue.close(threads)
