"""What ``bench/run.py`` measures: scenarios, their sizes per mode, and their metrics.

A :class:`Case` is one table: a scenario at one size, with the systems (entries) that run
it side by side. Each entry's function in ``bench/systems/<module>.py`` returns raw
figures (seconds, counts); the case's metrics turn them into what the table shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SCENARIOS = ("bulk", "one", "latency", "backlog", "balancer")
PEERS = ("minimal", "minimal-claims", "threadpool", "sqlite", "huey", "huey-full", "persist-queue")
STDLIB_PEERS = ("minimal", "minimal-claims", "threadpool", "sqlite")


@dataclass(frozen=True)
class Metric:
    key: str
    header: str
    derive: Callable[[dict[str, Any]], float]
    fmt: str  # format spec for one value, e.g. ",.0f"
    higher_is_better: bool | None = True  # None: a count to read, no ratio


@dataclass
class Entry:
    """One row: a system's scenario function with its arguments."""

    key: str  # unique within the case
    system: str  # a key of bench.systems.SYSTEMS
    func: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    id: str
    scenario: str
    title: str
    note: str
    entries: list[Entry]
    metrics: tuple[Metric, ...]
    #: "subject": the ratio is the first row (jobsched) divided by each row;
    #: "baseline": each row divided by the first row (a jobsched variant against another).
    ratio: str = "subject"


def _rate(key: str) -> Callable[[dict[str, Any]], float]:
    if key == "total":
        return lambda r: r["n"] / (r["submit_s"] + r["drain_s"])
    return lambda r: r["n"] / r[key]


E2E = Metric("e2e", "end-to-end tasks/s", _rate("total"), ",.0f")
DRAIN = Metric("drain", "drain tasks/s", _rate("drain_s"), ",.0f")
SUBMIT = Metric("submit", "submit tasks/s", _rate("submit_s"), ",.0f")
ACKED = Metric("acked", "acknowledged submits/s", _rate("submit_s"), ",.0f")
P50 = Metric("p50", "p50 ms", lambda r: r["p50_ms"], ",.3f", higher_is_better=False)
P99 = Metric("p99", "p99 ms", lambda r: r["p99_ms"], ",.3f", higher_is_better=False)
FIRST = Metric("first", "first task s", lambda r: r["first_task_s"], ",.2f", False)
RSS = Metric("rss", "peak RSS MB", lambda r: r["peak_rss_mb"], ",.0f", False)
MOVED = Metric("moved", "workers moved", lambda r: r.get("workers_moved", 0.0), ",.0f", None)


@dataclass(frozen=True)
class Sizes:
    bulk: tuple[int, ...]
    one: int
    latency_rate: float
    latency_seconds: float
    warm_up: int
    backlog: int
    backlog_baseline: int
    backlog_run_for: float
    balancer: int


FULL = Sizes((20_000, 100_000), 20_000, 1000, 5.0, 200, 1_000_000, 1_000, 2.0, 100_000)
QUICK = Sizes((20_000,), 5_000, 1000, 2.0, 200, 100_000, 1_000, 1.0, 20_000)
SMOKE = Sizes((500,), 200, 200, 0.3, 10, 2_000, 0, 0.1, 600)


def label(system: str) -> str:
    from bench.systems import SYSTEMS

    return SYSTEMS[system].label


def build(sizes: Sizes, scenarios: list[str], peers: tuple[str, ...]) -> list[Case]:
    """The cases of a run, in order; ``peers`` are the reference systems to include."""
    cases: list[Case] = []
    if "bulk" in scenarios:
        for n in sizes.bulk:
            cases.append(
                Case(
                    f"bulk-{n}",
                    "bulk",
                    f"bulk: {n:,} no-op tasks",
                    "Submitted in bulk (jobsched: submit_many, 10,000 per transaction; the minimal "
                    "design: 1,000 per acknowledged batch; raw "
                    "sqlite3: 100 per transaction; Huey: task.map; persist-queue: put), then "
                    "drained by 4 workers; every state change committed (raw sqlite3: mark "
                    "running and mark done, 100 per transaction). End-to-end = submit time + "
                    "drain time.",
                    [Entry(s, s, "bulk", label(s), {"n": n}) for s in ("jobsched", *peers)],
                    (E2E, DRAIN, SUBMIT),
                )
            )
    if "one" in scenarios:
        n = sizes.one
        cases.append(
            Case(
                "one",
                "one",
                f"one at a time: {n:,} submits, each acknowledged",
                "One call per task, each returning after its INSERT committed (raw sqlite3: "
                "one INSERT per transaction; the thread pool: once the future is queued), "
                "while the workers drain.",
                [Entry(s, s, "one", label(s), {"n": n}) for s in ("jobsched", *peers)],
                (ACKED,),
            )
        )
    if "latency" in scenarios:
        params = {
            "rate": sizes.latency_rate,
            "seconds": sizes.latency_seconds,
            "warm_up": sizes.warm_up,
        }
        cases.append(
            Case(
                "latency",
                "latency",
                f"latency: submit to start at {sizes.latency_rate:,.0f} tasks/s for "
                f"{sizes.latency_seconds:g} s",
                "perf_counter() in the handler minus perf_counter() just before submit, "
                f"in one process; the first {sizes.warm_up} tasks are left out. Raw "
                "sqlite3 is not a scheduler and has no row here.",
                [
                    Entry(s, s, "latency", label(s), params)
                    for s in ("jobsched", *peers)
                    if s != "sqlite"  # no scheduler: nothing starts a task
                ],
                (P50, P99),
            )
        )
    if "backlog" in scenarios:
        entries = []
        if sizes.backlog_baseline:
            entries.append(
                Entry("small", "jobsched", "backlog_start", f"{sizes.backlog_baseline:,} queued")
            )
        entries.append(Entry("big", "jobsched", "backlog_start", f"{sizes.backlog:,} queued"))
        cases.append(
            Case(
                "backlog",
                "backlog",
                f"backlog: a node restarting on {sizes.backlog:,} queued tasks",
                "A fresh node process on a copy of a pre-filled file: seconds from spawning "
                "the process to its first task, and its peak RSS (VmHWM) after running "
                f"{sizes.backlog_run_for:g} s more.",
                entries,
                (FIRST, RSS),
                ratio="baseline",
            )
        )
    if "balancer" in scenarios:
        n = sizes.balancer
        cases.append(
            Case(
                "balancer",
                "balancer",
                f"balancer: the bulk run of {n:,} tasks across 3 categories",
                "Priorities 1, 2 and 4, a third of the tasks each; balance_interval 0.5 s, "
                "cooldown 1 s, so workers move as the categories drain unevenly.",
                [
                    Entry("one-category", "jobsched", "bulk", "jobsched, 1 category", {"n": n}),
                    Entry(
                        "three-categories",
                        "jobsched",
                        "balancer",
                        "jobsched, 3 categories + balancer",
                        {"n": n},
                    ),
                ],
                (E2E, DRAIN, MOVED),
                ratio="baseline",
            )
        )
    return cases
