"""Console responsiveness on a big store: with 200,000 queued tasks and a node draining
them, how soon does the console show a key press, and how much CPU does it use?

    python bench/console_responsiveness.py [--tasks 200000] [--seconds 10] [--presses 20]

A node runs in a child process on a SQLite file pre-filled with ``--tasks`` no-op tasks
(inserted through the store in batches) and drains them; this process runs the console
headless, attached to the same file (``jobsched console --attach``), refreshing on its
usual timer. It presses ``o`` (order of the task list) ``--presses`` times, half a second
apart, and measures for each press the time until the task panel's title shows it and
until the task list was re-read from the store and shown. Separately it measures the
console process's CPU time over ``--seconds`` of refreshing with no key pressed, as a
share of one core. A second pass runs the node inside the console (``jobsched console``)
for the key latencies only (there the process's CPU is mostly the node's).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobsched.core import CategoryConfig, Client, Scheduler, SchedulerConfig  # noqa: E402
from jobsched.core.task import NewTask  # noqa: E402

CONFIG = SchedulerConfig(
    workers=4,
    categories={"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)},
    grace_period=1.0,
)


def fill(path: Path, tasks: int) -> None:
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


def make_node(path: Path) -> Scheduler:
    from jobsched.storage import open_store

    sched = Scheduler(CONFIG, open_store(path))
    sched.handler("a.noop")(lambda payload: None)
    sched.handler("b.noop")(lambda payload: None)
    return sched


def run_node(path: Path, seconds: float) -> None:
    """The child process: a node that drains the file for ``seconds``."""
    sched = make_node(path)
    sched.start()
    time.sleep(seconds)
    sched.stop(grace=0)


async def press_latencies(app: Any, pilot: Any, presses: int) -> tuple[list[float], list[float]]:
    """Per press of ``o``: seconds until the title shows it, and until the list shows it."""
    from textual import events

    titles: list[float] = []
    lists: list[float] = []
    for _ in range(presses):
        await asyncio.sleep(0.5)
        order = "oldest" if app.window.order == "newest" else "newest"
        title = f"Tasks · {order} first"
        shown_before = app.refreshes
        t0 = time.perf_counter()
        event = events.Key("o", "o")
        event.set_sender(app)
        app._driver.send_message(event)
        title_at = list_at = None
        while list_at is None and time.perf_counter() - t0 < 5:
            await asyncio.sleep(0.002)
            panel_title = str(app.main.query_one("#task-panel").border_title)
            if title_at is None and panel_title.startswith(title):
                title_at = time.perf_counter() - t0
            keys = app.main.task_table.keys_in_order()
            ordered = len(keys) > 1 and (int(keys[0]) < int(keys[1])) == (order == "oldest")
            if title_at is not None and ordered and app.refreshes > shown_before:
                list_at = time.perf_counter() - t0
        titles.append(title_at if title_at is not None else float("inf"))
        lists.append(list_at if list_at is not None else float("inf"))
    return titles, lists


def console_run(source: Any, seconds: float, presses: int) -> dict[str, Any]:
    from jobsched.console.compose import build_app

    app = build_app(source)

    async def main() -> dict[str, Any]:
        async with app.run_test(size=(160, 48)) as pilot:
            await asyncio.sleep(1.0)
            cpu0, wall0, refreshes = time.process_time(), time.perf_counter(), app.refreshes
            await asyncio.sleep(seconds)
            wall = time.perf_counter() - wall0
            cpu = (time.process_time() - cpu0) / wall
            hz = (app.refreshes - refreshes) / wall
            titles, lists = await press_latencies(app, pilot, presses)
            return {"cpu": cpu, "hz": hz, "titles": titles, "lists": lists}

    return asyncio.run(main())


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name}: median {1000 * statistics.median(values):.0f} ms, "
        f"max {1000 * max(values):.0f} ms over {len(values)} presses"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--node", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    logging.getLogger("jobsched").setLevel(logging.ERROR)
    if args.node:
        run_node(Path(args.node), args.seconds)
        return
    from jobsched.console.local import LocalNode
    from jobsched.console.view import AttachedView
    from jobsched.storage import open_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        t0 = time.perf_counter()
        fill(path, args.tasks)
        print(f"{args.tasks:,} queued tasks inserted in {time.perf_counter() - t0:.1f} s")
        budget = args.seconds + args.presses * 0.8 + 15
        child = subprocess.Popen(
            [sys.executable, __file__, "--node", str(path), "--seconds", str(budget)]
        )
        try:
            time.sleep(1.0)  # the node is up and claiming
            view = AttachedView(Client(CONFIG, open_store(path)))
            view.start()
            try:
                attached = console_run(view, args.seconds, args.presses)
            finally:
                view.stop()
        finally:
            child.wait(timeout=budget + 30)
        left = Client(CONFIG, open_store(path))
        left.store.open()
        queued = sum(per.get("queued", 0) for per in left.counts().values())
        left.store.close()
        print(f"attached console, node draining in another process ({queued:,} still queued after)")
        print(f"  console CPU: {100 * attached['cpu']:.1f} % of one core, "
              f"refreshing {attached['hz']:.2f}/s")  # fmt: skip
        print("  " + summary("key to title", attached["titles"]))
        print("  " + summary("key to re-read list", attached["lists"]))

        fill(path, args.tasks)
        local = LocalNode(make_node(path))
        local.start()
        try:
            inside = console_run(local, 2.0, args.presses)
        finally:
            local.stop(0)
        print("console with the node inside it, draining")
        print(f"  process CPU (node and console): {100 * inside['cpu']:.1f} % of one core")
        print("  " + summary("key to title", inside["titles"]))
        print("  " + summary("key to re-read list", inside["lists"]))


if __name__ == "__main__":
    main()
