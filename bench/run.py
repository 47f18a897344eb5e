"""jobsched side by side with the references a user would pick instead, in one run.

    python bench/run.py [--quick] [--repeat N] [--scenario NAME ...] [--json out.json]
    python bench/run.py --profile bulk      # where jobsched's time goes (py-spy or cProfile)
    python bench/run.py --smoke             # tiny sizes, standard library references only

Every measurement runs in a fresh child process (``bench/child.py``). The runs of a table
are interleaved (A B C A B C ...), so machine noise, such as other work on a busy 2-core
box, hits every system alike and the ratios stay meaningful. Prints Markdown tables of
medians with their min–max spread and ratios, then PASS/MISS for each target.

Scenarios: bulk (20,000 and 100,000 tasks), one (one-at-a-time acknowledged submits),
latency (submit-to-start at 1,000 tasks/s), backlog (restart on 1,000,000 queued tasks),
balancer (the bulk run across 3 categories). ``--quick`` shrinks them for a dev loop.
References: ThreadPoolExecutor(4), raw sqlite3, Huey and persist-queue; the last two are
the ``bench`` extra (``pip install -e '.[bench]'``) and are skipped when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this folder is sys.path[0]; put the project there instead, so that
# bench/profiling.py and friends never shadow a standard-library module.
sys.path[0] = str(ROOT)

from bench import cases as C  # noqa: E402
from bench import report  # noqa: E402
from bench.child import RESULT  # noqa: E402
from bench.systems import SYSTEMS  # noqa: E402

CHILD_TIMEOUT = 1200.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path)


def run_child(system: str, func: str, params: dict[str, Any]) -> dict[str, Any] | str:
    """One measurement in a fresh process: its result, or why it failed (one line)."""
    if func == "backlog_start":
        params = {**params, "spawned": time.time()}  # the restart starts now
    command = [sys.executable, "-m", "bench.child", system, func, json.dumps(params)]
    try:
        proc = subprocess.run(
            command,
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {CHILD_TIMEOUT:g} s"
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith(RESULT):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"exit {proc.returncode}: {tail}"
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    return result


def describe(case: C.Case, result: dict[str, Any] | str) -> str:
    if isinstance(result, str):
        return f"FAILED {result}"
    return ", ".join(f"{m.header} {m.derive(result):{m.fmt}}" for m in case.metrics)


def prepare_backlog(case: C.Case, folder: Path, sizes: C.Sizes) -> list[str]:
    """Fill the backlog files once (each in its own child); return lines for the report."""
    notes = []
    for entry in case.entries:
        n = sizes.backlog if entry.key == "big" else sizes.backlog_baseline
        path = folder / f"backlog-{entry.key}.db"
        log(f"filling {n:,} queued tasks ...")
        filled = run_child("jobsched", "backlog_fill", {"path": str(path), "n": n})
        if isinstance(filled, str):
            raise SystemExit(f"Error: could not fill the backlog file: {filled}")
        entry.params = {"source": str(path), "run_for": sizes.backlog_run_for}
        notes.append(
            f"filled {n:,} queued tasks in {filled['fill_s']:.1f} s "
            f"({n / filled['fill_s']:,.0f}/s, submit_many of 20,000), file {filled['file_mb']:,.0f} MB"
        )
    return notes


def run_cases(
    cases: list[C.Case], repeat: int, skipped: dict[str, str], sizes: C.Sizes, folder: Path
) -> tuple[report.Results, dict[str, list[str]]]:
    results: report.Results = {}
    notes: dict[str, list[str]] = {}
    for case in cases:
        if case.scenario == "backlog":
            notes[case.id] = prepare_backlog(case, folder, sizes)
        per_entry = results.setdefault(case.id, {})
        for round_ in range(1, repeat + 1):
            for entry in case.entries:  # interleaved: A B C ..., then again
                if entry.system in skipped:
                    continue
                t0 = time.perf_counter()
                params = dict(entry.params)
                source = params.pop("source", None)
                if source:  # every restart gets the same backlog: the runs drain some
                    params["path"] = str(folder / "restart.db")
                    shutil.copyfile(source, params["path"])
                result = run_child(entry.system, entry.func, params)
                if source:
                    for leftover in folder.glob("restart.db*"):
                        leftover.unlink()
                per_entry.setdefault(entry.key, []).append(result)
                log(
                    f"{case.id} round {round_}/{repeat} {entry.label}: {describe(case, result)}"
                    f" [{time.perf_counter() - t0:.1f} s]"
                )
    return results, notes


def git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    changed = git("status", "--porcelain", "--", "core", "storage")
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "commit": git("rev-parse", "HEAD"),
        "engine_changed": bool(changed),
        "load_before": os.getloadavg(),
    }


def header(info: dict[str, Any], mode: str, repeat: int) -> str:
    dirty = " (core/ or storage/ differ from it)" if info["engine_changed"] else ""
    load = "load average (1, 5, 15 min) at start " + " ".join(
        f"{x:.2f}" for x in info["load_before"]
    )
    if "load_after" in info:
        load += ", at end " + " ".join(f"{x:.2f}" for x in info["load_after"])
    return (
        f"jobsched benchmark, {mode} mode, {repeat} interleaved run(s) per system\n"
        f"machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}; "
        f"SQLite {info['sqlite']}; {info['platform']}\n"
        f"commit {info['commit'][:12]}{dirty}; {load}"
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="jobsched side by side with ThreadPoolExecutor, raw sqlite3, Huey and "
        "persist-queue, interleaved in one run."
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (about 2 minutes)")
    size.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one run, no optional peers (seconds)"
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per system (default 3)")
    parser.add_argument(
        "--scenario",
        nargs="+",
        action="extend",
        choices=C.SCENARIOS,
        metavar="NAME",
        help=f"only these scenarios ({', '.join(C.SCENARIOS)})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every run to FILE")
    parser.add_argument(
        "--profile",
        choices=("bulk", "one", "latency", "balancer"),
        metavar="NAME",
        help="profile jobsched's NAME scenario instead (bulk, one, latency, balancer)",
    )
    parser.add_argument(
        "--profile-all",
        action="store_true",
        help="with --profile and py-spy: sample every active thread, not only the GIL holder",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def profile_main(args: argparse.Namespace, sizes: C.Sizes) -> None:
    from bench.profiling import profile

    params: dict[str, Any] = {
        "bulk": {"n": sizes.bulk[-1]},
        "one": {"n": sizes.one},
        "latency": {
            "rate": sizes.latency_rate,
            "seconds": sizes.latency_seconds,
            "warm_up": sizes.warm_up,
        },
        "balancer": {"n": sizes.balancer},
    }[args.profile]
    info = machine()
    print(header(info, "profile", 1))
    print(f"\njobsched {args.profile} scenario, {json.dumps(params)}\n")
    print(profile(args.profile, params, gil=not args.profile_all))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = {"smoke": C.SMOKE, "quick": C.QUICK, "full": C.FULL}[mode]
    if args.profile:
        profile_main(args, sizes)
        return 0
    repeat = args.repeat or (1 if args.smoke else 3)
    peers = C.STDLIB_PEERS if args.smoke else C.PEERS
    skipped = {k: why for k in peers if (why := SYSTEMS[k].missing())}
    for key, why in skipped.items():
        log(f"skipping {SYSTEMS[key].label}: {why}")
    cases = C.build(sizes, args.scenario or list(C.SCENARIOS), peers)
    info = machine()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jobsched-bench-") as tmp:
        results, notes = run_cases(cases, repeat, skipped, sizes, Path(tmp))
    info["load_after"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - started
    summary = report.summaries(cases, results)
    verdicts = report.targets(cases, summary, sizes.backlog)

    print(header(info, mode, repeat))
    print(f"wall time {info['seconds']:.0f} s\n")
    for case in cases:
        print(report.table(case, results, summary[case.id], skipped))
        for note in notes.get(case.id, []):
            print(note)
        print()
    print("**Targets** (medians; a comparison with a peer uses the per-round ratios):\n")
    print(report.targets_table(verdicts))

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "mode": mode,
                    "repeat": repeat,
                    "skipped": skipped,
                    "cases": [
                        {
                            "id": case.id,
                            "title": case.title,
                            "entries": {
                                e.key: {
                                    "label": e.label,
                                    "system": e.system,
                                    "params": {k: v for k, v in e.params.items() if k != "source"},
                                    "runs": results.get(case.id, {}).get(e.key, []),
                                    "median": {
                                        k: s.median for k, s in summary[case.id][e.key].items()
                                    },
                                }
                                for e in case.entries
                            },
                        }
                        for case in cases
                    ],
                    "targets": [t.__dict__ for t in verdicts],
                },
                indent=2,
            )
        )
        log(f"wrote {args.json}")
    failed = any(isinstance(r, str) for per in results.values() for rs in per.values() for r in rs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
