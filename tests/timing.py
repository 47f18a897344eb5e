"""What the machine adds to a timing test's figures, measured while the test runs.

A test that bounds a latency (a delayed task's lateness, how soon a waiter sees a commit)
checks the code under test, not the machine. On a loaded machine (two cores running four
test workers and their child processes) any thread of the process can be kept off the CPU
for tens or hundreds of milliseconds, and no code in the process can avoid it.
:class:`StallProbe` measures that: a plain thread that sleeps 2 ms at a time and records
how much later than asked it woke. A test then allows ``limit + probe.worst``: on a quiet
machine ``worst`` is a millisecond or two and the bound is the documented one; a stall of
the whole process shows up in the probe too and is not blamed on the code under test.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

PERIOD = 0.002


class StallProbe:
    """``with StallProbe() as probe: ...``; then ``probe.worst`` (seconds)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-probe", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = time.monotonic()
            time.sleep(PERIOD)
            late = time.monotonic() - asked - PERIOD
            self.worst = max(self.worst, late)
            self.samples += 1

    def __enter__(self) -> StallProbe:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
