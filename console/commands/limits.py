"""``limit``: how fast a category's tasks may start, on every node of the store."""

from __future__ import annotations

from typing import Annotated

import typer

from ..cli_base import whole_number
from .common import CategoryArg, GlobalConfig, GlobalDb, _client, command


@command()
def limit(
    ctx: typer.Context,
    category: CategoryArg,
    rate: Annotated[
        str,
        typer.Argument(metavar="RATE", help='e.g. 20/s, 90/min or 1000/h; "none" lifts the limit.'),
    ],
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
    """Limit how fast a category's tasks start (stored: every node applies it)."""
    with _client(ctx) as client:
        applied = client.set_rate(category, rate, burst)
    if applied is None:
        typer.echo(f"{category}: no rate limit")
    else:
        typer.echo(f"{category}: at most {applied.describe()}")
