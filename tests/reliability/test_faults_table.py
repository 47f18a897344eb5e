"""The faults of docs/reliability.md that have a short case here: one parametrised case each.

For each row: the typed error (library) or the exit code and one-line message (CLI), that
a rejected input wrote no row, and that a refused file is byte-identical afterwards. Rows
whose full proof needs long real-process runs keep a short version here and point to the
long test (named in the case's docstring).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    ConfigError,
    FakeClock,
    InvalidNameError,
    MemoryStore,
    PayloadError,
    PriorityError,
    ScheduleError,
    Scheduler,
    SchedulerConfig,
    StoreBusyError,
    StoreFullError,
    TaskFailedError,
    allocate,
)
from jobsched.core.balancer import Demand
from jobsched.storage import open_store
from jobsched.storage.sqlite import SqliteStore

from tests.console.cli_support import Cli, Node, make_cli, one_line_error, poll

ROWS: dict[int, Callable[[Path], None]] = {}


def row(number: int) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        ROWS[number] = fn
        return fn

    return register


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_in(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
    finally:
        con.close()


def stepped(
    store: Any = None, clock: FakeClock | None = None, **handlers: Callable[[Any], Any]
) -> Scheduler:
    config = SchedulerConfig(
        workers=2,
        categories={"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)},
    )
    sched = Scheduler(config, store or MemoryStore(), clock=clock or FakeClock(), threaded=False)
    sched.handler("a.ok")(lambda p: p)
    for name, fn in handlers.items():
        sched.handler(name.replace("_", "."))(fn)
    return sched.start()


def cli_with_db(tmp_path: Path) -> Cli:
    cli = make_cli(tmp_path)
    assert cli("inject", "a", "--count", "1").exit_code == 0  # creates the database
    return cli


# ------------------------------------------------------------------------ bad input
@row(1)
def unknown_category(tmp_path: Path) -> None:
    cli = cli_with_db(tmp_path)
    before = rows_in(cli.db)
    line = one_line_error(cli("submit", "b.echo", "--category", "bb"), 2, "unknown category 'bb'")
    assert "Did you mean 'b'?" in line and "Known categories: a, b" in line
    assert rows_in(cli.db) == before


@row(2)
def unknown_handler(tmp_path: Path) -> None:
    cli = cli_with_db(tmp_path)
    before = rows_in(cli.db)
    one_line_error(cli("submit", "b.ech"), 2, "unknown handler 'b.ech'", "Did you mean 'b.echo'?")
    assert rows_in(cli.db) == before
    # A stored task whose handler disappeared after an upgrade ends failed, no crash loop.
    store = MemoryStore()
    old = stepped(store, b_gone=lambda p: p)
    task_id = old.submit("b.gone", {}).id
    old.stop()
    new = stepped(store)
    new.run_until_idle()
    row_ = new.get(task_id)
    assert (row_.state, row_.reason, row_.attempts) == ("failed", "handler_missing", 1)


@row(3)
def payload_not_json(tmp_path: Path) -> None:
    sched = stepped()
    for payload, path in (({"s": {1}}, "$.s"), ({"b": b"x"}, "$.b"), ({"o": object()}, "$.o")):
        with pytest.raises(PayloadError, match=path.replace("$", r"\$").replace(".", r"\.")):
            sched.submit("a.ok", payload)
    cli = cli_with_db(tmp_path)
    one_line_error(cli("submit", "b.echo", "--payload", "{x"), 2, "--payload")
    assert sched.store.counts() == {}


@row(4)
def payload_changes_on_round_trip(tmp_path: Path) -> None:
    sched = stepped()
    for payload, path in (
        ((1, 2), "$"),
        ({1: "x"}, "$[1]"),
        ([math.nan], "$[0]"),
        ({"i": math.inf}, "$.i"),
    ):
        with pytest.raises(PayloadError) as info:
            sched.submit("a.ok", payload)
        assert path in str(info.value)
    assert sched.store.counts() == {}


@row(5)
def payload_too_large_or_deep(tmp_path: Path) -> None:
    sched = stepped()
    with pytest.raises(PayloadError, match="1,048,580 bytes.*limit of 1,048,576"):
        sched.submit("a.ok", "x" * (1024 * 1024 + 2))
    deep: Any = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(PayloadError, match="deeper than 64"):
        sched.submit("a.ok", deep)
    assert sched.store.counts() == {}


@row(6)
def bad_delays(tmp_path: Path) -> None:
    sched = stepped()
    for delay in (-1, math.nan, math.inf, 1e12):
        with pytest.raises(ScheduleError, match="delay"):
            sched.submit("a.ok", {}, delay=delay)
    with pytest.raises(ScheduleError, match="naive"):
        sched.submit("a.ok", {}, run_at=dt.datetime(2030, 1, 1))
    assert sched.store.counts() == {}
    past = sched.submit("a.ok", {}, run_at=dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
    assert sched.get(past.id).state == "queued"  # a past run_at means now
    cli = cli_with_db(tmp_path)
    one_line_error(cli("submit", "b.echo", "--delay", "-5"), 2, "delay", "must not be negative")


@row(7)
def bad_priorities(tmp_path: Path) -> None:
    cli = cli_with_db(tmp_path)
    for value in ("nan", "inf", "0", "-1", "abc"):
        args = ("priority", "a", "--", value) if value.startswith("-") else ("priority", "a", value)
        one_line_error(cli(*args), 2, "priority")
    sched = stepped()
    for value in (math.nan, math.inf, 0, -1, True, "abc"):
        with pytest.raises(PriorityError):
            sched.set_priority("a", value)
    assert sched.store.load_settings() == {}


@row(8)
def huge_equal_priorities(tmp_path: Path) -> None:
    items = [Demand("a", 1e308, queued=10), Demand("b", 1e308, queued=10)]
    assert allocate(8, items) == {"a": 4, "b": 4}


@row(9)
def bad_budgets(tmp_path: Path) -> None:
    for workers in (0, -1, 513):
        with pytest.raises(ConfigError, match="workers"):
            SchedulerConfig(workers=workers, categories={"a": CategoryConfig()}).validate()
    cli = cli_with_db(tmp_path)
    one_line_error(cli("status", env={"JOBSCHED_WORKERS": "0"}), 2, "workers")


@row(10)
def minimums_over_budget(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="above the budget"):
        SchedulerConfig(
            workers=2,
            categories={"a": CategoryConfig(min_workers=2), "b": CategoryConfig(min_workers=1)},
        ).validate()
    sched = stepped()
    with pytest.raises(ConfigError, match="above the budget"):
        sched.pin("a", 3)  # a change that cannot fit is rejected, the old settings kept
    assert sched.store.load_settings() == {} and sched.snapshot().pool_total == 2


@row(11)
def hostile_names(tmp_path: Path) -> None:
    for name in ("a'b", "x; DROP TABLE tasks", "nul\x00", "y" * 10_000):
        with pytest.raises(InvalidNameError):
            SchedulerConfig(workers=1, categories={name: CategoryConfig()}).validate()
        with pytest.raises(InvalidNameError):
            stepped().submit(name, {})


# ------------------------------------------------------------------------ handlers
@row(12)
def handler_raises(tmp_path: Path) -> None:
    def boom(payload: Any) -> None:
        raise ValueError("boom")

    clock = FakeClock()
    sched = stepped(clock=clock, a_boom=boom)
    handle = sched.submit("a.boom", {}, max_attempts=2)
    sched.step()
    assert sched.get(handle.id).state == "scheduled"  # retried with backoff
    clock.advance(sched.config.retry_max)
    sched.run_until_idle()
    with pytest.raises(TaskFailedError, match="ValueError: boom") as info:
        handle.result(0)
    assert "Traceback" in (info.value.error or "")
    assert sched.submit("a.ok", 1).id and sched.run_until_idle()  # the worker lives


@row(13)
def handler_raises_systemexit(tmp_path: Path) -> None:
    def leave(payload: Any) -> None:
        raise SystemExit(1)

    def interrupt(payload: Any) -> None:
        raise KeyboardInterrupt

    sched = stepped(a_exit=leave, a_interrupt=interrupt)
    ids = [sched.submit(h, {}, max_attempts=1).id for h in ("a.exit", "a.interrupt")]
    ok = sched.submit("a.ok", 5)
    sched.run_until_idle()
    assert [sched.get(i).state for i in ids] == ["failed", "failed"]
    assert ok.result(0) == 5


@row(14)
def handler_never_returns(tmp_path: Path) -> None:
    """The full version: tests/core/test_engine_threaded.py (timed out, replaced)."""
    release = threading.Event()
    config = SchedulerConfig(
        workers=2,
        categories={"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)},
    )
    sched = Scheduler(config)
    sched.handler("a.hang", timeout=0.2)(lambda p: release.wait(30))
    sched.handler("a.ok")(lambda p: p)
    sched.start()
    try:
        with pytest.raises(TaskFailedError) as info:
            sched.submit("a.hang", {}).result(timeout=10)
        assert info.value.reason == "timed_out"
        assert sched.submit("a.ok", 1).result(timeout=10) == 1
        assert sched.snapshot().abandoned_threads == 1
    finally:
        started = time.monotonic()
        sched.stop(grace=1.0)
        assert time.monotonic() - started < 2.0  # the abandoned thread does not delay stop
        release.set()


@row(15)
def handler_returns_non_json(tmp_path: Path) -> None:
    sched = stepped(a_odd=lambda p: object())
    handle = sched.submit("a.odd", {})
    sched.run_until_idle()
    assert sched.get(handle.id).state == "succeeded"
    assert "unserialisable_result" in handle.result(0)


@row(16)
def handler_kills_the_process(tmp_path: Path) -> None:
    """Real processes under a restarting supervisor."""
    from tests.reliability.test_poison import test_poison_task_is_orphaned_and_its_neighbours_finish

    test_poison_task_is_orphaned_and_its_neighbours_finish(tmp_path)


# ------------------------------------------------------------------------ the database
@row(17)
def read_only_database(tmp_path: Path) -> None:
    cli = cli_with_db(tmp_path)
    before = digest(cli.db)
    ro = f"sqlite:///{cli.db}?mode=ro"
    one_line_error(cli("submit", "b.echo", env={"JOBSCHED_DB": ro}), 3, "read-only")
    one_line_error(cli("run", "--for", "1", env={"JOBSCHED_DB": ro}), 3, "read-only")
    assert digest(cli.db) == before


@row(18)
def directory_missing(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    missing = tmp_path / "no" / "such" / "jobs.db"
    one_line_error(
        cli("submit", "b.echo", env={"JOBSCHED_DB": str(missing)}), 3, str(missing.parent)
    )
    assert not missing.parent.exists()


@row(19)
def disk_full_during_a_burst(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    open_store(db).open(None)  # create the file at its normal size first
    store = SqliteStore(str(db), pragmas={"max_page_count": 40})
    sched = Scheduler(SchedulerConfig(workers=1, categories={"a": CategoryConfig()}), store)
    sched.handler("a.big")(lambda p: None)
    acknowledged, refused = [], 0
    sched.start()
    try:
        for n in range(400):
            try:
                acknowledged.append(sched.submit("a.big", {"n": n, "pad": "x" * 2000}).id)
            except StoreFullError as exc:
                refused += 1
                assert exc.exit_code == 3 and "full" in str(exc)
    finally:
        sched.stop(grace=5)
    assert refused and acknowledged
    # Space returns: a node without the limit finishes everything acknowledged.
    again = Scheduler(
        SchedulerConfig(workers=1, categories={"a": CategoryConfig()}), open_store(db)
    )
    again.handler("a.big")(lambda p: None)
    with again:
        assert all(again.wait(i, timeout=20).state == "succeeded" for i in acknowledged)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


@row(20)
def database_locked_for_long(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    open_store(db).open(None)
    other = sqlite3.connect(db)
    other.execute("BEGIN EXCLUSIVE")
    store = open_store(db, busy_timeout=0.3)
    store.open(None)
    sched = Scheduler(SchedulerConfig(workers=1, categories={"a": CategoryConfig()}), store)
    sched.handler("a.x")(lambda p: p)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as info:
            sched.submit("a.x", {})
        assert time.monotonic() - started >= 0.25  # retried for the busy timeout first
        assert info.value.exit_code == 3 and str(db) in str(info.value)
    finally:
        other.rollback()
        other.close()
    assert sched.submit("a.x", {}).id >= 1  # nothing lost: the next write goes through
    store.close()


@row(21)
def corrupt_database(tmp_path: Path) -> None:
    cli = cli_with_db(tmp_path)
    data = bytearray(cli.db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the first page after the header
    cli.db.write_bytes(bytes(data))
    for path in (cli.db.with_name("jobs.db-wal"), cli.db.with_name("jobs.db-shm")):
        path.unlink(missing_ok=True)
    before = digest(cli.db)
    result = cli("status")
    assert result.exit_code == 3, result.stderr
    assert digest(cli.db) == before


@row(22)
def foreign_or_empty_file(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for path in (other, empty):
        before = digest(path)
        one_line_error(cli("status", env={"JOBSCHED_DB": str(path)}), 3, str(path.name))
        assert digest(path) == before


@row(23)
def schema_newer(tmp_path: Path) -> None:
    """Older schemas are migrated after a backup: tests/storage/sqlite/test_faults.py and test_schema.py."""
    cli = cli_with_db(tmp_path)
    con = sqlite3.connect(cli.db)
    version = con.execute("PRAGMA user_version").fetchone()[0]
    con.execute(f"PRAGMA user_version = {version + 1}")
    con.commit()
    con.close()
    before = digest(cli.db)
    one_line_error(cli("status"), 3, "newer")
    assert digest(cli.db) == before


@row(24)
def two_nodes_on_one_file(tmp_path: Path) -> None:
    cli = cli_with_db(tmp_path)
    holder = open_store(cli.db)
    holder.open("holder-node")
    try:
        started = time.monotonic()
        line = one_line_error(cli("run", "--for", "5"), 4, "in use by another node")
        assert time.monotonic() - started < 2.0
        assert "pid" in line
    finally:
        holder.close()


# ------------------------------------------------------------------------ signals
@row(25)
def sigterm_during_a_burst(tmp_path: Path) -> None:
    """The long version: tests/storage/test_crash.py (20 stops, zero re-executions)."""
    cli = cli_with_db(tmp_path)
    assert cli("inject", "a", "--count", "200", "--duration-ms", "20").exit_code == 0
    node = Node(cli)
    node.wait_up()
    poll(lambda: cli.json("status")["categories"][0]["succeeded"] > 0, 10, what="progress")
    node.signal(signal.SIGTERM)
    assert node.wait() == 0
    with cli.store() as store:
        assert store.counts()["a"]["running"] == 0


@row(26)
def second_signal_while_stopping(tmp_path: Path) -> None:
    """The full version: tests/console/test_cli_node.py."""
    cli = cli_with_db(tmp_path)
    assert cli("inject", "a", "--count", "4", "--duration-ms", "60000").exit_code == 0
    node = Node(cli)
    node.wait_up()
    poll(lambda: cli.json("status")["categories"][0]["running"] > 0, 10, what="a running task")
    node.signal(signal.SIGTERM)
    poll(lambda: "stopping" in node.stderr(), 10, what="graceful stop")
    started = time.monotonic()
    node.signal(signal.SIGINT)
    assert node.wait() == 130
    # the node's own clock, signal to store closed, within 1 s; the process's exit after it
    stopped = re.search(r"stopped at once \((\d+\.\d+) s after", node.stderr())
    assert stopped is not None and float(stopped[1]) < 1.0, node.stderr()
    assert time.monotonic() - started < 5.0
    with cli.store() as store:
        assert store.counts()["a"]["running"] == 0


@row(27)
def sigkill_during_a_burst(tmp_path: Path) -> None:
    """The long version: tests/storage/test_crash.py (20 kills, checker counts)."""
    cli = cli_with_db(tmp_path)
    assert cli("inject", "a", "--count", "50", "--duration-ms", "60000").exit_code == 0
    node = Node(cli)
    node.wait_up()
    poll(lambda: cli.json("status")["categories"][0]["running"] > 0, 10, what="a running task")
    node.kill()
    assert cli.json("status")["categories"][0]["running"] > 0  # orphans left by the kill
    again = Node(cli)
    again.wait_up()  # recovery runs before the heartbeat: orphans are back at once
    with cli.store() as store:
        new_id = next(n.node_id for n in store.nodes() if n.pid == again.pid)
        assert {t.owner for t in store.list_tasks(state="running", limit=100)} <= {new_id}
        per = store.counts()["a"]
        assert per["queued"] + per["running"] + per["succeeded"] == 51 and per["failed"] == 0
    again.kill()


@row(28)
def wall_clock_jumps(tmp_path: Path) -> None:
    """Also: tests/core/test_engine_stepped.py."""
    clock = FakeClock()
    sched = Scheduler(
        SchedulerConfig(workers=1, categories={"a": CategoryConfig()}), clock=clock, threaded=False
    )
    ran: list[int] = []
    sched.handler("a.mark")(lambda p: ran.append(p))
    sched.start()
    sched.submit("a.mark", 1, delay=30)
    clock.jump_wall(3600)
    sched.step()
    assert ran == []
    clock.advance(30)
    sched.step()
    clock.jump_wall(-7200)
    clock.advance(1)
    sched.step()
    assert ran == [1]


@row(29)
def a_large_backlog(tmp_path: Path) -> None:
    """The million-task figures: bench/backlog.py. Here 100,000 against 1,000."""
    import subprocess
    import sys

    script = (
        "import sys, threading, time\n"
        "from core import CategoryConfig, Scheduler, SchedulerConfig\n"
        "from storage import open_store\n"
        "first = threading.Event()\n"
        "s = Scheduler(SchedulerConfig(workers=2, categories={'a': CategoryConfig()}), open_store(sys.argv[1]))\n"
        "s.handler('a.noop')(lambda p: first.set())\n"
        "t0 = time.monotonic(); s.start(); first.wait(30); t1 = time.monotonic() - t0\n"
        "s.stop(grace=0)\n"
        # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's at fork.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(t1, hwm)\n"
    )
    results = []
    for n in (1_000, 100_000):
        db = tmp_path / f"backlog{n}.db"
        store = open_store(db)
        store.open(None)
        sched_cfg = SchedulerConfig(workers=2, categories={"a": CategoryConfig()})
        from jobsched.core import Client

        client = Client(sched_cfg, store)
        client.handler("a.noop")(lambda p: None)
        client.submit_many([("a.noop", None)] * n)
        store.close()
        out = subprocess.run(
            [sys.executable, "-c", script, str(db)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        first, rss = out.stdout.split()
        results.append((float(first), int(rss)))
    (small_t, small_rss), (big_t, big_rss) = results
    print(
        f"first task: {small_t:.2f}s vs {big_t:.2f}s; peak RSS {small_rss // 1024} MB vs {big_rss // 1024} MB"
    )
    assert big_t < 3.0
    assert big_rss < small_rss * 1.25  # memory does not grow with the backlog


@row(30)
def terminal_resized(tmp_path: Path) -> None:
    """Also: tests/console/test_app.py."""
    from tests.console.app_support import build_scheduler, make_app, ready, until

    sched, _ = build_scheduler()
    app = make_app(sched)

    def shown() -> str:
        return " ".join(str(w.render()) for w in app.screen.query("*") if w.display)

    async def scenario() -> str:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            for size in ((1, 1), (20, 5), (300, 100)):
                await pilot.resize_terminal(*size)
                await pilot.pause()
            await pilot.resize_terminal(20, 5)
            await until(pilot, lambda: "too small" in shown().lower())
            return shown()

    text = asyncio.run(scenario())
    assert "too small" in text.lower()
    sched.stop(grace=0)


@row(31)
def cli_usage_errors(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    for args in (("frobnicate",), ("tasks", "--limit", "many"), ("priority", "a"), ("show",)):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        assert len([x for x in result.stderr.strip().splitlines() if x.strip()]) <= 2, result.stderr


def test_every_case_is_documented_and_every_documented_row_names_a_test() -> None:
    """docs/reliability.md names `row N` for each case here, and a test for every fault."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in docs.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    ]
    assert [int(cells[0]) for cells in rows] == list(range(1, len(rows) + 1))
    named = {int(n) for cells in rows for n in re.findall(r"\brow (\d+)\b", cells[-1])}
    assert named == set(ROWS) == set(range(1, 32))
    root = docs.parents[1]
    for cells in rows:
        assert cells[-1], f"fault {cells[0]} names no test"
        for path in re.findall(r"`((?:tests|bench)/[\w/]+\.py)", cells[-1]):
            assert (root / path).exists(), f"fault {cells[0]}: {path} does not exist"


SLOW = {16, 25, 26, 27, 29}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "number",
    [
        pytest.param(n, marks=pytest.mark.slow, id=f"row{n}")
        if n in SLOW
        else pytest.param(n, id=f"row{n}")
        for n in sorted(ROWS)
    ],
)
def test_fault(number: int, tmp_path: Path) -> None:
    ROWS[number](tmp_path)
