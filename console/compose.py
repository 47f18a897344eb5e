"""How the console is put together: the one factory that builds the app, for the CLI's
``console`` command and for the tests, and the command itself.

The app never builds what it shows: :func:`build_app` takes a
:class:`~console.source.Source` from outside. :func:`run_console` makes that source from
the settings through the composition root (:mod:`console.root`), wraps the demo servers and
workload around it if asked, and stops everything in order when the app ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from jobsched.core import Client, Clock
from jobsched.core.errors import JobschedError

from . import root
from .app import REFRESH_INTERVAL, JobschedApp
from .local import LocalNode
from .settings import Settings
from .source import Source
from .view import AttachedView
from .widgets.format import counted


def build_app(
    source: Source,
    *,
    demo: str | None = None,
    clock: Clock | None = None,
    refresh_interval: float | None = REFRESH_INTERVAL,
    inject_duration_ms: float = 50.0,
    before_stop: Callable[[], Any] | None = None,
) -> JobschedApp:
    """The console over ``source`` (started by the caller). ``demo`` is the header's note
    on the demo servers; ``refresh_interval=None`` turns the timer off, for tests that
    call :meth:`JobschedApp.refresh_now` after stepping a scheduler. ``before_stop`` runs
    when the operator quits, before the node stops (the demo workload's stop)."""
    return JobschedApp(
        source,
        clock=clock,
        demo=demo,
        refresh_interval=refresh_interval,
        inject_duration_ms=inject_duration_ms,
        before_stop=before_stop,
    )


def build_source(settings: Settings, *, attach: bool) -> tuple[Source, Client]:
    """The source the console shows and the client that writes for it (the demo
    workload submits through it): a node of this process, or with ``attach`` a view of
    one that runs elsewhere. Not started."""
    if attach:
        client = root.build_client(settings)
        return AttachedView(client), client
    scheduler = root.build_scheduler(settings)
    return LocalNode(scheduler), scheduler


def run_console(settings: Settings, *, demo: bool, attach: bool) -> int:
    """Open the console (the CLI's ``console`` command); returns the exit code.

    Starts the demo servers (if asked), then the source, then the demo workload; when the
    app ends, stops them in reverse order: workload, node (tasks still running are
    released back to the queue), servers.
    """
    # A browser session (`jobsched console --web`) runs the app over pipes; textual-serve
    # names the driver that speaks its protocol in TEXTUAL_DRIVER.
    has_terminal = sys.stdout.isatty() and sys.stdin.isatty()
    if not has_terminal and not os.environ.get("TEXTUAL_DRIVER"):
        print(
            "Error: the console needs a terminal: stdin or stdout is not a TTY. "
            "Use `jobsched run` for a headless node.",
            file=sys.stderr,
        )
        return 2
    stops: list[Callable[[], Any]] = []  # run in reverse order on the way out
    released: list[int] = []
    hangup = Hangup()
    try:
        hangup.install()  # before the node starts: from then on a hangup must stop it
        servers = _start_servers(stops) if demo else None
        source, client = build_source(settings, attach=attach)
        source.start()
        stops.append(source.stop)
        workload = _start_workload(client, stops) if demo else None
        description = f"demo: {servers.describe()}" if servers is not None else None
        app = build_app(
            source, demo=description, before_stop=workload.stop if workload is not None else None
        )
        if not hangup.happened.is_set():
            with hangup.ends(app):
                released = app.run() or []
    except JobschedError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    finally:
        hangup.uninstall()
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:
                _say(f"Error: stopping failed: {exc}")
    if released:
        unfinished = counted(len(released), "unfinished task")
        _say(f"released {unfinished} back to the queue: {released[:50]}")
    return 0


class Hangup:
    """SIGHUP (the terminal or the SSH session closed) ends the console as a quit does, so
    that the node inside stops gracefully on the way out (running tasks get the grace
    period, the rest go back to the queue) instead of dying with the terminal.

    The handler only notes the hangup: before the app runs, ``run_console`` then skips it;
    while it runs, a watcher thread asks it to exit through ``call_from_thread`` (the one
    safe way in from outside its event loop), retrying until the app is there to ask.
    """

    def __init__(self) -> None:
        self.happened = threading.Event()
        self._previous: Any = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGHUP, self._note)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            signal.signal(signal.SIGHUP, self._previous)
            self._installed = False

    def _note(self, signum: int, frame: object) -> None:
        self.happened.set()

    @contextmanager
    def ends(self, app: JobschedApp) -> Iterator[None]:
        finished = threading.Event()

        def watch() -> None:
            while not self.happened.wait(0.5):
                if finished.is_set():
                    return
            while not finished.is_set():
                try:
                    app.call_from_thread(app.exit)
                    return
                except RuntimeError:  # the app is not running yet (or any more)
                    finished.wait(0.05)

        watcher = threading.Thread(target=watch, name="jobsched-hangup", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            finished.set()
            watcher.join(timeout=1.0)


def _say(line: str) -> None:
    """A line on stderr, which may be a closed terminal after a hangup."""
    with suppress(OSError):
        print(line, file=sys.stderr)


def _start_servers(stops: list[Callable[[], Any]]) -> Any:
    from jobsched.demo.servers import DemoServers

    servers = DemoServers().start()
    stops.append(servers.stop)
    return servers


def _start_workload(client: Client, stops: list[Callable[[], Any]]) -> Any:
    from jobsched.demo.workload import DemoWorkload

    workload = DemoWorkload(client).start()
    stops.append(workload.stop)  # stopping twice is harmless: a quit stops it first
    return workload
