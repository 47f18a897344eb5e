"""The crash checker: compares what was acknowledged, what the database says and what the
append-only execution log says actually ran.

- lost: acknowledged, never finished (missing from the database or not terminal with
  no execution at all after the drain)
- stuck: not terminal after the drain
- duplicated: started again after a run that did not fail (only meaningful with no kills)
- unexpected: ran but was never acknowledged
- reexecutions: runs beyond what failures explain: per task, starts - failures - 1
- overlaps (``overlaps``): tasks that ever ran twice at the same time, on one node or two

``db`` is a SQLite file or a ``postgresql://`` URL (read through the store).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jobsched.storage import open_store
from jobsched.storage.postgres.url import is_postgres_url

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Report:
    acknowledged: int
    executions: int
    lost: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    reexecutions: int = 0
    states: dict[str, int] = field(default_factory=dict)
    integrity: str = ""

    def line(self) -> str:
        return (
            f"acknowledged={self.acknowledged} executions={self.executions} lost={len(self.lost)} "
            f"stuck={len(self.stuck)} unexpected={len(self.unexpected)} reexecutions={self.reexecutions} "
            f"states={self.states} integrity={self.integrity}"
        )


def records(path: Path) -> list[list[str]]:
    """The log's records in order, split into fields (see ``handlers``)."""
    if not path.exists():
        return []
    return [parts for parts in (line.split() for line in path.read_text().splitlines()) if parts]


def read_log(path: Path) -> tuple[Counter[int], Counter[int]]:
    """(starts, failures) per task id from the execution log."""
    starts: Counter[int] = Counter()
    failures: Counter[int] = Counter()
    for parts in records(path):
        if not parts[0].isdigit():
            continue  # a kill record
        kind = parts[2] if len(parts) > 2 else "S"
        if kind == "F":
            failures[int(parts[0])] += 1
        elif kind == "S":
            starts[int(parts[0])] += 1
    return starts, failures


def overlaps(path: Path) -> list[int]:
    """Tasks with a run that started while another run of the same task was still going.

    A run goes from its start record to its end record, or to the kill record of its
    process (a killed run never ends on its own).
    """
    open_runs: dict[int, Counter[str]] = {}  # task id -> pid -> runs in progress
    found: set[int] = set()
    for parts in records(path):
        if parts[0] == "K":
            for runs in open_runs.values():
                runs.pop(parts[1], None)
            continue
        if len(parts) < 4:
            continue  # a record without a pid: an old log
        task_id, kind, pid = int(parts[0]), parts[2], parts[3]
        runs = open_runs.setdefault(task_id, Counter())
        if kind == "S":
            if any(n > 0 for n in runs.values()):
                found.add(task_id)
            runs[pid] += 1
        elif kind == "E" and runs[pid]:
            runs[pid] -= 1
    return sorted(found)


def task_states(db: Path | str) -> tuple[dict[int, str], str]:
    """(id -> state, integrity check result) of every task in the database."""
    if is_postgres_url(str(db)):
        store = open_store(str(db))
        store.open(None)
        try:
            rows = {t.id: t.state for t in store.list_tasks(limit=1 << 40)}
        finally:
            store.close()
        return rows, "ok"  # the server checks its own pages; nothing to ask it here
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = dict(con.execute("SELECT id, state FROM tasks").fetchall())
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    return rows, integrity


def check(acknowledged: list[int], db: Path | str, log: Path) -> Report:
    runs, failures = read_log(log)
    rows, integrity = task_states(db)
    acked = set(acknowledged)
    report = Report(acknowledged=len(acked), executions=sum(runs.values()), integrity=integrity)
    report.states = dict(Counter(rows.get(i, "missing") for i in acked))
    for task_id in sorted(acked):
        state = rows.get(task_id)
        if state is None:
            report.lost.append(task_id)
        elif state not in TERMINAL:
            report.stuck.append(task_id)
        elif state == "succeeded" and runs[task_id] == 0:
            report.lost.append(task_id)  # marked done but never ran
    report.unexpected = sorted(set(runs) - acked)
    extra = {i: n - failures[i] - 1 for i, n in runs.items()}
    report.duplicated = sorted(i for i, n in extra.items() if n > 0)
    report.reexecutions = sum(n for n in extra.values() if n > 0)
    return report


def running_rows(db: Path | str) -> int:
    if is_postgres_url(str(db)):
        store = open_store(str(db))
        store.open(None)
        try:
            return sum(per["running"] for per in store.counts().values())
        finally:
            store.close()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM tasks WHERE state = 'running'").fetchone()[0])
    finally:
        con.close()


def begun_at_kill(db: Path) -> int:
    """Tasks whose run had begun when the node died: ``running`` rows whose current attempt
    is in the start journal (``<db>.starts``). Call it after the kill, before a restart.

    This is the design's "tasks that were running": a task claimed into a FIFO that never
    started is not counted (recovery gives its attempt back; it has not run), while a task
    whose handler returned but whose outcome was not yet committed is (it runs again).
    """
    journal = Path(f"{db}.starts")
    started: set[tuple[int, int]] = set()
    if journal.exists():
        for line in journal.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                started.add((int(parts[0]), int(parts[1])))
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT id, attempts FROM tasks WHERE state = 'running'").fetchall()
    finally:
        con.close()
    return sum(1 for task_id, attempts in rows if (task_id, attempts) in started)
