"""The floor under jobsched's bulk figure on SQLite: what its store's writes alone cost,
beside the minimal durable design in the same run.

    python bench/sql_floor.py [--tasks 20000] [--rounds 5]

Each round runs, on fresh files in a temporary folder, one after the other:

- **minimal, end to end**: the yardstick of ``bench/run.py`` (``bench/systems/minimal.py``),
  its bulk run (submit, then drain with 4 workers).
- **store alone**: ``SqliteStore``'s own ``insert`` (10,000 tasks per call, as jobsched's
  bulk run submits them), ``claim`` (windows of ``WINDOW``, all that a node of 4 workers
  holds at the default ``prefetch``) and ``finish`` (batches of 500, the completer's
  largest), on one thread and with no engine: the store's SQL work for a task of the bulk
  run (its start goes to a journal in memory, not to SQL), in batches no smaller than the
  engine's. The outcomes are built before the finish is timed (the engine's workers
  build them).
- **statements alone**: the statements those calls run, on the same schema and in the
  same transactions, with their parameters built beforehand: SQLite's own work (the
  count tally's one row per transaction and the next id's lookup are left out).
- **statements, three indexes fewer**: the same without ``tasks_state``,
  ``tasks_category`` and ``tasks_finished`` (the indexes the task list by state and by
  category and retention walk).
- **minimal's statements** alone (insert, start, end), in its submit batches and one
  transaction per 500 tasks.

A node's writes queue on one lock (SQLite has one writer), and the bulk run inserts
before it drains, so the statements alone are a lower bound of jobsched's end-to-end time
on this schema. The store alone is the practical floor of this store: part of its Python
(building the claimed records, the checks before a write) runs outside the lock and could,
in the engine, overlap another thread's SQLite work. The minimal design's end-to-end time
divided by each is the most that ``bench/run.py``'s ratio "jobsched / minimal design" could
reach if the engine cost nothing: the "ceiling" rows.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobsched.core.completer import OUTCOME_BATCH  # noqa: E402
from jobsched.core.config import SchedulerConfig  # noqa: E402
from jobsched.core.task import SUCCEEDED, NewTask, Outcome  # noqa: E402
from jobsched.storage import open_store, query_sql  # noqa: E402
from jobsched.storage.sqlite import queries  # noqa: E402

from bench.systems import jobsched as jobsched_runner  # noqa: E402
from bench.systems import minimal  # noqa: E402

INSERT_BATCH = jobsched_runner.SUBMIT_BATCH  # 10,000 per call, one transaction
#: The most a node of the bulk run's 4 workers holds claimed: each worker's task and up to
#: ``prefetch`` (its default, 64) waiting; a claim never takes more.
WINDOW = jobsched_runner.WORKERS * (1 + SchedulerConfig().prefetch)
FINISH_BATCH = OUTCOME_BATCH  # 500: the completer's largest batch
CATEGORY = "bench"
OWNER = "n1"
SECONDARY = ("tasks_state", "tasks_category", "tasks_finished")


def store_alone(tmp: Path, n: int) -> float:
    """Seconds for the store's own insert, claim and finish of ``n`` tasks."""
    store = open_store(tmp / "store.db")
    store.open(OWNER)
    try:
        now = time.time()
        new = [NewTask("noop", CATEGORY, "null", now, 3) for _ in range(n)]
        t0 = time.perf_counter()
        for start in range(0, n, INSERT_BATCH):
            store.insert(new[start : start + INSERT_BATCH], now)
        claimed = []
        while got := store.claim(CATEGORY, WINDOW, OWNER, time.time()):
            claimed.extend(got)
        seconds = time.perf_counter() - t0
        # The outcomes are the workers' (built in parallel in the engine): not timed.
        done = [Outcome(t.id, OWNER, t.attempts, SUCCEEDED, now, "null") for t in claimed]
        applied = 0
        t0 = time.perf_counter()
        for start in range(0, n, FINISH_BATCH):
            applied += sum(store.finish(done[start : start + FINISH_BATCH]))
        seconds += time.perf_counter() - t0
    finally:
        store.close()
    check_through(applied, n, "store alone")
    return seconds


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def statements_alone(tmp: Path, n: int, drop: tuple[str, ...] = ()) -> float:
    """Seconds for the store's statements alone, on its schema less the ``drop`` indexes."""
    path = tmp / f"statements{len(drop)}.db"
    store = open_store(path)
    store.open()  # creates the file with the current schema
    store.close()
    conn = _connect(path)
    for index in drop:
        conn.execute(f"DROP INDEX {index}")
    now = time.time()
    rows = [(i, "noop", CATEGORY, "queued", "null", now, now, 3, None, None, 0)
            for i in range(1, n + 1)]  # fmt: skip
    inserts = []
    for start in range(0, n, INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        inserts.append([
            (queries.insert_tasks(len(run)), [v for row in run for v in row])
            for run in query_sql.in_size_classes(batch, queries.INSERT_CHUNK)
        ])  # fmt: skip
    finishes = []  # per transaction (a batch of FINISH_BATCH), its statements
    for start in range(1, n + 1, FINISH_BATCH):
        ids = range(start, min(n, start + FINISH_BATCH - 1) + 1)
        batch = []
        for first in range(ids.start, ids.stop, queries.FINISH_CHUNK):
            chunk = range(first, min(ids.stop, first + queries.FINISH_CHUNK))
            size = query_sql.size_class(len(chunk))
            params = [v for i in chunk for v in (i, OWNER, 1, SUCCEEDED, now, "null", None, None)]
            params.extend([None] * 8 * (size - len(chunk)))
            batch.append((queries.finish_many(size), params))
        finishes.append(batch)
    t0 = time.perf_counter()
    for batch in inserts:
        conn.execute("BEGIN IMMEDIATE")
        for sql, params in batch:
            conn.execute(sql, params)
        conn.execute("COMMIT")
    claimed = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        got = conn.execute(queries.CLAIM_NEXT, (CATEGORY, WINDOW)).fetchall()
        if got:
            ids = query_sql.padded([row[0] for row in got])
            conn.execute(queries.claim_rows(len(ids)), (OWNER, now, *ids))
        conn.execute("COMMIT")
        if not got:
            break
        claimed += len(got)
    finished = 0
    for batch in finishes:
        conn.execute("BEGIN IMMEDIATE")
        for sql, params in batch:
            finished += len(conn.execute(sql, params).fetchall())
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    check_through(claimed, n, "statements alone (claimed)")
    check_through(finished, n, "statements alone (finished)")
    return seconds


def minimal_statements(tmp: Path, n: int) -> float:
    """Seconds for the minimal design's statements alone: its inserts in its submit batches,
    then its starts and ends in one transaction per FINISH_BATCH tasks."""
    conn = _connect(tmp / "minimal.db")
    conn.executescript(minimal.SCHEMA)
    now = time.time()
    t0 = time.perf_counter()
    for start in range(1, n + 1, minimal.SUBMIT_BATCH):
        ids = range(start, min(n, start + minimal.SUBMIT_BATCH - 1) + 1)
        conn.execute("BEGIN")
        conn.executemany(minimal.SQL["insert"], [(i, "noop", None, now) for i in ids])
        conn.execute("COMMIT")
    for start in range(1, n + 1, FINISH_BATCH):
        ids = range(start, min(n, start + FINISH_BATCH - 1) + 1)
        conn.execute("BEGIN")
        conn.executemany(minimal.SQL["start"], [(now, i) for i in ids])
        conn.executemany(minimal.SQL["end"], [(now, i) for i in ids])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    done = conn.execute("SELECT COUNT(*) FROM tasks WHERE state = 'done'").fetchone()[0]
    conn.close()
    check_through(done, n, "minimal statements")
    return seconds


def minimal_end_to_end(tmp: Path, n: int) -> float:
    result = minimal.bulk(tmp, n)
    return result["submit_s"] + result["drain_s"]


def check_through(got: int, n: int, what: str) -> None:
    if got != n:
        raise RuntimeError(f"{what}: {got} of {n} tasks went through; the figure is void")


#: label -> runner(tmp, n) -> seconds, in the order each round runs them
VARIANTS: dict[str, Callable[[Path, int], float]] = {
    "minimal design, end to end": minimal_end_to_end,
    "jobsched: the store alone": store_alone,
    "jobsched: its statements alone": statements_alone,
    "jobsched: its statements, three indexes fewer": lambda t, n: statements_alone(t, n, SECONDARY),
    "minimal design: its statements alone": minimal_statements,
}
YARDSTICK = "minimal design, end to end"
CEILINGS = (
    "jobsched: the store alone",
    "jobsched: its statements alone",
    "jobsched: its statements, three indexes fewer",
)


def run_rounds(n: int, rounds: int) -> list[dict[str, float]]:
    """Each round's seconds per variant."""
    out = []
    for _ in range(rounds):
        seconds = {}
        for label, runner in VARIANTS.items():
            with tempfile.TemporaryDirectory(prefix="jobsched-floor-") as tmp:
                seconds[label] = runner(Path(tmp), n)
        out.append(seconds)
    return out


def report(n: int, rounds: list[dict[str, float]]) -> str:
    lines = [
        f"**{n:,} tasks, {len(rounds)} rounds** (us of wall time per task: median, then"
        " each round)",
        "",
        "| variant | us per task | rounds |",
        "|---|---:|---|",
    ]
    for label in VARIANTS:
        per = [r[label] / n * 1e6 for r in rounds]
        lines.append(f"| {label} | {statistics.median(per):.2f} | "
                     + ", ".join(f"{p:.2f}" for p in per) + " |")  # fmt: skip
    lines += [
        "",
        "The most `jobsched / minimal design` could reach with an engine that cost nothing"
        " (the yardstick's end-to-end time over each floor, per round; target 0.5):",
        "",
        "| ceiling from | median | rounds |",
        "|---|---:|---|",
    ]
    for label in CEILINGS:
        ratios = [r[YARDSTICK] / r[label] for r in rounds]
        lines.append(f"| {label} | {statistics.median(ratios):.2f} x | "
                     + ", ".join(f"{x:.2f}" for x in ratios) + " |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(report(args.tasks, run_rounds(args.tasks, args.rounds)))


if __name__ == "__main__":
    main()
