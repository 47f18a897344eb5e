"""What the suite needs to run in parallel under pytest-xdist (``-n`` in pyproject.toml).

Loaded by ``tests/conftest.py``; every hook also works without xdist (``-n 0``):

- the slow tests (``@pytest.mark.slow``: real processes, seconds each) are collected
  first, the longest first (``@pytest.mark.slow(seconds=N)``; 5 when not given), so that
  the workers start on them and the quick ones fill in around them (``--dist worksteal``
  in pyproject.toml moves queued tests from a busy worker to an idle one);
- each worker's temporary directory is ``<basetemp>/gwN`` instead of
  ``<basetemp>/popen-gwN``: error messages shorten the values they name to 80 characters,
  and tests check that a message names the file under ``tmp_path``, which must stay as
  short as in a serial run;
- unused snapshots still fail the run. syrupy works them out only in a serial run: each
  worker knows the snapshots it used, never what the others used. Each worker sends
  its list of used and (to its knowledge) unused snapshots to the controller, which
  reports those that no worker used and fails the run, as syrupy does in a serial one.

PostgreSQL isolation (a database per worker) is in ``tests/conftest.py``'s ``pg_url``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

_OUTPUT_KEY = "jobsched_snapshots"
_EXIT_UNUSED = 1  # syrupy's exit status for unused snapshots

Snapshot = tuple[str, str]  # (location, name)
_used_key = pytest.StashKey[set[Snapshot]]()
_unused_key = pytest.StashKey[set[Snapshot]]()
_report_key = pytest.StashKey[list[Snapshot]]()


def _worker() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # xdist hands each worker <basetemp>/popen-gwN before pytest's tmpdir plugin reads it.
    worker, basetemp = _worker(), config.option.basetemp
    if worker is not None and basetemp and Path(basetemp).name == f"popen-{worker}":
        config.option.basetemp = str(Path(basetemp).with_name(worker))
    config.stash[_used_key] = set()
    config.stash[_unused_key] = set()


SLOW_DEFAULT = 5.0  # seconds, for a slow test that does not say


def _expected_seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return 0.0 if marker is None else float(marker.kwargs.get("seconds", SLOW_DEFAULT))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every worker must collect the same order (xdist requires it): sorts are stable and
    # depend on the items alone.
    items.sort(key=lambda item: -_expected_seconds(item))
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    items[:] = _deal(items, workers)


def _deal(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """``items`` (slow ones first, longest first) as ``workers`` consecutive runs that
    ``--dist worksteal`` hands out one per worker, each starting with its share of the slow
    tests: each slow test goes to the run with the fewest expected seconds so far, and the
    quick ones fill the runs up to worksteal's equal split (the last run takes the rest)."""
    if workers <= 1:
        return items
    sizes, left = [], len(items)
    for remaining in range(workers, 0, -1):  # worksteal: len(pending) // nodes_remaining
        sizes.append(left // remaining)
        left -= sizes[-1]
    runs: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    quick = []
    for item in items:
        seconds = _expected_seconds(item)
        open_runs = [i for i in range(workers) if len(runs[i]) < sizes[i]]
        if seconds == 0 or not open_runs:
            quick.append(item)
            continue
        target = min(open_runs, key=lambda i: (load[i], i))
        runs[target].append(item)
        load[target] += seconds
    for i in range(workers):
        room = sizes[i] - len(runs[i])
        runs[i].extend(quick[:room])
        quick = quick[room:]
    return [item for run in runs for item in run]


# --- unused snapshots across workers ---------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a worker: send what syrupy saw (its report was made by its own, earlier,
    ``pytest_sessionfinish``). On the controller: fail on snapshots no worker used."""
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_OUTPUT_KEY] = _worker_snapshots(config)
        return
    unused = config.stash[_unused_key] - config.stash[_used_key]
    if not unused:
        return
    # Reported even with --snapshot-update: under xdist syrupy does not delete them.
    config.stash[_report_key] = sorted(unused)
    if not config.getoption("update_snapshots", False) and not config.getoption(
        "warn_unused_snapshots", False
    ):
        session.exitstatus = int(session.exitstatus) | _EXIT_UNUSED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the controller, as each xdist worker finishes: merge its snapshot lists."""
    sent = getattr(node, "workeroutput", {}).get(_OUTPUT_KEY)
    if sent is not None:
        node.config.stash[_used_key].update(map(tuple, sent["used"]))
        node.config.stash[_unused_key].update(map(tuple, sent["unused"]))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    unused = config.stash.get(_report_key, [])
    if not unused:
        return
    terminalreporter.section("unused snapshots (all xdist workers)")
    for location, name in unused:
        where = Path(location)
        if where.is_relative_to(config.rootpath):
            where = where.relative_to(config.rootpath)
        terminalreporter.write_line(f"unused: {name} ({where})")
    terminalreporter.write_line(
        f"{len(unused)} snapshot(s) unused. Delete them, or run `python -m pytest -n 0 "
        "--snapshot-update` (syrupy deletes unused snapshots only in a serial run)."
    )


def _worker_snapshots(config: pytest.Config) -> dict[str, list[Snapshot]]:
    syrupy = getattr(config, "_syrupy", None)
    if syrupy is None:  # syrupy not loaded (-p no:syrupy): nothing to check
        return {"used": [], "unused": []}
    # syrupy's own report of this worker's part of the run (syrupy's internals: a change
    # there fails here loudly, with an AttributeError, rather than passing unused snapshots).
    report = syrupy.report
    used = [(c.location, s.name) for c in report.used for s in c]
    # A snapshot of a test skipped here is kept, as in a serial run.
    skipped = {
        (c.location, s.name)
        for c in report.discovered
        for s in c
        if report._skipped_items_match_name(snapshot_location=c.location, snapshot_name=s.name)
    }
    unused = [(c.location, s.name) for c in report.unused for s in c]
    return {"used": used + sorted(skipped), "unused": unused}
