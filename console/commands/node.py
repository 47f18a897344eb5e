"""Commands that run a node: ``run`` (headless) and ``console`` (the Textual console)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from jobsched.core import InvalidInputError, Scheduler

from ..cli_base import number, seconds_option, whole_number
from ..escape import visible
from ..fresh import start_fresh
from ..root import build_scheduler
from .common import GlobalConfig, GlobalDb, _settings, command

if TYPE_CHECKING:
    from ..web import Address


class _VisibleFormatter(logging.Formatter):
    """Log lines for a terminal: control characters in messages (a task's error, a
    handler name read from a store) are shown escaped; tracebacks keep their lines."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), multiline=True)


@command()
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
            metavar="N",
            parser=whole_number,
            help="The worker thread budget (overrides JOBSCHED_WORKERS and the config file).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start on a new, empty database; the old SQLite file is moved aside "
            "(its new name is printed).",
        ),
    ] = False,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace", metavar="SECONDS", help="How long running tasks may finish at a stop."
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="HOST:PORT",
            help="Serve Prometheus metrics at http://HOST:PORT/metrics (config: [metrics] listen).",
        ),
    ] = None,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Run a headless node: workers, timer and balancer; progress on stderr.

    SIGTERM or Ctrl-C stops gracefully (exit 0); a second one stops at once (exit 130).
    """
    from ..node import NodeRunner, demo_servers

    settings = _settings(ctx, workers=workers, grace_period=seconds_option("--grace", grace))
    seconds_option("--for", duration)
    listen = _metrics_address(metrics, settings.metrics_listen)
    if fresh:
        start_fresh(settings.db, lambda line: typer.echo(line, err=True))
    sched = build_scheduler(settings)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_VisibleFormatter("jobsched: %(levelname)s %(message)s"))
    log = logging.getLogger("jobsched")
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        runner = NodeRunner(
            sched,
            lambda line: typer.echo(visible(line), err=True),
            until_idle=until_idle,
            duration=duration,
        )
        with demo_servers(settings, runner.write), _metrics_served(sched, listen, runner.write):
            code = runner.run()
    finally:
        log.removeHandler(handler)
    if runner.output_closed:
        # The reader is gone: nothing more can be said, and Python's flush at exit must
        # not report the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        os.dup2(devnull, sys.stdout.fileno())
    if code:
        raise typer.Exit(code)


def _metrics_address(flag: str | None, configured: str | None) -> Address | None:
    """Where to serve metrics: the flag, else ``[metrics] listen``, else nowhere."""
    from ..metrics import parse_listen

    if flag is not None:
        return parse_listen(flag, "--metrics")
    if configured is not None:
        return parse_listen(configured, "metrics.listen")
    return None


@contextmanager
def _metrics_served(
    sched: Scheduler, address: Address | None, write: Callable[[str], None]
) -> Iterator[None]:
    if address is None:
        yield
        return
    from ..metrics import serve_metrics

    server = serve_metrics(sched.snapshot, address.host, address.port)
    write(f"jobsched: metrics at {server.url}")
    try:
        yield
    finally:
        server.close()


@command()
def console(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Start a synthetic workload.")] = False,
    attach: Annotated[
        bool, typer.Option("--attach", help="Watch and steer a node running in another process.")
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start on a new, empty database; the old SQLite file is moved aside "
            "(its new name is printed).",
        ),
    ] = False,
    web: Annotated[
        bool,
        typer.Option(
            "--web",
            help="Serve the console to browsers at ADDRESS (default 127.0.0.1:8000); "
            "each browser session attaches to the node.",
        ),
    ] = False,
    address: Annotated[
        str | None,
        typer.Argument(metavar="[HOST:PORT]", show_default=False, help="Where --web listens."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="SECRET",
            help="With --web: every request must carry it (needed beyond loopback; "
            "env var: JOBSCHED_WEB_TOKEN; config: [web] token).",
        ),
    ] = None,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Open the live Textual console (with --web: in browsers)."""
    settings = _settings(ctx)
    if not web and (address is not None or token is not None):
        given = address if address is not None else "--token"
        raise InvalidInputError(
            "console",
            given,
            "is only for --web",
            "Add --web, e.g. jobsched console --web HOST:PORT",
        )
    if fresh:
        if attach:
            raise InvalidInputError(
                "--fresh", "--attach", "cannot be combined", "Use --fresh where the node runs"
            )
        start_fresh(settings.db, lambda line: typer.echo(line, err=True))
    if web:
        from ..web import parse_address, serve_console

        code = serve_console(
            settings,
            parse_address(address),
            token or settings.web_token,
            demo=demo,
            attach=attach,
            say=typer.echo,
        )
        raise typer.Exit(code)
    try:
        from ..compose import run_console
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
