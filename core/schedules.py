"""The schedules unit: turns the ticks of recurring schedules into tasks.

One step (:meth:`Schedules.run_once`) reads what the store knows of every schedule (the
newest tick claimed, paused), plans each schedule's due ticks with its missed policy
(:func:`~.schedule_spec.plan_ticks`) and claims them through the store: a tick's row and
its task go in in one transaction, and the store refuses a second claim of the same tick,
so nodes sharing a store, a restart or a clock step never run a tick twice. Missed ticks
are marked skipped in the store and logged, never dropped silently. The unit's own
thread (``jobsched-schedules``) sleeps until the next tick is due, or at most
``POLL`` seconds so that other nodes' claims and pauses are seen.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC

from .clock import Clock
from .errors import StorageError
from .outage import OutageTracker
from .schedule_book import ScheduleBook
from .schedule_spec import ScheduleSpec, ScheduleState, plan_ticks
from .store import TaskStore

log = logging.getLogger("jobsched")

#: The longest the unit sleeps between looks at the store (pauses, other nodes' claims).
POLL = 1.0


@dataclass(slots=True)
class TickReport:
    """What one step did: the ticks it claimed with a task, as (schedule, tick, task id),
    and the missed ticks it marked skipped, as (schedule, first, last, how many)."""

    ran: list[tuple[str, float, int]] = field(default_factory=list)
    skipped: list[tuple[str, float, float, int]] = field(default_factory=list)


class Schedules:
    """The unit: steps (``run_once``) and its thread's loop."""

    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        book: ScheduleBook,
        outage: OutageTracker | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.book = book
        self.outage = outage or OutageTracker("schedules", "the store", monotonic=clock.monotonic)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._known: set[str] = set()
        #: wall time of the next tick due among running schedules, as of the last step
        self.next_due: float | None = None
        book.changed = self._wake.set

    def start(self, now: float) -> None:
        """Make the store know every schedule (the first one sets its ``since``)."""
        self._ensure(self.book.specs(), now)

    def _ensure(self, specs: list[ScheduleSpec], now: float) -> None:
        new = [s.name for s in specs if s.name not in self._known]
        if new:
            self._store.ensure_schedules(new, now)
            self._known.update(new)

    # --- the step ------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> TickReport:
        """Claim every due tick of every schedule, as its policy says."""
        now = self._clock.now() if now is None else now
        report = TickReport()
        specs = self.book.specs()
        self.next_due = None
        if not specs:
            return report
        self._ensure(specs, now)
        states = self._store.schedule_states([s.name for s in specs])
        settings = self._store.load_settings()
        for spec in specs:
            state = states.get(spec.name) or ScheduleState(spec.name, since=now)
            if state.paused:
                continue
            category = settings.get(self.book.category(spec))
            if category is not None and category.paused:
                continue  # missed: the policy decides when the category is resumed
            self._claim(spec, state, now, report)
            after = max(now, state.last_tick or now)
            self._note_next(spec.trigger.next_after(after))
        return report

    def _note_next(self, tick: float) -> None:
        if self.next_due is None or tick < self.next_due:
            self.next_due = tick

    def _claim(
        self, spec: ScheduleSpec, state: ScheduleState, now: float, report: TickReport
    ) -> None:
        plan = plan_ticks(spec.trigger, spec.missed, state.last_tick, state.since, now)
        # Skipped ticks are older than the ones to run and are marked first: what is
        # claimed stays one contiguous run of ticks even if this node dies half-way.
        if plan.skip_through is not None and plan.skip_from is not None:
            marked = self._store.claim_tick(
                spec.name, plan.skip_through, None, now, skip_from=plan.skip_from
            )
            if marked is not None:
                report.skipped.append((spec.name, plan.skip_from, plan.skip_through, plan.skipped))
                log.warning(
                    "schedule %s: skipped %s missed tick(s) from %s to %s (missed = %s)",
                    spec.name, plan.skipped if plan.skipped >= 0 else "many",
                    _iso(plan.skip_from), _iso(plan.skip_through), spec.missed.kind,
                    extra={"schedule": spec.name, "event": "skipped"},
                )  # fmt: skip
        for tick in plan.run:
            task = self.book.task(spec, now)
            task_id = self._store.claim_tick(spec.name, tick, task, now)
            if task_id:
                self.book.inserted([task], now)
                report.ran.append((spec.name, tick, task_id))
                log.debug("schedule %s: tick %s is task %d", spec.name, _iso(tick), task_id)

    # --- the thread ----------------------------------------------------------------------
    def loop(self) -> None:
        """The thread body: a step, then sleep until the next tick (at most ``POLL``),
        until :meth:`stop`."""
        tracker = self.outage
        while not self._stopping.is_set():
            try:
                self.run_once()
                tracker.ok()
            except StorageError as exc:
                tracker.failed(exc)
            except Exception:
                log.exception("schedules step failed; retrying")
            wait = POLL
            if self.next_due is not None:
                wait = min(POLL, max(0.005, self.next_due - self._clock.now()))
            self._wake.wait(wait)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()


def _iso(t: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
