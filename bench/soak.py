"""Soak test (not run in CI): a long run with mixed failures and periodic SIGKILLs.

    python bench/soak.py --tasks 1000000 --minutes 60 --kill-every 300

Fills a SQLite file with N tasks (a share of them failing some attempts), runs a node in a
child process, SIGKILLs it every ``--kill-every`` seconds and restarts it, and prints every
``--report-every`` seconds: states, executions, the node's RSS. At the end (all terminal,
or time up) it drains and prints the checker's counts: lost, stuck, unexpected,
re-executions against the bound (tasks running at the kills) and the integrity check.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobsched.core import Client  # noqa: E402
from jobsched.storage import open_store  # noqa: E402

from tests.crashkit.checker import begun_at_kill, check  # noqa: E402
from tests.crashkit.harness import log_lines, spawn, wait_ready  # noqa: E402
from tests.crashkit.node import CONFIG  # noqa: E402


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def states(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return dict(con.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall())
    finally:
        con.close()


def fill(db: Path, n: int, fail_share: float, ms: float) -> list[int]:
    store = open_store(db)
    store.open(None)
    client = Client(CONFIG, store)
    ids: list[int] = []
    batch = 20_000
    for start in range(0, n, batch):
        items = []
        for k in range(start, min(n, start + batch)):
            payload = {"n": k, "ms": ms}
            if k % 100 < fail_share * 100:
                payload["fail_rate"] = 0.5
            items.append(("a.work" if k % 2 else "b.work", payload))
        ids += client.submit_many(items)
    store.close()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--kill-every", type=float, default=300)
    parser.add_argument("--report-every", type=float, default=30)
    parser.add_argument("--fail-share", type=float, default=0.1)
    parser.add_argument(
        "--ms",
        type=float,
        default=14.0,
        help="task duration; 14 ms x 1,000,000 / 4 workers is about an hour",
    )
    parser.add_argument("--dir", default="soak-run")
    args = parser.parse_args()
    work = Path(args.dir)
    work.mkdir(exist_ok=True)
    db, log = work / "soak.db", work / "exec.log"
    for path in (db, log):
        if path.exists():
            path.unlink()
    t0 = time.monotonic()
    ids = fill(db, args.tasks, args.fail_share, args.ms)
    print(f"filled {len(ids):,} tasks in {time.monotonic() - t0:.0f} s", flush=True)
    end = time.monotonic() + args.minutes * 60
    kills = bound = 0
    proc = spawn(db, log)
    wait_ready(proc)
    next_kill = time.monotonic() + args.kill_every
    next_report = time.monotonic()
    pause = __import__("threading").Event()
    while time.monotonic() < end:
        now = time.monotonic()
        if proc.poll() is not None:
            raise SystemExit(
                f"node exited by itself with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}"
            )
        if now >= next_report:
            counts = states(db)
            print(
                f"t={now - t0:6.0f}s rss={rss_mb(proc.pid):6.1f}MB log_lines={log_lines(log):,} "
                f"kills={kills} states={counts}",
                flush=True,
            )
            next_report = now + args.report_every
            if (
                not counts.get("queued")
                and not counts.get("scheduled")
                and not counts.get("running")
            ):
                break
        if now >= next_kill:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            bound += begun_at_kill(db)
            proc = spawn(db, log)
            wait_ready(proc)
            next_kill = time.monotonic() + args.kill_every
        pause.wait(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    drain = spawn(db, log, "--until-idle")
    wait_ready(drain)
    drain.wait()
    report = check(ids, db, log)
    print(
        f"done after {time.monotonic() - t0:.0f} s: kills={kills} rerun_bound={bound} {report.line()}"
    )
    print(
        f"lost={len(report.lost)} stuck={len(report.stuck)} unexpected={len(report.unexpected)} "
        f"reexecutions={report.reexecutions} (bound {bound})"
    )
    os.sync()


if __name__ == "__main__":
    main()
