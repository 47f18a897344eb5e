"""``jobsched schedules``: list recurring schedules, and pause, resume or run one now.

Pause and resume are written to the store, so they reach every node sharing it; run-now
inserts one task for the schedule at once, beside its ticks.
"""

from __future__ import annotations

from typing import Annotated

import typer
from jobsched.core import InvalidInputError
from jobsched.core.schedule_book import ScheduleInfo

from ..cli_base import JsonFlag
from ..escape import visible
from ..widgets.format import timestamp
from .common import GlobalConfig, GlobalDb, _client, _out, command

ACTIONS = ("list", "pause", "resume", "run-now")


def schedule_rows(infos: list[ScheduleInfo]) -> list[list[str]]:
    """The table ``jobsched schedules`` prints (and the console shows)."""
    return [
        [
            info.name, info.spec, info.handler,
            "paused" if info.paused else timestamp(info.next_run),
            timestamp(info.last_run) if info.last_run else "-",
            f"#{info.last_task_id} {info.last_state}" if info.last_task_id else "-",
            info.missed,
        ]
        for info in infos
    ]  # fmt: skip


HEADERS = ["name", "spec", "handler", "next run", "last run", "outcome", "missed"]


@command()
def schedules(
    ctx: typer.Context,
    action: Annotated[
        str, typer.Argument(metavar="ACTION", help="list (default), pause, resume or run-now.")
    ] = "list",
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="The schedule's name.")] = None,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Recurring schedules: spec, next run, last run and its outcome, paused; or pause,
    resume or run one now (for every node on the store)."""
    if action not in ACTIONS:
        raise InvalidInputError(
            "schedules action", action, f"is not one of {', '.join(ACTIONS)}",
            "E.g. jobsched schedules pause nightly",
        )  # fmt: skip
    if (action == "list") != (name is None):
        raise InvalidInputError(
            f"schedules {action}", name,
            "takes no name" if action == "list" else "needs a schedule name",
            "E.g. jobsched schedules run-now nightly",
        )  # fmt: skip
    with _client(ctx) as client:
        if action == "list":
            infos = client.schedule_infos()
        elif action == "run-now":
            assert name is not None
            task_id = client.run_schedule_now(name)
            _done(as_json, {"schedule": name, "task_id": task_id}, f"{name}: task {task_id}")
            return
        else:
            assert name is not None
            paused = action == "pause"
            if paused:
                client.pause_schedule(name)
            else:
                client.resume_schedule(name)
            _done(as_json, {"schedule": name, "paused": paused}, f"{name}: {action}d")
            return
    if as_json:
        _out([info.to_dict() for info in infos])
        return
    if not infos:
        typer.echo("no schedules (add [[schedules]] to the configuration)")
        return
    rows = [HEADERS, *schedule_rows(infos)]
    widths = [max(len(visible(r[i])) for r in rows) for i in range(len(HEADERS))]
    for row in rows:
        typer.echo("  ".join(visible(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def _done(as_json: bool, data: dict[str, object], text: str) -> None:
    if as_json:
        _out(data)
    else:
        typer.echo(text)
