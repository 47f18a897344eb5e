"""Commands that read: ``status``, ``tasks``, ``show`` and ``result``."""

from __future__ import annotations

from typing import Annotated

import typer
from jobsched.core import (
    InvalidInputError,
    JobschedError,
    UnknownCategoryError,
    WaitTimeoutError,
)
from jobsched.core.task import CANCELLED, FAILED, STATES, SUCCEEDED

from .. import reports
from ..cli_base import (
    ACCEPT_NEGATIVE,
    FullFlag,
    JsonFlag,
    WaitTimeout,
    complete_categories,
    parse_task_id,
    seconds_option,
    whole_number,
)
from .bulk import Filter, tasks_filtered
from .common import GlobalConfig, GlobalDb, _client, _out, command
from .submitting import _print_outcome


@command()
def status(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Categories, nodes and the latest balancer decisions."""
    with _client(ctx) as client:
        report = reports.status_report(client)
    if as_json:
        _out(report)
        return
    from ..tables import print_status

    print_status(report)


@command()
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
        int,
        typer.Option(
            "--limit", metavar="N", parser=whole_number, help="At most this many, newest first."
        ),
    ] = 50,
    filter_text: Filter = None,
    oldest: Annotated[bool, typer.Option("--oldest", help="Oldest first (with --filter).")] = False,
    after: Annotated[
        int | None,
        typer.Option(
            "--after",
            metavar="ID",
            parser=whole_number,
            help="The page after this id, in the listing's order (with --filter).",
        ),
    ] = None,  # fmt: skip
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """List tasks, newest first; --filter searches the whole store, page by page."""
    if limit < 1:
        raise InvalidInputError("--limit", limit, "must be 1 or more", "Use e.g. --limit 50")
    if filter_text is not None or oldest or after is not None:
        if state is not None or category is not None:
            raise InvalidInputError(
                "--filter", filter_text, "replaces --state and --category",
                "Write them in the filter: --filter 'state:failed cat:email'",
            )  # fmt: skip
        tasks_filtered(ctx, filter_text or "", oldest, limit, after, as_json)
        return
    if state is not None and state not in STATES:
        raise InvalidInputError(
            "task state", state, "is not a state", f"Use one of: {', '.join(STATES)}"
        )
    with _client(ctx) as client:
        if category is not None and category not in client.config.categories:
            known = client.known_categories()
            if category not in known:
                raise UnknownCategoryError(category, known)
        rows = client.list_tasks(state=state, category=category, limit=limit)
    if as_json:
        _out([reports.task_summary(t) for t in rows])
        return
    from ..tables import print_tasks

    print_tasks(rows)


@command(context_settings=ACCEPT_NEGATIVE)
def show(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", parser=parse_task_id, help="Task id.")],
    full: FullFlag = False,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Everything about one task (a long payload, result or error is cut unless --full)."""
    with _client(ctx) as client:
        task = client.get(task_id)
        progress = client.progress(task_id)
        earlier = client.attempt_errors(task_id)
    if as_json:
        _out(reports.task_detail(task, progress, earlier))
        return
    from ..tables import print_task

    print_task(task, full=full, progress=progress, earlier=earlier)


class TaskNotFinishedError(WaitTimeoutError):
    """``result ID`` without ``--wait`` on a task that is not finished yet (exit 5)."""

    def __init__(self, task_id: int, state: str) -> None:
        JobschedError.__init__(
            self, "task", task_id, f"is still {state}", "Add --wait to wait for it"
        )
        self.task_id = task_id


@command(context_settings=ACCEPT_NEGATIVE)
def result(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", parser=parse_task_id, help="Task id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the task finishes.")] = False,
    timeout: WaitTimeout = None,
    full: FullFlag = False,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Print a task's result as JSON; exit 1 if it failed or was cancelled, 5 on timeout."""
    seconds_option("--timeout", timeout)
    with _client(ctx) as client:
        task = reports.wait_terminal(client, task_id, timeout) if wait else client.get(task_id)
    if task.state not in (SUCCEEDED, CANCELLED, FAILED):
        raise TaskNotFinishedError(task.id, task.state)
    _print_outcome(task, full=full or as_json)
