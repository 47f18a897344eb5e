"""Control characters in task text and store rows never reach the terminal as such.

Given a real SQLite file whose rows hold terminal control sequences (clear screen, blink,
an OSC 52 clipboard write, C1 controls, DEL, a carriage return, bidirectional overrides)
in the error, result, payload, handler, category, node and host names, every printer of
the CLI and of the console shows them escaped, and ``--json`` stays valid JSON that
parses back to the stored text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from pathlib import Path

import pytest
from jobsched.console.escape import json_text, visible
from jobsched.console.screens.detail import TaskDetailScreen, detail_renderable
from jobsched.core import CategoryConfig, FakeClock, Scheduler, SchedulerConfig
from jobsched.core.counters import NodeCounters
from jobsched.core.task import NewTask, NodeInfo, Outcome
from jobsched.storage import open_store
from rich.console import Console

from .app_support import make_app, ready, screen_text, settle
from .cli_support import Cli, make_cli, one_line_error

pytestmark = pytest.mark.timeout(60)

CLEAR = "\x1b[2J"
BLINK = "\x1b[5m"
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"
HOSTILE = f"boom{CLEAR}{BLINK}{CLIPBOARD}\x9b31m\x7f\rover\u202egnp.exe\u2066x"
#: Characters a terminal must never receive from task or store text.
UNSAFE = {chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} - {"\n", "\t"}
UNSAFE |= {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def assert_safe(text: str) -> None:
    found = sorted({repr(ch) for ch in text if ch in UNSAFE})
    assert not found, f"raw control characters reached the terminal: {found}"


def hostile_rows(db: Path) -> dict[str, int]:
    """A failed task and a succeeded one with hostile text everywhere, a category and a
    node named with control sequences: what a foreign program may have written."""
    store = open_store(str(db))
    store.open("writer")
    try:
        now = 1_700_000_000.0
        payload = json.dumps({"note": HOSTILE})
        failed, done = store.insert(
            [NewTask(f"a.x{CLEAR}", "a", payload, now, 1), NewTask("a.y", f"c{BLINK}", payload, now, 1)],
            now,
        )  # fmt: skip
        for category in ("a", f"c{BLINK}"):
            store.claim(category, 5, "writer", now)
        store.finish(
            [
                Outcome(failed, "writer", 1, "failed", now + 1, error=f"Traceback\n{HOSTILE}", reason="error"),
                Outcome(done, "writer", 1, "succeeded", now + 1, result=json.dumps({"r": HOSTILE})),
            ]
        )  # fmt: skip
        store.heartbeat(
            NodeInfo(f"node{CLEAR}", f"host{CLIPBOARD}", 1, now, now, 4, counters=NodeCounters(targets={"a": 4}))
        )  # fmt: skip
        store.add_decision(now, {"at": now, "trigger": f"t{BLINK}", "changes": [f"a {CLEAR}"]})
    finally:
        store.close()
    return {"failed": failed, "done": done}


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Cli, dict[str, int]]:
    cli = make_cli(tmp_path)
    return cli, hostile_rows(cli.db)


def test_show_escapes_control_characters(hostile: tuple[Cli, dict[str, int]]) -> None:
    cli, ids = hostile
    for task_id in ids.values():
        result = cli("show", str(task_id))
        assert result.exit_code == 0, result.stderr
        assert_safe(result.stdout + result.stderr)
        assert "\\u202e" in result.stdout
    shown = cli("show", str(ids["failed"])).stdout
    assert "boom\\x1b[2J" in shown and "handler: a.x\\x1b[2J" in shown
    assert "Traceback\n" in shown  # the traceback keeps its lines


def test_json_output_escapes_c1_and_bidi_and_parses_back(
    hostile: tuple[Cli, dict[str, int]],
) -> None:
    cli, ids = hostile
    for args in (("show", str(ids["failed"])), ("show", str(ids["done"])), ("tasks",), ("status",)):
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.stderr
        assert_safe(result.stdout.replace("\n", ""))
        json.loads(result.stdout)
    data = cli.json("show", str(ids["done"]))
    assert data["result"] == {"r": HOSTILE} and data["payload"] == {"note": HOSTILE}


def test_result_escapes_the_error_line_and_the_value(hostile: tuple[Cli, dict[str, int]]) -> None:
    cli, ids = hostile
    failed = cli("result", str(ids["failed"]))
    line = one_line_error(failed, 1, "failed")
    assert_safe(failed.stdout + failed.stderr)
    assert "\\u202e" in line
    done = cli("result", str(ids["done"]))
    assert done.exit_code == 0 and json.loads(done.stdout) == {"r": HOSTILE}
    assert_safe(done.stdout)


def test_tasks_and_status_escape_names_from_the_store(hostile: tuple[Cli, dict[str, int]]) -> None:
    cli, _ = hostile
    for args in (("tasks",), ("status",)):
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        assert_safe(result.stdout + result.stderr)
    assert "host\\x1b]52" in cli("status").stdout


def test_log_lines_of_the_node_are_escaped(tmp_path: Path) -> None:
    from jobsched.console.commands.node import _VisibleFormatter

    record = logging.LogRecord(
        "jobsched", logging.WARNING, __file__, 1, "task %s: %s", ("x", HOSTILE), None
    )
    line = _VisibleFormatter("%(message)s").format(record)
    assert_safe(line)
    assert "\\x1b[2J" in line


def test_visible_keeps_layout_only_when_asked() -> None:
    assert visible("a\nb\tc\r") == "a\\x0ab\\x09c\\x0d"
    assert visible("a\nb\tc\r", multiline=True) == "a\nb\tc\\x0d"
    assert json.loads(json_text({"k": HOSTILE})) == {"k": HOSTILE}


def sqlite_scheduler(db: Path) -> tuple[Scheduler, FakeClock]:
    config = SchedulerConfig(
        workers=2, categories={"a": CategoryConfig(), "b": CategoryConfig()}, cooldown=0
    )
    clock = FakeClock(1_700_000_100.0)
    sched = Scheduler(
        config, open_store(str(db)), clock=clock, threaded=False, node_id="viewer", rng=random.Random(1)
    )  # fmt: skip
    sched.start()
    return sched, clock


def test_console_lists_and_detail_escape_control_characters(tmp_path: Path) -> None:
    ids = hostile_rows(tmp_path / "jobs.db")
    sched, _ = sqlite_scheduler(tmp_path / "jobs.db")
    app = make_app(sched)

    async def main() -> None:
        async with app.run_test(size=(160, 50)) as pilot:
            await ready(pilot)
            listed = screen_text(app)
            assert_safe(listed)
            app.push_screen(TaskDetailScreen(sched.get(ids["failed"])))
            await settle(pilot)
            detail = screen_text(app)
            assert_safe(detail)
            assert "\\x1b[2J" in detail

    try:
        asyncio.run(main())
    finally:
        sched.stop(0)


def test_console_detail_renderable_is_safe() -> None:
    from jobsched.core.task import TaskRecord

    task = TaskRecord(
        1, f"h{CLEAR}", "a", "failed", json.dumps({"n": HOSTILE}), 0.0, 0.0, 1, 1,
        result=json.dumps(HOSTILE), error=HOSTILE, dedup_key=CLIPBOARD,
    )  # fmt: skip
    out = Console(record=True, width=200, color_system=None)
    out.print(detail_renderable(task))
    assert_safe(out.export_text())
