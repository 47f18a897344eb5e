"""Medians, spreads, ratios and targets of a benchmark run, as Markdown tables.

The tables print the same in a terminal and in ``docs/benchmarks.md``. A cell is
``median (min–max)`` over the interleaved runs. A ratio is taken per round, between two
runs that ran back to back: jobsched's figure divided by the row's in a comparison (above
1: jobsched has more of it), the row's divided by the first row's in a baseline case.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench.cases import Case, Metric

#: results[case id][entry key] = one raw dict per run, or an error text for a failed run
Results = dict[str, dict[str, list[Any]]]


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    values: tuple[float, ...]
    per_round: tuple[float | None, ...]  # None where that round's run failed

    def cell(self, fmt: str) -> str:
        if len(self.values) == 1:
            return format(self.median, fmt)
        return f"{self.median:{fmt}} ({self.low:{fmt}}–{self.high:{fmt}})"


def summarise(metric: Metric, runs: list[Any]) -> Summary | None:
    per_round = tuple(metric.derive(r) if isinstance(r, dict) else None for r in runs)
    values = [v for v in per_round if v is not None]
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), tuple(values), per_round)


def summaries(cases: list[Case], results: Results) -> dict[str, dict[str, dict[str, Summary]]]:
    out: dict[str, dict[str, dict[str, Summary]]] = {}
    for case in cases:
        per_entry = out.setdefault(case.id, {})
        for entry in case.entries:
            runs = results.get(case.id, {}).get(entry.key, [])
            cells = {m.key: s for m in case.metrics if (s := summarise(m, runs)) is not None}
            per_entry[entry.key] = cells
    return out


def paired_ratio(case: Case, first: Summary | None, row: Summary | None) -> Summary | None:
    """The ratio of each round's two runs, which ran back to back under the same machine
    load, summarised over the rounds (the point of interleaving)."""
    if first is None or row is None:
        return None
    pairs = []
    for mine, theirs in zip(first.per_round, row.per_round, strict=False):
        if mine and theirs:
            pairs.append(mine / theirs if case.ratio == "subject" else theirs / mine)
    if not pairs:
        return None
    return Summary(statistics.median(pairs), min(pairs), max(pairs), tuple(pairs), tuple(pairs))


def ratio(case: Case, first: Summary | None, row: Summary | None) -> str:
    paired = paired_ratio(case, first, row)
    return paired.cell(".2f") if paired else "–"


def table(
    case: Case, results: Results, summary: dict[str, dict[str, Summary]], skipped: dict[str, str]
) -> str:
    """One Markdown table for ``case``, with a title line and a legend."""
    first_key = case.entries[0].key
    which = "jobsched ÷ row" if case.ratio == "subject" else f"row ÷ {case.entries[0].label}"
    header = ["system"]
    for metric in case.metrics:
        if metric.higher_is_better is None:
            header.append(metric.header)
        else:
            arrow = "↑" if metric.higher_is_better else "↓"
            header += [f"{metric.header} {arrow}", "ratio"]
    lines = [
        f"**{case.title}**. {case.note}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for entry in case.entries:
        if entry.system in skipped:
            lines.append(f"| {entry.label} | skipped: {skipped[entry.system]} |")
            continue
        cells = summary.get(entry.key, {})
        row = [entry.label]
        for metric in case.metrics:
            cell = cells.get(metric.key)
            row.append(cell.cell(metric.fmt) if cell else "failed")
            if metric.higher_is_better is not None:
                row.append(ratio(case, summary.get(first_key, {}).get(metric.key), cell))
        lines.append("| " + " | ".join(row) + " |")
        errors = [r for r in results.get(case.id, {}).get(entry.key, []) if isinstance(r, str)]
        if errors:
            lines.append(f"| ↳ {len(errors)} run(s) failed: {errors[-1][:120]} |")
    lines += [
        "",
        f"Cells: median (min–max) of the runs. ratio: {which}, taken per round (the runs of "
        "a round ran back to back) and summarised the same way. ↑ higher is better, ↓ lower "
        "is better.",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    verdict: str  # PASS, MISS or n/a


def _median(
    summary: dict[str, dict[str, dict[str, Summary]]], case: str, entry: str, metric: str
) -> float | None:
    cell = summary.get(case, {}).get(entry, {}).get(metric)
    return cell.median if cell else None


def targets(
    cases: list[Case], summary: dict[str, dict[str, dict[str, Summary]]], backlog_size: int
) -> list[Target]:
    """The product's performance targets, judged on the medians of this run."""
    out: list[Target] = []

    def at_least(
        name: str, value: float | Summary | None, limit: float, unit: str, why: str = ""
    ) -> None:
        if value is None:
            out.append(Target(name, why or "not measured", "n/a"))
            return
        rounds = ""
        if isinstance(value, Summary):  # a ratio per round: show each, judge the median
            rounds = " (rounds: " + ", ".join(f"{v:.2f}" for v in value.values) + ")"
            value = value.median
        verdict = "PASS" if value >= limit else "MISS"
        out.append(Target(name, f"{value:,.2f}{unit}{rounds}", verdict))

    def at_most(name: str, value: float | None, limit: float, unit: str) -> None:
        if value is None:
            out.append(Target(name, "not measured", "n/a"))
        else:
            out.append(Target(name, f"{value:,.2f}{unit}", "PASS" if value <= limit else "MISS"))

    def quotient(case: str, metric: str, peer: str, subject: str = "jobsched") -> Summary | None:
        per_entry = summary.get(case, {})
        mine, theirs = (per_entry.get(k, {}).get(metric) for k in (subject, peer))
        return paired_ratio(by_id[case], mine, theirs)

    def reading(name: str, value: Summary | None) -> None:
        """A ratio to read beside the targets, judged against none."""
        if value is not None:
            rounds = ", ".join(f"{v:.2f}" for v in value.values)
            out.append(Target(name, f"{value.median:,.2f} x (rounds: {rounds})", "info"))

    by_id = {c.id: c for c in cases}
    ids = set(by_id)
    for case in cases:
        if case.scenario != "bulk":
            continue
        size = case.id.split("-")[1]
        at_least(
            f"bulk {int(size):,}: end-to-end >= 0.5 x the minimal durable design",
            quotient(case.id, "e2e", "minimal"),
            0.5,
            " x",
            "no run of the minimal design",
        )
        # How much of the floor the claim alone costs: jobsched's flow claims tasks from
        # the store into a bounded window; the minimal design hands them over at submit.
        reading(
            f"bulk {int(size):,}: the minimal design with claims / the minimal design",
            quotient(case.id, "e2e", "minimal", subject="minimal-claims"),
        )
        reading(
            f"bulk {int(size):,}: end-to-end / the minimal design with claims",
            quotient(case.id, "e2e", "minimal-claims"),
        )
        at_least(
            f"bulk {int(size):,}: end-to-end >= 10 x Huey-SQLite at synchronous=NORMAL",
            quotient(case.id, "e2e", "huey"),
            10.0,
            " x",
            "no Huey run (skipped or failed)",
        )
    if "one" in ids:
        at_least(
            "one at a time: acknowledged submits >= 2 x Huey's enqueue rate",
            quotient("one", "acked", "huey"),
            2.0,
            " x",
            "no Huey run (skipped or failed)",
        )
    if "latency" in ids:
        at_most("latency p50 <= 1 ms", _median(summary, "latency", "jobsched", "p50"), 1.0, " ms")
        at_most("latency p99 <= 5 ms", _median(summary, "latency", "jobsched", "p99"), 5.0, " ms")
    if "backlog" in ids:
        scale = "" if backlog_size == 1_000_000 else f" (measured at {backlog_size:,})"
        at_most(
            f"backlog 1,000,000: peak memory <= 120 MB{scale}",
            _median(summary, "backlog", "big", "rss"),
            120.0,
            " MB",
        )
        at_most(
            f"backlog 1,000,000: first task within 3 s{scale}",
            _median(summary, "backlog", "big", "first"),
            3.0,
            " s",
        )
    return out


def targets_table(items: list[Target]) -> str:
    lines = ["| target | measured (median) | verdict |", "|---|---:|---|"]
    lines += [f"| {t.name} | {t.measured} | {t.verdict} |" for t in items]
    return "\n".join(lines)
