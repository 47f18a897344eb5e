"""The crash checker: compares what was acknowledged, what the database says and what the
append-only execution log says actually ran.

- lost: acknowledged, never finished (missing from the database or not terminal with
  no execution at all after the drain)
- stuck: not terminal after the drain
- duplicated: started again after a run that did not fail (only meaningful with no kills)
- unexpected: ran but was never acknowledged
- reexecutions: runs beyond what failures explain: per task, starts - failures - 1
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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


def read_log(path: Path) -> tuple[Counter[int], Counter[int]]:
    """(starts, failures) per task id from the execution log."""
    starts: Counter[int] = Counter()
    failures: Counter[int] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if not parts:
                continue
            (failures if parts[-1] == "F" else starts)[int(parts[0])] += 1
    return starts, failures


def check(acknowledged: list[int], db: Path, log: Path) -> Report:
    runs, failures = read_log(log)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = dict(con.execute("SELECT id, state FROM tasks").fetchall())
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
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


def running_rows(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM tasks WHERE state = 'running'").fetchone()[0])
    finally:
        con.close()
