"""``limit``: how fast a category's (or a handler's) tasks may start, on every node of the
store."""

from __future__ import annotations

from typing import Annotated

import typer
from jobsched.core import InvalidInputError

from ..cli_base import complete_categories, whole_number
from .common import GlobalConfig, GlobalDb, _client, command


@command()
def limit(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="CATEGORY",
            autocompletion=complete_categories,
            help="Category (left out with --handler).",
        ),
    ],
    rate: Annotated[
        str | None,
        typer.Argument(
            metavar="RATE",
            help='e.g. 20/s, 90/min or 1000/h; "none" lifts the limit (for a handler: the '
            'operator\'s, so the configured one applies again; "unlimited" lifts both).',
        ),
    ] = None,
    handler: Annotated[
        str | None,
        typer.Option(
            "--handler",
            metavar="NAME",
            help="Limit this handler's tasks instead of a category's: limit --handler NAME RATE.",
        ),
    ] = None,
    burst: Annotated[
        int | None,
        typer.Option(
            "--burst",
            metavar="N",
            parser=whole_number,
            help="How many may start at once after a quiet spell (default 1).",
        ),
    ] = None,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Limit how fast a category's or handler's tasks start (stored: every node applies it)."""
    if handler is not None:
        if rate is not None:
            raise InvalidInputError(
                "limit --handler", f"{target} {rate}", "takes one RATE and no category",
                f"Use e.g. jobsched limit --handler {handler} 5/s",
            )  # fmt: skip
        name, value = handler, target
    elif rate is None:
        raise InvalidInputError(
            "limit",
            target,
            "needs a RATE after the category",
            f"Use e.g. jobsched limit {target} 20/s",
        )
    else:
        name, value = target, rate
    with _client(ctx) as client:
        if handler is None:
            applied = client.set_rate(name, value, burst)
        else:
            applied = client.set_handler_rate(name, value, burst)
    configured = (
        " (as configured)" if handler is not None and value.strip().lower() == "none" else ""
    )
    if applied is None:
        typer.echo(f"{name}: no rate limit{configured}")
    else:
        typer.echo(f"{name}: at most {applied.describe()}{configured}")
