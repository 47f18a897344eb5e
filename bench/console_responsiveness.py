"""Console responsiveness on a big store: with 200,000 queued tasks and a node draining
them, how soon does the console show the result of a key, and how much CPU does it use?

    python bench/console_responsiveness.py [--tasks 200000] [--seconds 10] [--presses 6]
    python bench/console_responsiveness.py --baseline main --rounds 2   # before/after

Each run is a child process on a tree of this repository (this one, and with
``--baseline REV`` that commit too, exported by ``git archive``; runs alternate between
the trees, round by round): it fills a SQLite file with ``--tasks`` no-op tasks (through
the store, in batches), starts a node in a grandchild process that drains them (at
``--rate`` per category, 2000/s by default, so that the queue lasts the whole run), and runs
the console headless, attached to the same file (``jobsched console --attach``), on its
usual timer. It measures the console process's CPU over ``--seconds`` with no key
pressed, as a share of one core, then presses each kind of key ``--presses`` times, the
kinds in turn, and for each press the time until the task list shows its result, read
from the store:

- ``order``: ``o``; the list is in the other order;
- ``next page`` / ``prev page``: ``]`` then ``[``; the rows are those after (before) the
  page's first id;
- ``filter state`` / ``filter cat`` / ``filter word`` / ``filter id``: ``/``, then the
  filter typed a key every 60 ms (``state:succeeded`` or ``state:queued``, ``cat:a`` or
  ``cat:b``, ``nothing-like-it``, ``id:N``), timed from its last key, as every key before
  it re-reads the list too; every row shown matches (for the word: none does);
- ``go to id``: ``g``, an id, ``enter``; the list starts at that id.

A filter read row by row (the word) may show the rows it found so far while it still
searches (the panel says so): ``filter word, whole`` is the time until the list shows the
whole answer, the search done (the same as ``filter word`` in a tree that shows no part).

It prints, per tree and kind, the median and the slowest time over every press, and the
console's CPU share while idle and while the keys were pressed. ``--inside`` runs the node
inside the console process instead (``jobsched console``; the CPU is then mostly the
node's).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import logging
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GAP = 0.06  # seconds between the keys of a typed filter or id
TIMEOUT = 5.0  # a press whose result does not show within this counts as infinite
KINDS = ("order", "next page", "prev page", "filter state", "filter cat", "filter word",
         "filter id", "go to id")  # fmt: skip
WHOLE = "filter word, whole"  # measured with "filter word": until its search is done
KEY_NAMES = {"/": "slash", ":": "colon", "]": "right_square_bracket",
             "[": "left_square_bracket", "-": "minus"}  # fmt: skip


def use_tree(tree: Path) -> None:
    """Import ``jobsched`` from ``tree``: its ``core``, ``storage`` and ``console``, even
    where an editable install of another tree maps them (``jobsched/__init__.py`` imports
    ``jobsched.core`` itself, so the package's path must name ``tree`` before it runs)."""
    spec = importlib.util.spec_from_file_location(
        "jobsched",
        tree / "jobsched" / "__init__.py",
        submodule_search_locations=[str(tree / "jobsched"), str(tree)],
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"{tree} has no jobsched package")
    package = importlib.util.module_from_spec(spec)
    sys.modules["jobsched"] = package
    spec.loader.exec_module(package)
    import jobsched.core

    if not str(Path(jobsched.core.__file__ or "").resolve()).startswith(str(tree)):
        raise SystemExit(f"imported jobsched.core from {jobsched.core.__file__}, not {tree}")


def config(rate: str | None = None) -> Any:
    from jobsched.core import CategoryConfig, SchedulerConfig

    return SchedulerConfig(
        workers=4,
        categories={name: CategoryConfig(min_workers=1, rate=rate) for name in ("a", "b")},
        grace_period=1.0,
    )


def fill(path: Path, tasks: int) -> None:
    from jobsched.core.task import NewTask
    from jobsched.storage import open_store

    store = open_store(path)
    store.open()
    now = time.time()
    batch = 10_000
    for start in range(0, tasks, batch):
        category = "a" if (start // batch) % 2 == 0 else "b"
        row = NewTask(f"{category}.noop", category, "null", now, 3, None, None)
        store.insert([row] * min(batch, tasks - start), now)
    store.close()


def make_node(path: Path, rate: str | None) -> Any:
    from jobsched.core import Scheduler
    from jobsched.storage import open_store

    sched = Scheduler(config(rate), open_store(path))
    sched.handler("a.noop")(lambda payload: None)
    sched.handler("b.noop")(lambda payload: None)
    return sched


def run_node(path: Path, rate: str | None) -> None:
    """The grandchild: a node that drains the file until its parent closes its stdin."""
    sched = make_node(path, rate)
    sched.start()
    sys.stdin.read()
    sched.stop(grace=0)


# --- pressing keys ------------------------------------------------------------------------
class Presses:
    """Keys sent to the headless app as a terminal delivers them, and the moments the task
    list took rows: a press's result shows when the list took rows after it and they
    match it. (A read of a window that has since moved is never shown, in either tree.)"""

    def __init__(self, app: Any, tasks: int) -> None:
        self.app, self.tasks = app, tasks
        self.updated = 0.0
        self.whole: list[float | None] = []
        table = app.main.task_table
        update = table.update_tasks

        def updated(*args: Any, **kwargs: Any) -> None:
            update(*args, **kwargs)
            self.updated = time.perf_counter()

        table.update_tasks = updated

    def send(self, key: str) -> float:
        """One key, queued at once like a real one; the moment it was sent."""
        from textual import events

        event = events.Key(KEY_NAMES.get(key, key), key if len(key) == 1 else None)
        event.set_sender(self.app)
        self.app._driver.send_message(event)
        return time.perf_counter()

    async def typed(self, text: str) -> float:
        """Type ``text``, a key every GAP seconds; the moment of its last key."""
        for char in text[:-1]:
            self.send(char)
            await asyncio.sleep(GAP)
        return self.send(text[-1])

    async def shown(self, since: float, condition: Callable[[], bool]) -> float | None:
        """Seconds from ``since`` to the list's taking rows that pass ``condition``, or
        None if that does not happen within TIMEOUT."""
        while time.perf_counter() - since < TIMEOUT:
            try:
                if self.updated > since and condition():
                    return self.updated - since
            except (KeyError, ValueError):  # a row went away while it was read
                pass
            await asyncio.sleep(0.002)
        return None

    def keys(self) -> list[int]:
        return [int(k) for k in self.app.main.task_table.keys_in_order()]

    def cells(self, column: str) -> set[str]:
        table = self.app.main.task_table
        return {table.cell_text(k, column) for k in table.keys_in_order()}

    async def unfiltered(self) -> None:
        """Clear the filter (escape) and give the list time to show every task again."""
        if self.app.window.text or self.app.main.filter_input.display:
            self.send("escape")
            await asyncio.sleep(0.5)

    async def press(self, kind: str, n: int) -> float | None:
        """Press one ``kind`` of key (its ``n``-th time); seconds until its result shows."""
        await self.unfiltered()
        if kind.startswith("filter"):
            return await self.press_filter(kind, n)
        window = self.app.window
        newest = window.order == "newest"
        if kind == "order":
            at = self.send("o")
            return await self.shown(
                at, lambda: len(self.keys()) > 1 and (self.keys()[0] > self.keys()[1]) != newest
            )
        if kind == "next page":
            at = self.send("]")
            return await self.shown(
                at, lambda: window.after is not None and bool(self.keys())
                and all((k < window.after) == newest for k in self.keys())
            )  # fmt: skip
        if kind == "prev page":
            start = window.after
            at = self.send("[")
            return await self.shown(
                at, lambda: start is not None and bool(self.keys())
                and all(k >= start if newest else k <= start for k in self.keys())
            )  # fmt: skip
        target = (self.tasks // 3, self.tasks // 4)[n % 2]  # never the page on screen
        self.send("g")
        await asyncio.sleep(0.3)
        await self.typed(str(target))
        await asyncio.sleep(GAP)
        at = self.send("enter")
        return await self.shown(at, lambda: self.keys()[:1] == [target])

    async def press_filter(self, kind: str, n: int) -> float | None:
        state, category, task_id = ("succeeded", "queued")[n % 2], "ab"[n % 2], self.tasks // 5 + n
        text, check = {
            "filter state": (f"state:{state}", lambda: self.cells("state") == {state}),
            "filter cat": (f"cat:{category}", lambda: self.cells("category") == {category}),
            "filter word": ("nothing-like-it", lambda: not self.keys()),
            "filter id": (f"id:{task_id}", lambda: self.keys() == [task_id]),
        }[kind]  # fmt: skip
        self.send("/")
        await asyncio.sleep(0.3)
        at = await self.typed(text)
        taken = await self.shown(at, lambda: bool(self.keys() or kind == "filter word") and check())
        if kind == "filter word":
            reads = self.app.list_reads
            self.whole.append(
                await self.shown(at, lambda: getattr(reads, "complete", True) and check())
            )
        self.send("enter")
        return taken


def console_run(source: Any, seconds: float, presses: int, tasks: int) -> dict[str, Any]:
    from jobsched.console.compose import build_app

    app = build_app(source)

    async def main() -> dict[str, Any]:
        async with app.run_test(size=(160, 48)):
            await asyncio.sleep(1.0)
            cpu0, wall0, refreshes = time.process_time(), time.perf_counter(), app.refreshes
            await asyncio.sleep(seconds)
            wall = time.perf_counter() - wall0
            idle = {"cpu": (time.process_time() - cpu0) / wall,
                    "hz": (app.refreshes - refreshes) / wall}  # fmt: skip
            keys = Presses(app, tasks)
            times: dict[str, list[float | None]] = {kind: [] for kind in KINDS}
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for n in range(presses):
                for kind in KINDS:
                    times[kind].append(await keys.press(kind, n))
                    await asyncio.sleep(0.3)
            busy = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
            times[WHOLE] = keys.whole
            return {"idle": idle, "cpu_keys": busy, "times": times}

    return asyncio.run(main())


def run_tree(args: argparse.Namespace) -> dict[str, Any]:
    """The child: one run on the tree it was started for; a JSON line on stdout."""
    from jobsched.core import Client
    from jobsched.storage import open_store

    logging.getLogger("jobsched").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        fill(path, args.tasks)
        if args.inside:
            from jobsched.console.local import LocalNode

            source: Any = LocalNode(make_node(path, args.rate))
            node = None
        else:
            from jobsched.console.view import AttachedView

            command = [sys.executable, __file__, "--node", str(path), "--tree", args.tree,
                       "--rate", args.rate or "none"]  # fmt: skip
            node = subprocess.Popen(command, stdin=subprocess.PIPE)
            time.sleep(1.0)  # the node is up and claiming
            source = AttachedView(Client(config(), open_store(path)))
        source.start()
        try:
            result = console_run(source, args.seconds, args.presses, args.tasks)
        finally:
            source.stop(0)
            if node is not None:
                node.communicate(timeout=60)
        left = Client(config(), open_store(path))
        left.store.open()
        result["queued_after"] = sum(per.get("queued", 0) for per in left.counts().values())
        left.store.close()
    return result


# --- the parent ----------------------------------------------------------------------------
def export(rev: str, folder: Path) -> Path:
    """``rev`` of this repository as files under ``folder`` (``git archive``)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev], capture_output=True, check=True
    ).stdout
    target = folder / "baseline"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def child(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--run", "--tree", str(tree), "--tasks", str(args.tasks),
               "--seconds", str(args.seconds), "--presses", str(args.presses),
               "--rate", args.rate or "none"]  # fmt: skip
    if args.inside:
        command.append("--inside")
    out = subprocess.run(command, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"the run on {tree} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ms(value: float | None) -> str:
    return "timed out" if value is None else f"{1000 * value:.0f}"


def slow(run: dict[str, Any]) -> float:
    """Presses (of KINDS) whose result took over 0.2 s or never showed."""
    return float(sum(t is None or t > 0.2 for kind in KINDS for t in run["times"][kind]))


def report(results: dict[str, list[dict[str, Any]]]) -> None:
    names = list(results)
    print("| key | " + " | ".join(f"{n}: p50 / max ms" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for kind in (*KINDS, WHOLE):
        row = []
        for name in names:
            times = [t for run in results[name] for t in run["times"].get(kind, [])]
            done = sorted(t for t in times if t is not None)
            worst = None if len(done) < len(times) else done[-1]
            row.append(f"{ms(statistics.median(done) if done else None)} / {ms(worst)}")
        print(f"| {kind} | " + " | ".join(row) + " |")
    for label, pick in (("console CPU idle, % of a core", lambda r: 100 * r["idle"]["cpu"]),
                        ("console CPU with keys, % of a core", lambda r: 100 * r["cpu_keys"]),
                        ("presses over 200 ms", slow),
                        ("refreshes /s", lambda r: r["idle"]["hz"]),
                        ("queued after the run", lambda r: r["queued_after"])):  # fmt: skip
        cells = [", ".join(f"{pick(run):.1f}" for run in results[name]) for name in names]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="idle CPU window")
    parser.add_argument("--presses", type=int, default=6, help="presses of each kind of key")
    parser.add_argument(
        "--rate", default="2000/s", help="each category's drain rate (none: as fast as it goes)"
    )
    parser.add_argument("--baseline", metavar="REV", help="also run this commit, alternating")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--inside", action="store_true", help="the node in the console process")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)  # the child
    parser.add_argument("--node", help=argparse.SUPPRESS)  # the grandchild
    parser.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rate = None if args.rate == "none" else args.rate
    if args.node or args.run:
        use_tree(Path(args.tree).resolve())
        if args.node:
            run_node(Path(args.node), args.rate)
        else:
            print(json.dumps(run_tree(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT}
        if args.baseline:
            trees = {f"baseline {args.baseline}": export(args.baseline, Path(tmp)), **trees}
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                print(f"round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
                results[name].append(child(tree, args))
    where = "inside the console" if args.inside else "attached"
    print(f"{args.tasks:,} tasks, a node {where} draining {args.rate or 'at full speed'} per "
          f"category, {args.presses} presses of each key per run, {args.rounds} run(s) per tree\n")  # fmt: skip
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
