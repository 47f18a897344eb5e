"""The ``jobsched`` Typer app and what its commands share: the global options, the
settings and client they build, and plain JSON on stdout.

The commands register themselves on :data:`app` from the modules beside this one;
``console/cli.py`` imports them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from jobsched.core import Client

from jobsched import core

from ..cli_base import JobschedCommand, JobschedGroup, complete_categories
from ..escape import json_text
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


def command(**settings: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@app.command`` with the help that reads like hand-written help (see
    :class:`JobschedCommand`); every command registers through it."""
    return app.command(cls=JobschedCommand, **settings)


# --- global options ---------------------------------------------------------------------
#
# --db and --config are accepted before the command (``jobsched --db x status``) and after
# it (``jobsched status --db x``): the root callback and every command declare them. Their
# values are not passed to the function; a callback records them in ``ctx.meta``, which the
# whole context chain shares, so the one given last wins. The environment variables are
# read by load_settings, which then knows (for ``jobsched config``) what came from where.

GLOBAL_PANEL = "Global options"


def _remember(ctx: typer.Context, param: Any, value: str | None) -> str | None:
    if value is not None:
        ctx.meta[f"jobsched.{param.opts[0].lstrip('-')}"] = value
    return value


GlobalDb = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        callback=_remember,
        expose_value=False,
        rich_help_panel=GLOBAL_PANEL,
        help="Database: a SQLite path, sqlite:///path.db (?mode=ro), or postgresql://... "
        f"(env var: JOBSCHED_DB; default: ./{DEFAULT_DB})",
    ),
]
GlobalConfig = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="PATH",
        callback=_remember,
        expose_value=False,
        rich_help_panel=GLOBAL_PANEL,
        help="TOML configuration (env var: JOBSCHED_CONFIG; default: ./jobsched.toml if "
        "present, else the demo's). See docs/configuration.md.",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jobsched {core.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """jobsched: per-category worker pools, a balancer, durable tasks."""


def _settings(ctx: typer.Context, **flags: Any) -> Settings:
    return load_settings(ctx.meta.get("jobsched.config"), ctx.meta.get("jobsched.db"), **flags)


@contextmanager
def _client(ctx: typer.Context) -> Iterator[Client]:
    with open_client(_settings(ctx)) as client:
        yield client


def _out(data: Any) -> None:
    """Plain JSON on stdout, nothing else there (control characters escaped)."""
    typer.echo(json_text(data))
