"""jobsched beside Procrastinate on PostgreSQL: tasks/s and CPU per task, 1, 2 and 3 nodes.

    python bench/postgres_compare.py [--url postgresql://postgres@127.0.0.1:5432/test]
        [--tasks 20000] [--procrastinate-tasks 3000] [--workers 4] [--nodes 1,2,3]
        [--rounds 3] [--baseline main] [--no-procrastinate]

Needs ``pip install procrastinate`` (unless ``--no-procrastinate``). Each run gets a fresh
schema (dropped afterwards), a driver process and N worker processes:

- jobsched: N nodes of ``--workers`` worker threads; the driver submits the tasks with
  one ``submit_many`` (one transaction) and polls ``counts()`` until all succeeded.
- ``--baseline REF``: the same, with the code of that git ref (``git archive``) in the
  driver and the nodes: before and after side by side.
- Procrastinate: N ``run_worker_async`` processes of concurrency ``--workers`` (the same
  total concurrency), an ``async`` no-op task, listen/notify on; the driver defers the
  jobs with one ``batch_defer_async`` and polls the job table until all succeeded.

Measured from just before the submission to the moment the last task is seen finished:
the node processes' CPU (utime + stime from ``/proc/PID/stat``, every thread), the
database server's CPU (the same, summed over the backends connected to this database:
``pg_stat_activity``; a backend that started during the run counts from zero), and, from
``pg_stat_database`` read after the processes exited (which flushes their statistics),
commits and rows written (inserted + updated + deleted) per task. The driver's own CPU
(submitting and polling) is shown apart. Rounds interleave the systems, and every round
prints the ratios of its own runs: the machine is shared, read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANDLER = "bench.noop"
TICK = os.sysconf("SC_CLK_TCK")
#: A run not finished after this many seconds is reported as stuck (and left out).
STUCK_AFTER = 300.0
PACKAGES = {"core": "core", "storage": "storage", "console": "console", "demo": "demo"}


# --- the processes ---------------------------------------------------------------------
def jobsched_config(workers: int) -> Any:
    from jobsched.core import CategoryConfig, SchedulerConfig

    return SchedulerConfig(workers=workers, categories={"bench": CategoryConfig()})


def jobsched_node(url: str, workers: int) -> int:
    """A node: run until SIGTERM, then stop gracefully."""
    from jobsched.console.wakeup import Wakeup
    from jobsched.core import Scheduler
    from jobsched.storage import open_store

    woken = Wakeup()  # not an Event: see jobsched.console.wakeup
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: (stopped.append(1), woken.wake()))
    sched = Scheduler(jobsched_config(workers), open_store(url))
    sched.handler(HANDLER, category="bench")(lambda payload: None)
    sched.start()
    print("ready", flush=True)
    while not stopped:
        woken.wait(1.0)
    sched.stop(grace=5)
    return 0


def jobsched_driver(url: str, tasks: int, workers: int) -> int:
    """Create the schema, say ready; on 'go' submit and wait for every task to succeed."""
    from jobsched.core import Client
    from jobsched.storage import open_store

    store = open_store(url)
    store.open(None)
    client = Client(jobsched_config(workers), store)
    client.handler(HANDLER, category="bench")(lambda payload: None)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    client.submit_many([(HANDLER, None)] * tasks)
    submitted = time.perf_counter()
    pause, deadline = threading.Event(), time.monotonic() + STUCK_AFTER
    while (done := store.counts().get("bench", {}).get("succeeded", 0)) < tasks:
        if time.monotonic() > deadline:
            break
        pause.wait(0.02)
    drain = time.perf_counter() - submitted
    print(json.dumps({"submit_s": submitted - start, "drain_s": drain, "done": done}))
    sys.stdout.flush()
    sys.stdin.readline()
    store.close()
    return 0


def procrastinate_app(url: str, schema: str) -> Any:
    import logging

    import procrastinate

    # Its warning that the app lives in the main module (this script) is beside the point.
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    from jobsched.storage.postgres.connection import parse_url

    connector = procrastinate.PsycopgConnector(
        conninfo=parse_url(url).conninfo, kwargs={"options": f"-c search_path={schema}"}
    )
    app = procrastinate.App(connector=connector)

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app


def procrastinate_worker(url: str, schema: str, workers: int) -> int:
    async def work() -> None:
        app = procrastinate_app(url, schema)
        async with app.open_async():
            print("ready", flush=True)
            await app.run_worker_async(concurrency=workers, install_signal_handlers=True)

    asyncio.run(work())
    return 0


def procrastinate_driver(url: str, schema: str, tasks: int) -> int:
    async def drive() -> None:
        app = procrastinate_app(url, schema)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            start = time.perf_counter()
            await app.tasks["noop"].batch_defer_async(*([{}] * tasks))
            submitted = time.perf_counter()
            query = "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'succeeded'"
            deadline = time.monotonic() + STUCK_AFTER
            while (done := (await app.connector.execute_query_one_async(query))["n"]) < tasks:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            drain = time.perf_counter() - submitted
            print(json.dumps({"submit_s": submitted - start, "drain_s": drain, "done": done}))
            sys.stdout.flush()
            await asyncio.to_thread(sys.stdin.readline)

    asyncio.run(drive())
    return 0


# --- measuring -------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads); 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Server:
    """The monitoring connection: backends of the database and its statistics."""

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self.conninfo = conninfo
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.own = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]

    def backend_cpu(self) -> dict[int, float]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        return {pid: cpu_seconds(pid) for (pid,) in rows}

    def stats(self) -> dict[str, int]:
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        return {"commits": int(row[0]), "rows": int(row[1])}

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def wait_listeners(self, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` backends of this database wait in LISTEN (Procrastinate's
        workers listen after saying ready)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            (n,) = self.conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND query ILIKE 'LISTEN%%procrastinate%%'"
            ).fetchone()  # type: ignore[misc]
            if n >= count:
                return
            time.sleep(0.05)
        raise SystemExit(f"only {n} of {count} Procrastinate workers listen")


def spawn(args: list[str], code: Path | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(code or ROOT))
    cmd = [sys.executable, __file__, *(["--code", str(code)] if code else []), *args]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=ROOT)


def expect_ready(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise SystemExit(f"a bench process did not start (exit {proc.wait()})")


def run(
    server: Server, url: str, system: str, nodes: int, args: argparse.Namespace, code: Path | None
) -> dict[str, Any]:
    """One measured run on a fresh schema, dropped afterwards."""
    schema = f"bench_cmp_{uuid.uuid4().hex[:10]}"
    schema_url = url + ("&" if "?" in url else "?") + f"schema={schema}"
    procrastinate = system == "procrastinate"
    tasks = args.procrastinate_tasks if procrastinate else args.tasks
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if procrastinate:
            server.execute(f"CREATE SCHEMA {schema}")
            driver = spawn(["--role", "pdriver", url, schema, str(tasks), "1"], None)
        else:
            driver = spawn(["--role", "driver", schema_url, str(tasks), str(args.workers)], code)
        procs.append(driver)
        expect_ready(driver)
        for _ in range(nodes):
            if procrastinate:
                procs.append(
                    spawn(["--role", "pworker", url, schema, "0", str(args.workers)], None)
                )
            else:
                procs.append(spawn(["--role", "node", schema_url, "0", str(args.workers)], code))
        for proc in procs[1:]:
            expect_ready(proc)
        if procrastinate:
            server.wait_listeners(nodes)
        workers = [p.pid for p in procs[1:]]
        stats0, backends0 = server.stats(), server.backend_cpu()
        nodes0, driver0 = sum(map(cpu_seconds, workers)), cpu_seconds(driver.pid)
        assert driver.stdin is not None and driver.stdout is not None
        driver.stdin.write(b"go\n")
        driver.stdin.flush()
        timing = json.loads(driver.stdout.readline())
        nodes1, driver1 = sum(map(cpu_seconds, workers)), cpu_seconds(driver.pid)
        backends1 = server.backend_cpu()
    finally:
        stop(procs)
        server.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    stats1 = server.stats()
    server_cpu = sum(cpu - backends0.get(pid, 0.0) for pid, cpu in backends1.items())
    return {
        "tasks": tasks,
        "done": timing["done"],
        "rate": tasks / (timing["submit_s"] + timing["drain_s"]),
        "node_us": (nodes1 - nodes0) / tasks * 1e6,
        "server_us": server_cpu / tasks * 1e6,
        "driver_us": (driver1 - driver0) / tasks * 1e6,
        "commits": (stats1["commits"] - stats0["commits"]) / tasks,
        "rows": (stats1["rows"] - stats0["rows"]) / tasks,
    }


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs[1:]:
        proc.send_signal(signal.SIGTERM)
    if procs and procs[0].stdin is not None:
        try:
            procs[0].stdin.write(b"stop\n")
            procs[0].stdin.close()
        except BrokenPipeError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def baseline_tree(ref: str, into: Path) -> Path:
    """The code of git ref ``ref``, laid out as an importable ``jobsched`` package."""
    src = into / "src"
    src.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    pkg = into / "path" / "jobsched"
    pkg.mkdir(parents=True)
    for entry in (src / "jobsched").iterdir():
        (pkg / entry.name).symlink_to(entry)
    for name, folder in PACKAGES.items():
        (pkg / name).symlink_to(src / folder)
    return into / "path"


# --- the report ------------------------------------------------------------------------
COLUMNS = ("rate", "node_us", "server_us", "driver_us", "commits", "rows")


def row(label: str, nodes: int, got: dict[str, Any]) -> str:
    return (
        f"| {nodes} | {label} | {got['rate']:,.0f} | {got['node_us']:.0f} | "
        f"{got['server_us']:.0f} | {got['node_us'] + got['server_us']:.0f} | "
        f"{got['driver_us']:.0f} | {got['commits']:.2f} | {got['rows']:.2f} |"
    )


def ratios(nodes: int, runs: dict[str, dict[str, Any]]) -> str:
    """This round's ratios: jobsched against the baseline and against Procrastinate."""
    mine = runs["jobsched"]
    total = mine["node_us"] + mine["server_us"]
    parts = []
    for other in ("baseline", "procrastinate"):
        if other in runs:
            o = runs[other]
            parts.append(
                f"vs {other}: rate x{mine['rate'] / o['rate']:.2f}, node+server CPU "
                f"x{total / (o['node_us'] + o['server_us']):.2f}"
            )
    return f"| {nodes} | ratio | " + "; ".join(parts) + " | | | | | | |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("JOBSCHED_TEST_PG")
                        or "postgresql://postgres@127.0.0.1:5432/test")  # fmt: skip
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--procrastinate-tasks", type=int, default=3_000)
    parser.add_argument("--workers", type=int, default=4, help="concurrency per node")
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="REF", help="also run the code of this git ref")
    parser.add_argument("--no-procrastinate", action="store_true")
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("params", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path[0] = args.code or str(ROOT)  # this folder would shadow nothing, the code must
    if args.role:
        return role(args.role, args.params)
    from jobsched.storage.postgres.connection import parse_url, redact

    systems = ["jobsched"]
    if args.baseline:
        systems.append("baseline")
    if not args.no_procrastinate:
        try:
            import procrastinate  # noqa: F401
        except ImportError:
            raise SystemExit("Procrastinate is not installed: pip install procrastinate") from None
        systems.append("procrastinate")
    counts = [int(n) for n in args.nodes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        code = baseline_tree(args.baseline, Path(tmp)) if args.baseline else None
        server = Server(parse_url(args.url).conninfo)
        print(
            f"# jobsched {args.tasks:,} / Procrastinate {args.procrastinate_tasks:,} no-op "
            f"tasks, concurrency {args.workers} per node, {redact(args.url)}, "
            f"{os.cpu_count()} cores; CPU in us per task"
        )
        print("| nodes | system | tasks/s | node CPU | server CPU | node+server | driver CPU"
              " | commits/task | rows/task |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        results: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for number in range(args.rounds):
            for count in counts:
                runs: dict[str, dict[str, Any]] = {}
                order = systems if number % 2 == 0 else systems[::-1]
                for system in order:
                    got = run(server, args.url, system, count, args,
                              code if system == "baseline" else None)  # fmt: skip
                    label = f"{system} (r{number + 1})"
                    if got["done"] < got["tasks"]:
                        print(f"| {count} | {label} | stuck: {got['done']:,} of "
                              f"{got['tasks']:,} done after {STUCK_AFTER:g} s |", flush=True)  # fmt: skip
                        continue
                    runs[system] = got
                    results.setdefault((system, count), []).append(got)
                    print(row(label, count, got), flush=True)
                if "jobsched" in runs and len(runs) > 1:
                    print(ratios(count, runs), flush=True)
        print("\nMedians over the rounds:\n")
        print("| nodes | system | tasks/s | node CPU | server CPU | node+server | driver CPU"
              " | commits/task | rows/task |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for count in counts:
            for system in systems:
                got = results.get((system, count), [])
                if not got:
                    continue
                median = {k: statistics.median(r[k] for r in got) for k in COLUMNS}
                print(row(system, count, median))
    return 0


def role(name: str, params: list[str]) -> int:
    if name == "node":
        return jobsched_node(params[0], int(params[2]))
    if name == "driver":
        return jobsched_driver(params[0], int(params[1]), int(params[2]))
    if name == "pworker":
        return procrastinate_worker(params[0], params[1], int(params[3]))
    if name == "pdriver":
        return procrastinate_driver(params[0], params[1], int(params[2]))
    raise SystemExit(f"unknown role {name!r}")


if __name__ == "__main__":
    sys.exit(main())
