"""Commands that add tasks: ``submit`` (one task) and ``inject`` (synthetic jobs)."""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated, Any

import typer
from jobsched.core import InvalidInputError, PayloadError, TaskCancelledError, TaskFailedError
from jobsched.core.payload import MAX_DEPTH
from jobsched.core.task import CANCELLED, SUCCEEDED, TaskRecord

from .. import reports
from ..cli_base import (
    WaitTimeout,
    complete_categories,
    complete_handlers,
    number,
    seconds_option,
    whole_number,
)
from ..escape import json_text
from .common import GlobalConfig, GlobalDb, _client, command

#: The most characters of a result ``result`` and ``submit --wait`` print without
#: ``--full`` or ``--json`` (a handler may return a value of any size).
RESULT_CHARS = 1 << 20


def _payload(text: str) -> Any:
    """``--payload``: JSON text, ``@file`` or ``-`` (stdin)."""
    source = "--payload"
    if text == "-":
        text, source = sys.stdin.read(), "--payload from stdin"
    elif text.startswith("@"):
        path = text[1:]
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise PayloadError(
                "payload file", path, f"cannot be read ({exc})", "Check the path"
            ) from None
        source = f"--payload from {path}"

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise PayloadError(
            source,
            text[:40],
            f"is nested deeper than {MAX_DEPTH} levels",
            "Flatten the structure",
        ) from None
    except ValueError as exc:
        raise PayloadError(
            source,
            text,
            f"is not valid JSON ({exc})",
            'Pass a JSON document, e.g. --payload \'{"to": "a@b.c"}\'',
        ) from None


def _print_outcome(task: TaskRecord, full: bool = True) -> None:
    """Print a terminal task's result (exit 0), or raise for failed / cancelled (exit 1).

    Unless ``full``, a result longer than RESULT_CHARS is cut there, with a note on stderr
    saying how much was left out and how to print all of it."""
    if task.state == SUCCEEDED:
        text = json_text(task.result_value())
        if full or len(text) <= RESULT_CHARS:
            typer.echo(text)
            return
        typer.echo(text[:RESULT_CHARS])
        typer.echo(
            f"jobsched: result cut after {RESULT_CHARS:,} of {len(text):,} characters; "
            f"`jobsched result {task.id} --full` (or --json) prints all of it",
            err=True,
        )
        return
    if task.state == CANCELLED:
        raise TaskCancelledError(task.id)
    raise TaskFailedError(task.id, task.error, task.reason)


@command()
def submit(
    ctx: typer.Context,
    handler: Annotated[
        str,
        typer.Argument(
            metavar="HANDLER",
            autocompletion=complete_handlers,
            help="Handler name, e.g. email.send; `jobsched handlers` lists them.",
        ),
    ],
    payload: Annotated[
        str,
        typer.Option(
            "--payload", metavar="JSON", help="The payload: JSON text, @file, or - for stdin."
        ),
    ] = "{}",
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            metavar="CATEGORY",
            autocompletion=complete_categories,
            help="Run in this category.",
        ),
    ] = None,
    delay: Annotated[
        float,
        typer.Option("--delay", metavar="SECONDS", parser=number, help="Run no earlier than this."),
    ] = 0.0,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="KEY", help="Dedup key: a live task with it is reused."),
    ] = None,
    priority: Annotated[
        int,
        typer.Option(
            "--priority",
            metavar="0-9",
            parser=whole_number,
            help="Priority within the category: higher is started first (default 0).",
        ),
    ] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result and print it.")] = False,
    timeout: WaitTimeout = None,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Submit one task; print its id (or, with --wait, its result).

    The handlers are those of the modules the configuration lists; `jobsched handlers`
    prints them with their categories.
    """
    value = _payload(payload)
    seconds_option("--timeout", timeout)
    with _client(ctx) as client:
        task_id = client.submit(
            handler, value, category=category, delay=delay, key=key, priority=priority
        ).id
        if not wait:
            typer.echo(task_id)
            return
        _print_outcome(reports.wait_terminal(client, task_id, timeout), full=False)


@command()
def inject(
    ctx: typer.Context,
    category: Annotated[
        str,
        typer.Argument(
            metavar="CATEGORY", autocompletion=complete_categories, help="Category to load."
        ),
    ],
    count: Annotated[
        int, typer.Option("--count", metavar="N", parser=whole_number, help="How many jobs.")
    ] = 1,
    duration_ms: Annotated[
        float,
        typer.Option(
            "--duration-ms", metavar="MS", parser=number, help="How long each job sleeps."
        ),
    ] = 50.0,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate", metavar="RATE", parser=number, help="Share of jobs that fail (0..1)."
        ),
    ] = 0.0,
    priority: Annotated[
        int,
        typer.Option(
            "--priority",
            metavar="0-9",
            parser=whole_number,
            help="Priority of the jobs within the category (default 0).",
        ),
    ] = 0,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Submit synthetic jobs into a category (to watch the balancer work)."""
    if not math.isfinite(duration_ms):
        raise InvalidInputError("--duration-ms", duration_ms, "must be finite", "Use e.g. 50")
    if not math.isfinite(fail_rate):
        raise InvalidInputError("--fail-rate", fail_rate, "must be between 0 and 1", "Use e.g. 0.1")
    with _client(ctx) as client:
        ids = client.inject(category, count, duration_ms, fail_rate, priority)
    typer.echo(reports.injected_message(category, ids))
