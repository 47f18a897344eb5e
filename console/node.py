"""The headless node behind ``jobsched run``: start, report progress, stop on a signal.

Stopping: the first SIGTERM, SIGINT or SIGHUP (a closed terminal) stops gracefully, letting
running tasks finish within the grace period and releasing the rest; a second signal
releases the tasks still running at once and ends the process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

from jobsched.core import Scheduler, Snapshot
from jobsched.core.task import QUEUED, RUNNING, SCHEDULED

from .wakeup import Wakeup

#: How often the main loop looks at signals, deadlines and idleness.
TICK = 0.1
#: At most one progress line per this many seconds.
PROGRESS_EVERY = 1.0
#: Exit code of a fast stop (a second signal): interrupted.
EXIT_INTERRUPTED = 130


def progress_line(snap: Snapshot) -> str:
    """``jobsched: rate=12.5/s done=100 failed=2 | email q=3 r=1 w=2/4 | ...``

    ``done`` and ``failed`` count attempts finished by this node since it started; per
    category ``q`` queued, ``r`` running, ``w`` busy/pool size, and ``paused`` if so.
    """
    counters = snap.counters
    done = counters.get("succeeded", 0) + counters.get("failed", 0) + counters.get("cancelled", 0)
    parts = [f"jobsched: rate={snap.rate:.1f}/s done={done} failed={counters.get('failed', 0)}"]
    for cat in snap.categories:
        text = f"{cat.name} q={cat.queued} r={cat.running} w={cat.busy}/{cat.workers}"
        if cat.scheduled:
            text += f" s={cat.scheduled}"
        if cat.paused:
            text += " paused"
        parts.append(text)
    if snap.abandoned_threads:
        parts.append(f"abandoned={snap.abandoned_threads}")
    return " | ".join(parts)


class NodeRunner:
    """Runs one started scheduler in the foreground until told to stop.

    Signals only set a counter and an event; all store work happens on the main loop or
    on the stopping thread, never inside a signal handler (the handler may interrupt a
    store call of the same thread).
    """

    def __init__(
        self,
        sched: Scheduler,
        write: Callable[[str], None],
        *,
        until_idle: bool = False,
        duration: float | None = None,
        grace: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sched = sched
        self.write = write
        self.until_idle = until_idle
        self.duration = duration
        self.grace = sched.config.grace_period if grace is None else grace
        self.monotonic = monotonic
        self.signals = 0
        #: when the latest signal arrived (monotonic), to report how fast a hurried stop was
        self.signalled_at = 0.0
        #: Set when a write found its pipe closed (``jobsched run 2>&1 | head``): the
        #: reader has seen enough, which stops the node gracefully, like a first SIGTERM.
        self.output_closed = False
        #: wakes the main thread's loop: set by signal handlers, so not an Event
        self._woken = Wakeup()
        self._last_line = ""
        self._next_line = 0.0

    def _say(self, line: str) -> None:
        if self.output_closed:
            return
        try:
            self.write(line)
        except BrokenPipeError:
            self.output_closed = True
            self._woken.wake()

    # --- signals -----------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signalled_at = self.monotonic()
        self.signals += 1
        self._woken.wake()

    def _install(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    # --- running -----------------------------------------------------------------------
    def run(self) -> int:
        """Start the node (raises NodeLockedError, StorageError, ...), run, stop; exit code."""
        previous = self._install()
        try:
            self.sched.start()
            self._say(
                f"jobsched: node {self.sched.node_id} running on {self.sched.location} "
                f"with {self.sched.config.workers} workers"
            )
            reason = self._loop()
            return self._stop(reason)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._woken.close()

    def _loop(self) -> str:
        end = None if self.duration is None else self.monotonic() + self.duration
        while True:
            if self.signals:
                return "signal"
            if self.output_closed:
                return "output closed"
            now = self.monotonic()
            if end is not None and now >= end:
                return f"--for {self.duration:g} s elapsed"
            if self.until_idle and self._idle():
                return "idle"
            self._progress(now)
            self._woken.wait(TICK)

    def _idle(self) -> bool:
        counts = self.sched.counts()
        return not any(
            per.get(QUEUED, 0) or per.get(SCHEDULED, 0) or per.get(RUNNING, 0)
            for per in counts.values()
        )

    def _progress(self, now: float, force: bool = False) -> None:
        if now < self._next_line and not force:
            return
        line = progress_line(self.sched.snapshot())
        if line != self._last_line or force:
            self._say(line)
            self._last_line = line
            self._next_line = now + PROGRESS_EVERY

    # --- stopping ----------------------------------------------------------------------
    def _stop(self, reason: str) -> int:
        self._progress(self.monotonic(), force=True)
        # Only the signal that began this stop counts: two signals that arrived before the
        # loop looked are already a request to stop at once.
        seen = 1 if reason == "signal" else 0
        self._say(
            f"jobsched: stopping ({reason}); running tasks have {self.grace:g} s to finish; "
            "signal again to stop at once"
        )
        released: list[int] = []
        stopper = threading.Thread(
            target=lambda: released.extend(self.sched.stop(self.grace)),
            name="jobsched-stop",
            daemon=True,
        )
        stopper.start()
        hurried = False
        while stopper.is_alive():
            if self.signals > seen and not hurried:
                # A second signal: move the graceful stop's deadline to now. It releases
                # the running tasks, writes the outcomes it has and closes the store.
                self.sched.stop(0)
                hurried = True
            self._woken.wait(TICK)
        self._report_unreleased()
        if hurried:
            took = self.monotonic() - self.signalled_at
            self._say(
                f"jobsched: stopped at once ({took:.2f} s after the second signal); released "
                f"{len(released)} tasks to the queue: {_ids(released)}"
            )
            return EXIT_INTERRUPTED
        if released:
            self._say(
                f"jobsched: stopped; released {len(released)} unfinished tasks to the queue: {_ids(released)}"
            )
        elif not self.sched.unreleased:
            self._say("jobsched: stopped; nothing left unfinished")
        else:
            self._say("jobsched: stopped")
        return 0

    def _report_unreleased(self) -> None:
        """Say which tasks a stop could not give back, and what becomes of them."""
        lost = self.sched.unreleased
        if not lost:
            return
        later = (
            "another node recovers them once this node's heartbeat is stale, or the next "
            "node to start does"
            if self.sched.store.multi_node
            else "the next node to start on this database recovers them"
        )
        self._say(
            f"jobsched: could not release {len(lost)} tasks (the store did not answer); "
            f"they stay running under node {self.sched.node_id}; {later}: {_ids(lost)}"
        )


def _ids(ids: list[int], limit: int = 50) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")


@contextmanager
def demo_servers(settings: Any, write: Callable[[str], None]) -> Iterator[None]:
    """Around a node that runs the packaged demo configuration, the demo's SMTP and HTTP
    servers (its handlers need them), unless ``JOBSCHED_DEMO_SMTP`` and
    ``JOBSCHED_DEMO_HTTP`` already point at running ones. Says where they listen."""
    from jobsched.demo.servers import ENV_HTTP, ENV_SMTP

    from .settings import DEMO_CONFIG

    if settings.source != DEMO_CONFIG or (os.environ.get(ENV_SMTP) and os.environ.get(ENV_HTTP)):
        yield
        return
    from jobsched.demo.servers import DemoServers

    servers = DemoServers().start()
    write(f"jobsched: demo configuration; demo servers: {servers.describe()}")
    try:
        yield
    finally:
        servers.stop()


def exit_process(code: object) -> None:
    """End the process with ``code`` once a command is done, even if a handler left
    non-daemon threads running: the node has stopped and closed its store, and waiting
    for such threads kept a stopped node alive (and let a later signal kill it).
    Output is flushed first; the threads are named on stderr."""
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    left = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if not left:
        raise SystemExit(status)
    names = ", ".join(sorted(t.name for t in left)[:10])
    print(
        f"jobsched: exiting; {len(left)} non-daemon threads left behind by handlers "
        f"are not waited for: {names}",
        file=sys.stderr,
    )
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
