"""Commands on every task a filter matches: ``tasks --filter``, ``retry|cancel --filter``
and ``delete``.

The filter is the console's (``state:failed cat:email error:timeout since:2h``, see
:mod:`jobsched.core.query`); a field or value that does not exist, or a ``cat:`` that is
neither configured nor holds tasks, is one line on stderr and exit 2. A bulk change refuses
an empty filter: every task is written ``id:>0``, on purpose. A bulk change says how many tasks it would touch and asks first on a terminal;
``--yes`` skips the question, ``--dry-run`` only counts. Without a terminal on stdin it
refuses unless ``--yes`` is given: a script never changes thousands of tasks by accident.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from jobsched.core import Client, InvalidInputError
from jobsched.core.bulk import BulkResult
from jobsched.core.query import Page, TaskQuery, parse

from .. import reports
from ..cli_base import JsonFlag
from ..widgets.format import counted
from .common import GlobalConfig, GlobalDb, _client, _out, command

FILTER_HELP = (
    "Only tasks this filter matches, e.g. 'state:failed cat:email error:timeout since:2h' "
    "(fields: state cat handler key id error payload since before; free words). "
    "retry, cancel and delete refuse an empty filter: write 'id:>0' for every task."
)
#: The filter that matches every task (ids start at 1): what a bulk change is given to
#: mean all of them, since an empty filter is refused.
EVERY_TASK = "id:>0"
Filter = Annotated[str | None, typer.Option("--filter", metavar="FILTER", help=FILTER_HELP)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Only count the tasks it would touch.")]
Yes = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (needed without a terminal)."),
]


def stdin_is_terminal() -> bool:
    """Whether a person can answer a question (tests replace this)."""
    return sys.stdin.isatty()


def query_of(client: Client, text: str) -> TaskQuery:
    """The parsed filter; a bad one, or a ``cat:`` the client does not know (configured or
    holding tasks), raises QueryError (exit 2)."""
    known = client.known_categories() if "cat" in text.lower() else None
    return parse(text, client.clock.now(), known)


def list_matching(
    client: Client, text: str, oldest: bool, limit: int, after: int | None, as_json: bool
) -> None:
    """``tasks --filter``: one page of the matching tasks over the whole store."""
    if after is not None and after < 0:
        raise InvalidInputError("--after", after, "must be a task id", "Use e.g. --after 1200")
    page = Page(query_of(client, text), "oldest" if oldest else "newest", limit, after)
    rows = client.find_tasks(page)
    if as_json:
        _out([reports.task_summary(t) for t in rows])
        return
    from ..tables import print_tasks

    print_tasks(rows)
    if len(rows) == limit:
        typer.echo(f"more: --after {rows[-1].id}", err=True)


def run_bulk(client: Client, action: str, text: str, dry_run: bool, yes: bool) -> BulkResult:
    """Count what ``action`` would touch, confirm, act, and print one line of counts."""
    if not text.strip():
        raise InvalidInputError(
            f"{action} --filter", text, "is empty, so it would touch every task",
            f"Give a filter, e.g. --filter 'state:failed cat:email'; for every task on "
            f"purpose, --filter '{EVERY_TASK}'",
        )  # fmt: skip
    query = query_of(client, text)
    call = {
        "retry": client.retry_matching,
        "cancel": client.cancel_matching,
        "delete": client.delete_matching,
    }[action]
    preview = call(query, True)
    if dry_run:
        typer.echo(preview.describe())
        return preview
    if preview.touched + preview.requested == 0:
        typer.echo(preview.describe().replace("would be ", ""))
        return preview
    if not yes:
        if not stdin_is_terminal():
            raise InvalidInputError(
                action, text, f"would touch {counted(preview.touched + preview.requested, 'task')}",
                "Add --yes to confirm without a terminal, or --dry-run to count only",
            )  # fmt: skip
        count = preview.touched + preview.requested
        if not typer.confirm(f"{action.capitalize()} {counted(count, 'task')} matching {text!r}?"):
            typer.echo("nothing changed")
            return BulkResult(action)
    done = call(query, False)
    typer.echo(done.describe())
    return done


@command()
def delete(
    ctx: typer.Context,
    filter_text: Annotated[
        str, typer.Option("--filter", metavar="FILTER", help=FILTER_HELP, show_default=False)
    ],
    dry_run: DryRun = False,
    yes: Yes = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Delete finished tasks a filter matches (never a scheduled, queued or running one)."""
    with _client(ctx) as client:
        run_bulk(client, "delete", filter_text, dry_run, yes)


def tasks_filtered(
    ctx: typer.Context, text: str, oldest: bool, limit: int, after: int | None, as_json: JsonFlag
) -> None:
    with _client(ctx) as client:
        list_matching(client, text, oldest, limit, after, as_json)


def bulk_of(ctx: typer.Context, action: str, text: str, dry_run: bool, yes: bool) -> None:
    with _client(ctx) as client:
        run_bulk(client, action, text, dry_run, yes)
