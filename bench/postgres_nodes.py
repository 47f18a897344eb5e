"""Scale-out benchmark: 1, 2 and 3 nodes (processes) on one PostgreSQL database.

    python bench/postgres_nodes.py [--url postgresql://postgres@127.0.0.1:5432/test]
                                   [--tasks 20000] [--workers 4] [--nodes 1,2,3] [--repeat 1]

For each node count: a fresh schema, the nodes started and ready, then N no-op tasks
submitted in one transaction (the NOTIFY wakes every node), and the time from that commit
until every task has succeeded. Prints tasks/s per node count and how the work was shared;
the schema is dropped afterwards. On a small machine the nodes, the database server and
this process compete for the same cores: read the figures with the core count printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this folder is sys.path[0]; put the project there instead.
sys.path[0] = str(ROOT)

from jobsched.core import Client  # noqa: E402
from jobsched.core.store import TaskStore  # noqa: E402
from jobsched.storage import open_store  # noqa: E402
from jobsched.storage.postgres.connection import parse_url, redact  # noqa: E402

from bench.postgres_compare import jobsched_config, jobsched_node  # noqa: E402

DEFAULT_URL = os.environ.get("JOBSCHED_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/test"
HANDLER = "bench.noop"


# The node process and its configuration are the comparison run's (bench/postgres_compare.py).
config, node = jobsched_config, jobsched_node


def run(url: str, nodes: int, tasks: int, workers: int) -> dict[str, Any]:
    """One measurement on a fresh schema (dropped afterwards); returns the figures."""
    import psycopg

    schema = f"jobsched_bench_{uuid.uuid4().hex[:10]}"
    schema_url = url + ("&" if "?" in url else "?") + f"schema={schema}"
    store = open_store(schema_url)
    try:
        store.open(None)  # creates the tables before the nodes race to
        return measure(store, schema_url, nodes, tasks, workers)
    finally:
        store.close()
        with psycopg.connect(parse_url(url).conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def measure(store: TaskStore, url: str, nodes: int, tasks: int, workers: int) -> dict[str, Any]:
    client = Client(config(workers), store)
    client.handler(HANDLER, category="bench")(lambda payload: None)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--node", url, "--workers", str(workers)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        for _ in range(nodes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != b"ready":
                raise SystemExit(f"a node did not start (exit {proc.wait()})")
        start = time.perf_counter()
        client.submit_many([(HANDLER, None)] * tasks)
        committed = time.perf_counter()
        pause = threading.Event()
        while store.counts().get("bench", {}).get("succeeded", 0) < tasks:
            pause.wait(0.05)
        finished = time.perf_counter()
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    # A node's last heartbeat, written as it stops, carries its final counters.
    shares = sorted(
        int(n.counters.by_category.get("bench", {}).get("succeeded", 0)) for n in store.nodes()
    )
    return {
        "submit_s": committed - start,
        "drain_s": finished - committed,
        "rate": tasks / (finished - committed),
        "shares": shares,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4, help="worker threads per node")
    parser.add_argument("--nodes", default="1,2,3", help="node counts to measure")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--node", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.node:
        return node(args.node, args.workers)
    counts = [int(n) for n in args.nodes.split(",")]
    print(
        f"# {args.tasks:,} no-op tasks, {args.workers} workers per node, {redact(args.url)}, "
        f"{os.cpu_count()} cores"
    )
    print("| nodes | tasks/s | drain s | submit s | tasks per node |")
    print("|---|---|---|---|---|")
    for _ in range(args.repeat):
        for count in counts:
            got = run(args.url, count, args.tasks, args.workers)
            print(
                f"| {count} | {got['rate']:,.0f} | {got['drain_s']:.2f} | {got['submit_s']:.2f}"
                f" | {' / '.join(f'{s:,}' for s in got['shares'])} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
