"""What the history by the minute costs a store: a node's write of one minute, the
console's read of the last four hours, a retention batch, and the bytes a row takes,
over a filled history, on SQLite and (given a URL) PostgreSQL.

    python bench/history_cost.py [--hours 48] [--categories 10] [--nodes 3]
                                 [--pg postgresql://...?schema=bench_history]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jobsched.core.history import MINUTE, MinuteStats, minute_of
from jobsched.core.store import TaskStore
from jobsched.storage import open_store

REPS = 50


def median_ms(action: Callable[[], object], reps: int = REPS) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def fill(store: TaskStore, hours: int, categories: int, nodes: int, end: int) -> int:
    """``hours`` of every minute of every category on every node, up to ``end``."""
    rows = 0
    for node in range(nodes):
        node_id = f"host-{node}.example.com:{4000 + node}:0123abcd"
        for n in range(hours * 60):
            minute = end - (n + 1) * MINUTE
            batch = [MinuteStats(f"category-{c}", minute, 1200, 3, 40, 1.5)
                     for c in range(categories)]  # fmt: skip
            store.add_history(node_id, batch)
            rows += len(batch)
    return rows


def run(url: str, args: argparse.Namespace) -> dict[str, float | int]:
    store = open_store(url)
    store.open(None)
    try:
        end = minute_of(time.time())
        rows = fill(store, args.hours, args.categories, args.nodes, end)
        size = os.path.getsize(url) if not url.startswith("postgres") else 0
        future = iter(range(10**6))
        minute = [
            MinuteStats(f"category-{c}", end + 60 * next(future), 9, 0, 1, None)
            for c in range(args.categories)
        ]
        write = median_ms(lambda: store.add_history("bench-node", minute))
        read = median_ms(lambda: store.history(end - 240 * MINUTE))
        cutoff = end - (args.hours - 12) * 3600
        prune = median_ms(lambda: store.prune_history(cutoff, 500), reps=10)
        figures = {"rows": rows, "write minute ms": write, "read 4 h ms": read,
                   "prune 500 ms": prune}  # fmt: skip
        if size:  # SQLite: the file, its index included
            figures["bytes/row"] = size / rows
        return figures
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--categories", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--pg", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = [str(Path(tmp) / "history.db")] + ([args.pg] if args.pg else [])
        for url in urls:
            figures = run(url, args)
            name = "PostgreSQL" if url.startswith("postgres") else "SQLite"
            shown = ", ".join(f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v:,}"
                              for k, v in figures.items())  # fmt: skip
            print(f"{name}: {shown}")


if __name__ == "__main__":
    main()
