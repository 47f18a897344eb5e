"""Where a jobsched scenario spends its time: ``python bench/run.py --profile bulk``.

With py-spy installed (``pip install py-spy``; not a project dependency) the scenario's
child process is sampled with ``--gil``: only the thread holding the GIL is counted, so
the figures say where Python time goes, across every thread. SQLite's own work runs with
the GIL released and does not appear; ``--profile-all`` samples every active thread
instead. Without py-spy, cProfile runs in every thread of the child (slower, and its
overhead inflates small functions).
"""

from __future__ import annotations

import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r":\d+\)$")
#: cProfile counts blocking as own time; these are waits, not work.
WAITS = ("acquire' of '_thread", "time.sleep")
#: Thread bodies, recognised by a frame of their stack.
ROLES = (
    ("_find_and_load", "start-up (imports)"),
    ("Dispatcher.loop", "dispatcher"),
    ("Completer.loop", "completer"),
    ("Housekeeper.loop", "housekeeper"),
    ("Worker.loop", "workers"),
    ("bench/child.py", "main thread (submits, waits)"),
)


def pyspy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def child_command(func: str, params: dict[str, object]) -> list[str]:
    return [sys.executable, "-m", "bench.child", "jobsched", func, json.dumps(params)]


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path)


def role(frames: list[str]) -> str:
    for needle, name in ROLES:
        if any(needle in frame for frame in frames):
            return name
    return "other threads"


def function(frame: str) -> str:
    """``"Worker.run_once (core/pool.py:71)"`` -> ``"Worker.run_once (core/pool.py)"``."""
    return LINE.sub(")", frame)


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f for f in stack.split(";") if not f.startswith("thread (")]
            stacks.append((frames or ["(no Python frame)"], int(count)))
    return stacks


def report_raw(stacks: list[tuple[list[str], int]], top: int) -> str:
    total = sum(n for _, n in stacks)
    if not total:
        return "no samples"
    roles: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in stacks:
        who = role(frames)
        roles[who] += n
        if who.startswith("start-up"):
            continue
        own[function(frames[-1])] += n
        for name in {function(f) for f in frames}:
            if "(core/" in name or "(storage/" in name:
                inclusive[name] += n
    lines = [f"{total:,} samples", "", "| thread | share |", "|---|---:|"]
    lines += [f"| {who} | {100 * n / total:.1f} % |" for who, n in roles.most_common()]
    run = sum(own.values()) or 1  # the percentages below leave start-up imports out
    lines += [
        "",
        f"Top {top} functions by own time, in % of the samples after start-up:",
        "",
        "| # | function | own |",
        "|---:|---|---:|",
    ]
    lines += [
        f"| {i} | `{name}` | {100 * n / run:.1f} % |"
        for i, (name, n) in enumerate(own.most_common(top), 1)
    ]
    lines += [
        "",
        f"Top {top} jobsched functions by total time (own + callees), same basis:",
        "",
        "| # | function | total |",
        "|---:|---|---:|",
    ]
    lines += [
        f"| {i} | `{name}` | {100 * n / run:.1f} % |"
        for i, (name, n) in enumerate(inclusive.most_common(top), 1)
    ]
    return "\n".join(lines)


def with_pyspy(spy: str, func: str, params: dict[str, object], top: int, gil: bool) -> str:
    with tempfile.TemporaryDirectory(prefix="jobsched-profile-") as tmp:
        out = Path(tmp) / "stacks.txt"
        command = [spy, "record", "--format", "raw", "--rate", "200", "--threads", "-o", str(out)]
        if gil:
            command.append("--gil")
        subprocess.run(
            [*command, "--", *child_command(func, params)],
            cwd=ROOT,
            env=child_env(),
            check=True,
            capture_output=True,
            text=True,
        )
        how = "py-spy --gil (GIL holders only)" if gil else "py-spy (every active thread)"
        return f"Profiled with {how}, 200 samples/s.\n\n" + report_raw(read_raw(out), top)


def with_cprofile(func: str, params: dict[str, object], top: int) -> str:
    with tempfile.TemporaryDirectory(prefix="jobsched-profile-") as tmp:
        out = Path(tmp) / "profile.pstats"
        env = dict(child_env(), BENCH_CPROFILE=str(out))
        subprocess.run(
            child_command(func, params), cwd=ROOT, env=env, check=True, capture_output=True
        )
        stats = pstats.Stats(str(out))
        rows = sorted(
            ((k, v) for k, v in stats.stats.items() if not any(w in k[2] for w in WAITS)),  # type: ignore[attr-defined]
            key=lambda kv: kv[1][2],
            reverse=True,
        )
        total = sum(v[2] for _, v in rows) or 1.0
        lines = [
            "Profiled with cProfile in every thread (py-spy is not installed); time spent",
            "blocked on locks and in sleep is left out.",
            "",
            "| # | function | own s | own |",
            "|---:|---|---:|---:|",
        ]
        for i, ((file, line, name), v) in enumerate(rows[:top], 1):
            where = os.path.relpath(file, ROOT) if file.startswith(str(ROOT)) else Path(file).name
            lines.append(
                f"| {i} | `{name} ({where}:{line})` | {v[2]:.2f} | {100 * v[2] / total:.1f} % |"
            )
        return "\n".join(lines)


def profile(func: str, params: dict[str, object], top: int = 25, gil: bool = True) -> str:
    """Run jobsched's ``func`` scenario once under a profiler; a Markdown report."""
    spy = pyspy()
    if spy:
        return with_pyspy(spy, func, params, top, gil)
    return with_cprofile(func, params, top)


def cprofile_threads(out: str) -> Callable[[], None]:
    """Profile every thread of this process; returns a callable that writes the merged
    stats to ``out`` (``bench/child.py`` calls this when ``BENCH_CPROFILE`` is set)."""
    import cProfile
    import threading

    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    profiles.append(main)
    main.enable()

    def finish() -> None:
        main.disable()
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
        stats.dump_stats(out)

    return finish
