"""What a rate limit adds to a claim: claims of one task at a time, plain and through a
token bucket that never runs dry, on SQLite and (given a URL) PostgreSQL.

    python bench/limiter_cost.py [--claims 2000] [--pg postgresql://...?schema=bench_limits]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from jobsched.core.claim_plan import ClaimLimits
from jobsched.core.limits import RateLimit, limiter_key
from jobsched.core.task import NewTask
from jobsched.storage import open_store

NODE = "bench-node"
UNLIMITED = RateLimit(1e9, 1_000_000, "1000000000/s")


def run(url: str, claims: int) -> tuple[float, float]:
    store = open_store(url)
    store.open(None)
    try:
        now = time.time()
        row = NewTask("bench.noop", "bench", "null", now, 3)
        store.insert([row] * (2 * claims), now)
        plain, limited = [], []
        for _ in range(claims):  # alternate, so both see the same table
            t0 = time.perf_counter()
            store.claim("bench", 1, NODE, time.time())
            t1 = time.perf_counter()
            limits = ClaimLimits((limiter_key("bench"), UNLIMITED))
            store.claim_limited("bench", 1, NODE, time.time(), limits)
            t2 = time.perf_counter()
            plain.append(t1 - t0)
            limited.append(t2 - t1)
        return statistics.median(plain) * 1e6, statistics.median(limited) * 1e6
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--pg", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = [("sqlite", str(Path(folder) / "bench.db"))]
        if args.pg:
            urls.append(("postgresql", args.pg))
        for name, url in urls:
            plain, limited = run(url, args.claims)
            print(f"{name}: claim median {plain:.0f} us, through the bucket {limited:.0f} us")


if __name__ == "__main__":
    main()
