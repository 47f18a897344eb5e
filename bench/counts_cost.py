"""What ``counts()`` costs as history grows: the counters (``task_counts``) against the
full ``GROUP BY`` over the task table that it replaced, on SQLite and PostgreSQL.

    python bench/counts_cost.py --rows 10000 1000000            # SQLite files in a temp dir
    python bench/counts_cost.py --pg postgresql://... --rows 100000

Rows are written already finished, spread over 4 categories: on SQLite a bulk INSERT
through the store's connection and then a rebuild of the counters (``check_counts(repair=
True)``: the store's own writes keep them in real use); on PostgreSQL one INSERT per chunk,
which the statement triggers count as in real use.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from jobsched.storage import PostgresStore, SqliteStore
from jobsched.storage.columns import SCAN_COUNTS

CATEGORIES = ("email", "web", "report", "batch")
STATES = ("succeeded", "succeeded", "succeeded", "failed", "cancelled")


def timed(fn: Any, repeat: int) -> float:
    """Median milliseconds of ``fn()`` over ``repeat`` runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def fill_sqlite(store: SqliteStore, rows: int) -> None:
    conn = store._conn()
    chunk = 5000
    for start in range(0, rows, chunk):
        values = [
            (CATEGORIES[i % 4], STATES[i % 5], 1e9 + i)
            for i in range(start, min(rows, start + chunk))
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO tasks (handler, category, state, payload, run_at, created_at,"
            " max_attempts, finished_at, result) VALUES ('h', ?, ?, '{}', 0, 0, 3, ?, 'null')",
            values,
        )
        conn.execute("COMMIT")
    store.check_counts(repair=True)


def fill_pg(store: PostgresStore, rows: int) -> None:
    conn = store._conn()
    chunk = 50000
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        conn.execute(
            "INSERT INTO tasks (handler, category, state, payload, run_at, created_at,"
            " max_attempts, finished_at, result) SELECT 'h', (ARRAY['email','web','report',"
            "'batch'])[1 + i %% 4], (ARRAY['succeeded','succeeded','succeeded','failed',"
            "'cancelled'])[1 + i %% 5], '{}', 0, 0, 3, 1e9 + i, 'null'"
            " FROM generate_series(%s::int, %s::int) AS i",
            (start, stop - 1),
        )
    store.compact_counts()
    conn.execute("VACUUM ANALYZE tasks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[10000, 1000000])
    parser.add_argument("--pg", help="a PostgreSQL URL (a new schema is used and dropped)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print("backend     rows        counters (ms)  GROUP BY (ms)")
    for rows in args.rows:
        if args.pg:
            schema = f"bench_counts_{uuid.uuid4().hex[:8]}"
            sep = "&" if "?" in args.pg else "?"
            store: Any = PostgresStore(f"{args.pg}{sep}schema={schema}")
            store.open(None)
            try:
                fill_pg(store, rows)
                report("postgresql", rows, store, args.repeat)
            finally:
                store._conn().execute(f"DROP SCHEMA {schema} CASCADE")
                store.close()
        else:
            with tempfile.TemporaryDirectory() as folder:
                store = SqliteStore(Path(folder) / "counts.db")
                store.open(None)
                try:
                    fill_sqlite(store, rows)
                    report("sqlite", rows, store, args.repeat)
                finally:
                    store.close()


def report(backend: str, rows: int, store: Any, repeat: int) -> None:
    assert sum(sum(per.values()) for per in store.counts().values()) == rows
    kept = timed(store.counts, repeat)
    scan = timed(lambda: store._read(SCAN_COUNTS), repeat)
    print(f"{backend:<11} {rows:<11,} {kept:>13.3f}  {scan:>13.3f}")


if __name__ == "__main__":
    main()
