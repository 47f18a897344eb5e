"""The ``jobsched`` command line (design.md section 8).

Every command that changes something writes to the store through a client built by the
composition root, so it works whether or not a node is running: a running node polls the
store and applies the change. Errors are handled in one place, :class:`JobschedGroup`:
one line on stderr, ``Error: <message>``, and the exit code of the error.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from jobsched.core import (
    Client,
    InvalidInputError,
    JobschedError,
    PayloadError,
    TaskCancelledError,
    TaskFailedError,
    TaskNotFoundError,
    UnknownCategoryError,
    WaitTimeoutError,
)
from jobsched.core.task import CANCELLED, FAILED, STATES, SUCCEEDED, TaskRecord

from jobsched import core

from . import reports
from .cli_base import (
    JobschedGroup,
    JsonFlag,
    WaitTimeout,
    complete_categories,
    complete_handlers,
    number,
    seconds_option,
    whole_number,
)
from .root import build_scheduler, open_client
from .settings import DEFAULT_DB, Settings, load_settings

CategoryArg = Annotated[
    str,
    typer.Argument(metavar="CATEGORY", autocompletion=complete_categories, help="Category."),
]

app = typer.Typer(
    cls=JobschedGroup,
    name="jobsched",
    help="Run, feed and steer a jobsched node.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --- global options ---------------------------------------------------------------------


@dataclass(frozen=True)
class Globals:
    db: str | None
    config: str | None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jobsched {core.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="JOBSCHED_DB",
            metavar="PATH|URL",
            help="Database: a SQLite path, sqlite:///path.db (?mode=ro), or postgresql://...",
            show_default=f"./{DEFAULT_DB}",
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            envvar="JOBSCHED_CONFIG",
            metavar="PATH",
            help="TOML configuration (default: ./jobsched.toml if present, else the demo).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """jobsched: per-category worker pools, a balancer, durable tasks."""
    ctx.obj = Globals(db=db, config=config)


def _settings(ctx: typer.Context, **flags: Any) -> Settings:
    opts: Globals = ctx.find_root().obj
    return load_settings(opts.config, opts.db, **flags)


@contextmanager
def _client(ctx: typer.Context) -> Iterator[Client]:
    with open_client(_settings(ctx)) as client:
        yield client


def _out(data: Any) -> None:
    """Plain JSON on stdout, nothing else there."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- the node -----------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    until_idle: Annotated[
        bool,
        typer.Option("--until-idle", help="Exit once nothing is queued, scheduled or running."),
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option(
            "--for", metavar="SECONDS", parser=number, help="Exit after this many seconds."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            envvar="JOBSCHED_WORKERS",
            parser=whole_number,
            help="The worker thread budget.",
        ),
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace", metavar="SECONDS", help="How long running tasks may finish at a stop."
        ),
    ] = None,
) -> None:
    """Run a headless node: workers, timer and balancer; progress on stderr.

    SIGTERM or Ctrl-C stops gracefully (exit 0); a second one stops at once (exit 130).
    """
    from .node import NodeRunner

    settings = _settings(ctx, workers=workers, grace_period=seconds_option("--grace", grace))
    seconds_option("--for", duration)
    sched = build_scheduler(settings)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("jobsched: %(levelname)s %(message)s"))
    log = logging.getLogger("jobsched")
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        runner = NodeRunner(
            sched, lambda line: typer.echo(line, err=True), until_idle=until_idle, duration=duration
        )
        code = runner.run()
    finally:
        log.removeHandler(handler)
    if code:
        raise typer.Exit(code)


@app.command()
def console(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Start a synthetic workload.")] = False,
    attach: Annotated[
        bool, typer.Option("--attach", help="Watch and steer a node running in another process.")
    ] = False,
) -> None:
    """Open the live Textual console."""
    settings = _settings(ctx)
    try:
        from .app import run_console
    except ImportError as exc:
        raise InvalidInputError(
            "the console",
            None,
            f"is not available ({exc})",
            "Install jobsched with its textual dependency",
        ) from None
    code = run_console(settings, demo=demo, attach=attach)
    if code:
        raise typer.Exit(code)


# --- submitting ----------------------------------------------------------------------------


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
    except ValueError as exc:
        raise PayloadError(
            source,
            text,
            f"is not valid JSON ({exc})",
            'Pass a JSON document, e.g. --payload \'{"to": "a@b.c"}\'',
        ) from None


def _print_outcome(task: TaskRecord) -> None:
    """Print a terminal task's result (exit 0), or raise for failed / cancelled (exit 1)."""
    if task.state == SUCCEEDED:
        _out(task.result_value())
        return
    if task.state == CANCELLED:
        raise TaskCancelledError(task.id)
    raise TaskFailedError(task.id, task.error, task.reason)


@app.command()
def submit(
    ctx: typer.Context,
    handler: Annotated[
        str,
        typer.Argument(
            metavar="HANDLER",
            autocompletion=complete_handlers,
            help="Handler name, e.g. email.send.",
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
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result and print it.")] = False,
    timeout: WaitTimeout = None,
) -> None:
    """Submit one task; print its id (or, with --wait, its result)."""
    value = _payload(payload)
    seconds_option("--timeout", timeout)
    with _client(ctx) as client:
        task_id = client.submit_id(handler, value, category=category, delay=delay, key=key)
        if not wait:
            typer.echo(task_id)
            return
        _print_outcome(reports.wait_terminal(client, task_id, timeout))


@app.command()
def inject(
    ctx: typer.Context,
    category: Annotated[
        str,
        typer.Argument(
            metavar="CATEGORY", autocompletion=complete_categories, help="Category to load."
        ),
    ],
    count: Annotated[int, typer.Option("--count", parser=whole_number, help="How many jobs.")] = 1,
    duration_ms: Annotated[
        float, typer.Option("--duration-ms", parser=number, help="How long each job sleeps.")
    ] = 50.0,
    fail_rate: Annotated[
        float, typer.Option("--fail-rate", parser=number, help="Share of jobs that fail (0..1).")
    ] = 0.0,
) -> None:
    """Submit synthetic jobs into a category (to watch the balancer work)."""
    if not math.isfinite(duration_ms):
        raise InvalidInputError("--duration-ms", duration_ms, "must be finite", "Use e.g. 50")
    if not math.isfinite(fail_rate):
        raise InvalidInputError("--fail-rate", fail_rate, "must be between 0 and 1", "Use e.g. 0.1")
    with _client(ctx) as client:
        ids = client.inject(category, count, duration_ms, fail_rate)
    first, last = ids[0], ids[-1]
    span = f"{first}" if first == last else f"{first}..{last}"
    typer.echo(f"injected {len(ids)} synthetic jobs into {category}: ids {span}")


# --- reading -------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Categories, nodes and the latest balancer decisions."""
    with _client(ctx) as client:
        report = reports.status_report(client)
    if as_json:
        _out(report)
        return
    from .tables import print_status

    print_status(report)


@app.command()
def tasks(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            autocompletion=lambda: list(STATES),
            help=f"One of: {', '.join(STATES)}.",
        ),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            metavar="CATEGORY",
            autocompletion=complete_categories,
            help="Only this category.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", parser=whole_number, help="At most this many, newest first.")
    ] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    if limit < 1:
        raise InvalidInputError("--limit", limit, "must be 1 or more", "Use e.g. --limit 50")
    if state is not None and state not in STATES:
        raise InvalidInputError(
            "task state", state, "is not a state", f"Use one of: {', '.join(STATES)}"
        )
    with _client(ctx) as client:
        if category is not None and category not in client.config.categories:
            known = set(client.config.categories) | set(client.store.counts())
            if category not in known:
                raise UnknownCategoryError(category, known)
        rows = client.store.list_tasks(state=state, category=category, limit=limit)
    if as_json:
        _out([reports.task_summary(t) for t in rows])
        return
    from .tables import print_tasks

    print_tasks(rows)


@app.command()
def show(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", parser=whole_number, help="Task id.")],
    as_json: JsonFlag = False,
) -> None:
    """Everything about one task."""
    with _client(ctx) as client:
        task = client.get(task_id)
    if as_json:
        _out(reports.task_detail(task))
        return
    from .tables import print_task

    print_task(task)


class TaskNotFinishedError(WaitTimeoutError):
    """``result ID`` without ``--wait`` on a task that is not finished yet (exit 5)."""

    def __init__(self, task_id: int, state: str) -> None:
        JobschedError.__init__(
            self, "task", task_id, f"is still {state}", "Add --wait to wait for it"
        )
        self.task_id = task_id


@app.command()
def result(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", parser=whole_number, help="Task id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the task finishes.")] = False,
    timeout: WaitTimeout = None,
    as_json: JsonFlag = False,
) -> None:
    """Print a task's result as JSON; exit 1 if it failed or was cancelled, 5 on timeout."""
    seconds_option("--timeout", timeout)
    with _client(ctx) as client:
        task = reports.wait_terminal(client, task_id, timeout) if wait else client.get(task_id)
    if task.state not in (SUCCEEDED, CANCELLED, FAILED):
        raise TaskNotFinishedError(task.id, task.state)
    _print_outcome(task)


# --- changing ------------------------------------------------------------------------------


@app.command()
def retry(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="ID...", parser=whole_number, help="Failed or cancelled task ids."),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed task.")] = False,
) -> None:
    """Queue failed or cancelled tasks again with fresh attempts."""
    if bool(ids) == failed:
        raise InvalidInputError(
            "retry", None, "needs task ids or --failed (not both)", "E.g. jobsched retry 12 13"
        )
    with _client(ctx) as client:
        if failed:
            done = client.retry(None)
            typer.echo(f"retried {len(done)} failed tasks")
            return
        wanted = list(dict.fromkeys(ids or []))
        tasks = {i: client.get(i) for i in wanted}  # unknown ids: exit 2, nothing changed
        done = client.retry(wanted)
    skipped = [i for i in wanted if i not in done]
    for task_id in skipped:
        typer.echo(f"task {task_id} not retried: it is {tasks[task_id].state}", err=True)
    if not done:
        raise InvalidInputError(
            "task",
            skipped[0],
            f"is {tasks[skipped[0]].state}",
            "Only failed or cancelled tasks can be retried",
        )
    typer.echo(f"retried {len(done)} tasks: {', '.join(map(str, done))}")


@app.command()
def cancel(
    ctx: typer.Context,
    ids: Annotated[
        list[int], typer.Argument(metavar="ID...", parser=whole_number, help="Task ids.")
    ],
) -> None:
    """Cancel scheduled or queued tasks; ask running ones to stop."""
    with _client(ctx) as client:
        wanted = list(dict.fromkeys(ids))
        for task_id in wanted:
            if client.store.get(task_id) is None:
                raise TaskNotFoundError(task_id)
        answers = client.cancel(wanted)
    words = {
        "cancelled": "cancelled",
        "requested": "running; asked to stop",
        "terminal": "already finished; unchanged",
        "missing": "not found",
    }
    for task_id in wanted:
        typer.echo(
            f"task {task_id}: {words.get(answers.get(task_id, 'missing'), answers.get(task_id))}"
        )


ACCEPT_NEGATIVE = {"ignore_unknown_options": True}  # so "-1" reaches the validation


@app.command(context_settings=ACCEPT_NEGATIVE)
def priority(
    ctx: typer.Context,
    category: CategoryArg,
    weight: Annotated[
        str, typer.Argument(metavar="WEIGHT", help="Priority weight, a number above 0.")
    ],
) -> None:
    """Set a category's priority weight (applied within one balancer interval)."""
    with _client(ctx) as client:
        value = client.set_priority(category, weight)
    typer.echo(f"{category}: priority {value:g}")


@app.command()
def pause(
    ctx: typer.Context,
    category: CategoryArg,
) -> None:
    """Stop feeding a category's workers (nothing is lost)."""
    with _client(ctx) as client:
        client.set_paused(category, True)
    typer.echo(f"{category}: paused")


@app.command()
def resume(
    ctx: typer.Context,
    category: CategoryArg,
) -> None:
    """Feed a paused category again."""
    with _client(ctx) as client:
        client.set_paused(category, False)
    typer.echo(f"{category}: resumed")


@app.command(context_settings=ACCEPT_NEGATIVE)
def pin(
    ctx: typer.Context,
    category: CategoryArg,
    workers: Annotated[
        int, typer.Argument(metavar="N", parser=whole_number, help="Worker count to hold.")
    ],
) -> None:
    """Fix a category's worker count; the balancer respects it."""
    with _client(ctx) as client:
        client.pin(category, workers)
    typer.echo(f"{category}: pinned at {workers} workers")


@app.command()
def unpin(
    ctx: typer.Context,
    category: CategoryArg,
) -> None:
    """Let the balancer size a category again."""
    with _client(ctx) as client:
        client.pin(category, None)
    typer.echo(f"{category}: unpinned")


@app.command()
def rebalance(ctx: typer.Context) -> None:
    """Ask running nodes to rebalance now."""
    with _client(ctx) as client:
        client.rebalance()
    typer.echo("rebalance requested")


def main() -> None:
    """The ``jobsched`` console script."""
    app(prog_name="jobsched")


if __name__ == "__main__":
    main()
