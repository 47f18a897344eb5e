"""The ``jobsched`` Typer app and what its commands share: the global options, the
settings and client they build, and plain JSON on stdout.

The commands register themselves on :data:`app` from the modules beside this one;
``console/cli.py`` imports them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from jobsched.core import Client

from jobsched import core

from ..cli_base import JobschedGroup, complete_categories
from ..root import open_client
from ..settings import DEFAULT_DB, Settings, load_settings

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
