"""A stop's deadline and its last store writes.

:class:`StopWrites` holds the one deadline a stop works against and runs each of its last
writes (releases, outcomes, the final heartbeat, closing the store) within what is left
of it plus ``STOP_MARGIN``, so that a store that does not answer cannot hold a stop
longer. Once one such write got no answer the store is taken as silent: the rest are
skipped, and the store is closed in the background. The tasks a stop could not give back
are listed in :attr:`StopWrites.unreleased` (they stay ``running`` under this node until
recovered: by another node once its heartbeat is stale, or by the next start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .clock import Clock
from .completer import Completer
from .outage import CallTimedOutError, call_within, reason_of
from .store import TaskStore

log = logging.getLogger("jobsched")

#: Seconds a stop may take beyond its grace period for its last writes (releases,
#: outcomes, the final heartbeat, closing the store), each bounded by what is left of it,
#: so that a store that does not answer cannot hold a stop longer.
STOP_MARGIN = 3.0


class StopWrites:
    def __init__(self, store: TaskStore, clock: Clock, node_id: str, location: str) -> None:
        self._store = store
        self._clock = clock
        self._node_id = node_id
        self._location = location
        self.deadline = 0.0  # monotonic
        #: a store call at stop got no answer in time: the rest are not waited for
        self.silent = False
        #: ids a stop could not give back (the store failed): still `running` there
        self.unreleased: list[int] = []

    def begin(self, grace: float) -> None:
        self.deadline = self._clock.monotonic() + grace

    def hurry(self, grace: float) -> None:
        """A second stop: the deadline moves to ``now + grace`` if that is sooner."""
        self.deadline = min(self.deadline, self._clock.monotonic() + grace)

    def left(self) -> float:
        """Seconds left until the deadline."""
        return max(0.0, self.deadline - self._clock.monotonic())

    def final_left(self) -> float:
        """Seconds left for a stop's last writes: the deadline plus STOP_MARGIN."""
        return max(0.0, self.deadline + STOP_MARGIN - self._clock.monotonic())

    def join_time(self, at_least: float) -> float:
        """How long to wait for a thread: what is left, or ``at_least`` within the margin."""
        return max(self.left(), min(at_least, self.final_left()))

    def bounded(self, fn: Callable[[], Any], what: str) -> Any:
        """``fn()`` (a store call at stop) within what is left of the stop. Once one
        such call got no answer, the store is taken as silent and the rest are not
        waited for (each would otherwise wait out a fresh connection's timeout)."""
        if self.silent:
            raise CallTimedOutError(
                f"stop: {what}",
                None,
                "was skipped: the store did not answer an earlier call",
                "The next start, or another node, recovers what it concerned",
            )
        try:
            return call_within(fn, self.final_left(), f"stop: {what}", self._location)
        except CallTimedOutError:
            self.silent = True
            raise

    def release(self, ids: list[int], what: str) -> None:
        """Give tasks back; those whose release fails are listed in ``unreleased``."""
        if not ids:
            return
        try:
            self.bounded(lambda: self._store.release(ids, self._node_id), "release")
        except Exception as exc:
            self.unreleased.extend(ids)
            log.error(
                "stop: could not release %d tasks (%s); they stay running under this node "
                "until they are recovered: %s",
                len(ids),
                reason_of(exc),
                ids[:100],
            )
            log.debug("stop: the release failed", exc_info=True)
            return
        log.info("stop: released %d %s: %s", len(ids), what, ids[:100])

    def write_outcomes(self, completer: Completer) -> None:
        """Write the outcomes still queued; list the tasks whose outcome could not be
        written in ``unreleased`` (they stay running here until recovered, then run again)."""
        try:
            self.bounded(completer.drain, "write outcomes")
            return
        except Exception as exc:
            error = exc
        ids = completer.take_unwritten()
        if ids:
            self.unreleased.extend(sorted(ids - set(self.unreleased)))
            log.error(
                "stop: could not write the outcomes of %d tasks (%s); they stay running "
                "under this node until they are recovered, and then run again: %s",
                len(ids),
                reason_of(error),
                sorted(ids)[:100],
            )

    def heartbeat(self, write: Callable[[], None]) -> None:
        """The last heartbeat (this node stopped), if the store answers in time."""
        try:
            self.bounded(write, "final heartbeat")
        except Exception as exc:
            log.warning("stop: could not mark this node stopped: %s", reason_of(exc))

    def close_store(self) -> None:
        """Close the store; not waited for past the stop's margin once it was silent."""
        try:
            if self.silent:  # close on the side; its sockets go with the process
                call_within(self._store.close, 0.0, "stop: close the store", self._location)
            else:
                self._store.close()
        except CallTimedOutError:
            pass
        except Exception as exc:
            log.warning("stop: could not close the store cleanly: %s", reason_of(exc))

    def released(self, ids: list[int]) -> list[int]:
        """``ids`` without those a stop could not give back."""
        failed = set(self.unreleased)
        return [i for i in ids if i not in failed]
