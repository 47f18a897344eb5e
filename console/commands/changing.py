"""Commands that change tasks and categories: ``retry``, ``cancel``, ``priority``,
``pause``, ``resume``, ``pin``, ``unpin`` and ``rebalance``."""

from __future__ import annotations

from typing import Annotated

import typer
from jobsched.core import InvalidInputError

from ..cli_base import ACCEPT_NEGATIVE, parse_task_id, whole_number
from ..widgets.format import counted
from .bulk import DryRun, Filter, Yes, bulk_of
from .common import CategoryArg, GlobalConfig, GlobalDb, _client, command


@command(context_settings=ACCEPT_NEGATIVE)
def retry(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="ID...", parser=parse_task_id, help="Failed or cancelled task ids."),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed task.")] = False,
    filter_text: Filter = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Queue failed or cancelled tasks again with fresh attempts (by id, or every one a
    --filter matches)."""
    if filter_text is not None:
        if ids or failed:
            raise InvalidInputError(
                "retry", None, "takes ids, --failed or --filter (one of them)",
                "E.g. jobsched retry --filter 'state:failed cat:email'",
            )  # fmt: skip
        bulk_of(ctx, "retry", filter_text, dry_run, yes)
        return
    if bool(ids) == failed:
        raise InvalidInputError(
            "retry", None, "needs task ids, --failed or --filter", "E.g. jobsched retry 12 13"
        )
    with _client(ctx) as client:
        if failed:
            done = client.retry(None)
            typer.echo(f"retried {counted(len(done), 'failed task')}")
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
    typer.echo(f"retried {counted(len(done), 'task')}: {', '.join(map(str, done))}")


@command(context_settings=ACCEPT_NEGATIVE)
def cancel(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="ID...", parser=parse_task_id, help="Task ids."),
    ] = None,
    filter_text: Filter = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Cancel scheduled or queued tasks; ask running ones to stop (by id, or every one a
    --filter matches)."""
    if (filter_text is None) == (not ids):
        raise InvalidInputError(
            "cancel", None, "takes task ids or --filter (one of them)",
            "E.g. jobsched cancel 12 13, or jobsched cancel --filter 'state:queued cat:email'",
        )  # fmt: skip
    if filter_text is not None:
        bulk_of(ctx, "cancel", filter_text, dry_run, yes)
        return
    ids = ids or []
    with _client(ctx) as client:
        wanted = list(dict.fromkeys(ids))
        for task_id in wanted:
            client.get(task_id)  # an unknown id: TaskNotFoundError, nothing cancelled
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


@command(context_settings=ACCEPT_NEGATIVE)
def priority(
    ctx: typer.Context,
    category: CategoryArg,
    weight: Annotated[
        str, typer.Argument(metavar="WEIGHT", help="Priority weight, a number above 0.")
    ],
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Set a category's priority weight (applied within one balancer interval)."""
    with _client(ctx) as client:
        value = client.set_priority(category, weight)
    typer.echo(f"{category}: priority {value:g}")


@command()
def pause(
    ctx: typer.Context,
    category: CategoryArg,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Stop feeding a category's workers (nothing is lost)."""
    with _client(ctx) as client:
        client.set_paused(category, True)
    typer.echo(f"{category}: paused")


@command()
def resume(
    ctx: typer.Context,
    category: CategoryArg,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Feed a paused category again."""
    with _client(ctx) as client:
        client.set_paused(category, False)
    typer.echo(f"{category}: resumed")


@command(context_settings=ACCEPT_NEGATIVE)
def pin(
    ctx: typer.Context,
    category: CategoryArg,
    workers: Annotated[
        int, typer.Argument(metavar="N", parser=whole_number, help="Worker count to hold.")
    ],
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Fix a category's worker count; the balancer respects it."""
    with _client(ctx) as client:
        client.pin(category, workers)
    typer.echo(f"{category}: pinned at {workers} workers")


@command()
def unpin(
    ctx: typer.Context,
    category: CategoryArg,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Let the balancer size a category again."""
    with _client(ctx) as client:
        client.pin(category, None)
    typer.echo(f"{category}: unpinned")


@command()
def rebalance(
    ctx: typer.Context,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Ask running nodes to rebalance now."""
    with _client(ctx) as client:
        client.rebalance()
    typer.echo("rebalance requested")
