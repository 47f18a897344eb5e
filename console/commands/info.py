"""Commands that explain the setup: ``config`` (the effective configuration and where each
value came from) and ``handlers`` (what ``submit`` accepts)."""

from __future__ import annotations

import typer

from ..cli_base import JsonFlag
from ..config_report import config_rows, escape_text, format_value
from ..root import build_client
from .common import GlobalConfig, GlobalDb, _out, _settings, command


def _print_columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Aligned columns, one line per row, never wrapped (they are read and grepped)."""
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        typer.echo(escape_text("  ".join([*cells, line[-1]])))


@command(name="config")
def show_config(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Print the effective configuration and where each value came from.

    A value comes from its default, the config file, a JOBSCHED_* environment variable
    or a flag; docs/configuration.md describes every key.
    """
    rows = config_rows(_settings(ctx))
    if as_json:
        _out(rows)
        return
    _print_columns(
        ("key", "value", "from"),
        [(row["key"], format_value(row["value"]), row["from"]) for row in rows],
    )


@command()
def handlers(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """List the handlers `submit` accepts, with their categories.

    They come from the modules of the configuration's `handlers` list, imported from the
    working directory, the config file's directory, then the installed packages.
    """
    client = build_client(_settings(ctx))
    rows = [
        {
            "name": spec.name,
            "category": spec.category,
            "module": spec.module,
            "max_attempts": spec.max_attempts,
            "timeout": spec.timeout,
        }
        for spec in sorted(client.handlers.values(), key=lambda s: s.name)
    ]
    if as_json:
        _out(rows)
        return
    _print_columns(
        ("handler", "category", "module"),
        [(row["name"], row["category"] or "", row["module"]) for row in rows],
    )
