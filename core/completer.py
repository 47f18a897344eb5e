"""The completer: writes outcomes in batches (group commit), then wakes waiters.

Workers (and timeouts) :meth:`Completer.put` outcomes; the completer thread writes them
in one transaction per batch, counts them, wakes whoever waits for a finished task, and
tells the dispatcher about retries. :meth:`run_once` is its thread body's one step.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

from .claims import Claims
from .clock import Clock
from .errors import StorageError
from .outage import OutageTracker
from .snapshot import Metrics
from .store import TaskStore
from .task import SCHEDULED, TERMINAL, Outcome
from .waiters import Waiters

log = logging.getLogger("jobsched")

OUTCOME_BATCH = 500
STORE_RETRY_WAIT = 0.5


class RetrySink(Protocol):
    """Where the completer sends retries (the dispatcher)."""

    def schedule_due(self, run_at: float) -> None: ...

    def retry_now(self, categories: set[str]) -> None: ...


class Completer:
    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        claims: Claims,
        waiters: Waiters,
        metrics: Metrics,
        retries: RetrySink,
        *,
        outage: OutageTracker | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._claims = claims
        self._waiters = waiters
        self._metrics = metrics
        self._retries = retries
        # Internal, so a SimpleQueue (in C: no Python-level Condition per put and get).
        self._outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        #: Queue an outcome to write (the queue's own put: no Python frame per task).
        self.put: Callable[[Outcome], None] = self._outcomes.put
        #: monotonic time the last batch was written (see ``run_once``'s linger)
        self.last_commit = -math.inf
        self._done = threading.Event()
        #: logs a store outage once per change of state
        self.outage = outage or OutageTracker("completer", "the store", monotonic=clock.monotonic)
        self._in_flight: set[int] = set()  # ids of the outcomes being written now

    def pending(self) -> int:
        """Outcomes not yet written."""
        return self._outcomes.qsize()

    def run_once(self, wait: float, linger: float = 0.0) -> bool:
        """Write one batch of outcomes in one transaction; False if there was none.

        ``wait``: seconds to wait for a first outcome. ``linger``: see
        ``SchedulerConfig.commit_linger`` (the thread passes it; stopping and stepping
        do not wait). A batch the store rejects is kept, to be written on the next try.
        """
        try:
            first = self._outcomes.get(timeout=wait) if wait > 0 else self._outcomes.get_nowait()
        except queue.Empty:
            return False
        batch = [first]
        if linger > 0 and self._clock.monotonic() - self.last_commit < linger:
            # Group commit: outcomes are streaming in, so let more arrive before writing.
            # One timed wait, not a wake-up per outcome; stop() cuts it short.
            self._done.wait(linger)
        while len(batch) < OUTCOME_BATCH:
            try:
                batch.append(self._outcomes.get_nowait())
            except queue.Empty:
                break
        self._in_flight.update(out.id for out in batch)
        try:
            applied = self._store.finish(batch)
            self.last_commit = self._clock.monotonic()
        except Exception:
            for outcome in batch:  # keep them: written on the next try
                self._outcomes.put(outcome)
            raise
        finally:
            self._in_flight.difference_update(out.id for out in batch)
        self._written(batch, applied)
        return True

    def _written(self, batch: list[Outcome], applied: Iterable[bool]) -> None:
        terminal: list[int] = []
        retry_now: set[str] = set()
        counts: Counter[tuple[str, str]] = Counter()
        for outcome, ok in zip(batch, applied, strict=True):
            category = self._claims.finished(outcome)
            if not ok:
                # Fenced out, or written by an earlier try whose commit was reported as
                # failed: waiters re-read the store and see whatever is true.
                terminal.append(outcome.id)
                counts[category, "fenced"] += 1
            elif outcome.state in TERMINAL:
                terminal.append(outcome.id)
                counts[category, outcome.state] += 1
            elif outcome.state == SCHEDULED and outcome.run_at is not None:
                counts[category, "retried"] += 1
                if outcome.run_at > outcome.finished_at:
                    self._retries.schedule_due(outcome.run_at)
                elif category:
                    retry_now.add(category)
        counts.pop(("", "fenced"), None)
        self._metrics.add_many(counts)
        self._waiters.notify(terminal)
        if retry_now:
            self._retries.retry_now(retry_now)

    # --- the thread ------------------------------------------------------------------
    def loop(self, poll_interval: float, linger: float) -> None:
        """The thread body: until :meth:`finish` is called and every outcome written."""
        while not (self._done.is_set() and self._outcomes.empty()):
            try:
                if self.run_once(poll_interval, linger):
                    self.outage.ok()
            except StorageError as exc:
                self.outage.failed(exc)
                self._done.wait(STORE_RETRY_WAIT)
            except Exception:
                log.exception("completer step failed; retrying")
                self._done.wait(STORE_RETRY_WAIT)

    def finish(self) -> None:
        """No more outcomes will come: the thread writes what is left and ends."""
        self._done.set()

    def drain(self) -> None:
        """Write every outcome left, on this thread (at stop, after the thread ended)."""
        while self.run_once(0):
            pass

    def take_unwritten(self) -> set[int]:
        """The ids of the outcomes not written (being written, or still queued), taken
        off the queue: at stop, once writing them failed."""
        ids = set(self._in_flight)
        while True:
            try:
                ids.add(self._outcomes.get_nowait().id)
            except queue.Empty:
                return ids
