"""Retention: finished tasks are deleted after a while, a small batch at a time.

Each terminal state (``succeeded``, ``failed``, ``cancelled``) has a rule: keep its tasks
for a duration (``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``), keep only the newest N
(a whole number), or keep them ``"forever"``. The rules are part of
:class:`core.config.SchedulerConfig` (``retention``) and documented in
``docs/configuration.md``.

:class:`Retention` is the engine's unit that enforces them: each :meth:`Retention.run_once`
asks the store to delete one batch (at most :data:`BATCH` rows, one short transaction),
so the write lock is never held long; :meth:`Retention.run` is its thread's loop, which
pauses briefly between full batches and waits an interval when there is nothing to do.

The history by the minute (``core/history.py``) is kept for ``retention.history`` (a
duration, default :data:`DEFAULT_HISTORY`, at least an hour: the console's last-hour
figures read it; or ``"forever"``): its older rows go a batch at a time too, taking a
turn with the states.

Two things are never deleted:

- a task finished less than :data:`MIN_AGE` seconds ago, whatever the rule (so ``0`` and a
  count of ``0`` mean "at the first pass at least ``MIN_AGE`` after finishing"): a caller
  that submitted a task and then waits for it (``submit(...).result()``, ``jobsched
  wait``, a client polling from another process) reads the finished row first;
- a task an in-process waiter is waiting on (the ``spare`` callable names them), however
  old: the waiter reads the row before it is forgotten.

The unit also deletes old rows of recurring schedules' claimed ticks
(``TaskStore.prune_ticks``), a batch per pass, so that table stops growing. A tick row goes
only once its tick and its claim are both :data:`TICK_HORIZON` older than this node's
clock, and never the newest clock tick of its schedule nor its newest run. That keeps
exactly-once: a plan only ever claims ticks after the newest claimed one, and the store
refuses a clock tick at or before it, so a pruned tick cannot be claimed again, by a node
whose read of the store is stale, whose clock stepped back, or that catches up.

Standard library only; time comes from the injected clock.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError, StorageError
from .history import minute_of
from .outage import OutageTracker
from .task import CANCELLED, FAILED, SUCCEEDED

if TYPE_CHECKING:
    from .clock import Clock
    from .store import TaskStore

log = logging.getLogger("jobsched")

#: The states retention applies to, in the order a pass visits them.
RETAINED_STATES = (SUCCEEDED, FAILED, CANCELLED)
FOREVER = "forever"
#: Seven days for succeeded tasks; thirty for failed and cancelled ones (kept longer:
#: someone may want to look at them or retry them).
DEFAULT_RETENTION: Mapping[str, str | int] = {SUCCEEDED: "7d", FAILED: "30d", CANCELLED: "30d"}
#: How long the history by the minute is kept, and the least it may be kept.
DEFAULT_HISTORY = "48h"
MIN_HISTORY = 3600.0
#: A finished task is kept at least this many seconds, whatever its rule.
MIN_AGE = 10.0
#: Rows deleted per transaction.
BATCH = 500
#: Seconds between two full batches: other writers get the lock in between.
PAUSE = 0.05
#: Seconds between passes that found nothing (more) to delete.
INTERVAL = 2.0
#: A claimed tick's row is kept at least this long after both its tick and its claim: far
#: beyond how stale a node's plan can be (one step) and how far node clocks differ.
TICK_HORIZON = 86400.0

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_HINT = 'Use a duration such as "7d", "12h", "30m" or "45s", a count such as 10000, or "forever"'


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """How long the tasks of one terminal state are kept: ``max_age`` seconds after they
    finished, or the newest ``keep`` of them; both None means forever."""

    state: str
    max_age: float | None = None
    keep: int | None = None

    @property
    def forever(self) -> bool:
        return self.max_age is None and self.keep is None

    def describe(self) -> str:
        if self.max_age is not None:
            return f"{self.max_age:g} s"
        return FOREVER if self.keep is None else f"newest {self.keep}"


@dataclass(frozen=True, slots=True)
class PruneRule:
    """What a store deletes (``TaskStore.prune``): tasks in ``state`` finished strictly
    before ``finished_before`` and, when ``keep`` is set, not among the ``keep`` most
    recently finished of that state (ties broken by id)."""

    state: str
    finished_before: float
    keep: int | None = None


def parse_duration(text: str) -> float | None:
    """Seconds of ``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"`` or ``"1.5h"``; None
    if ``text`` is not such a duration."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        return None
    return float(match[1]) * _UNITS[match[2]]


def parse_rule(state: str, value: object) -> RetentionRule:
    """The rule for ``state`` from a configuration value, or a :class:`ConfigError` naming
    the key (``retention.<state>``) and the value."""
    key = f"retention.{state}"
    if state not in RETAINED_STATES:
        raise ConfigError(
            "retention state",
            state,
            f"is not a finished state ({', '.join(RETAINED_STATES)})",
            "Set retention only for succeeded, failed or cancelled",
        )
    if isinstance(value, bool):
        raise ConfigError(key, value, "is not a duration or a count", _HINT)
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(key, value, "must not be negative", _HINT)
        return RetentionRule(state, keep=value)
    if isinstance(value, str):
        if value.strip().lower() == FOREVER:
            return RetentionRule(state)
        seconds = parse_duration(value)
        if seconds is None or not math.isfinite(seconds):
            raise ConfigError(key, value, "is not a duration, a count or 'forever'", _HINT)
        return RetentionRule(state, max_age=seconds)
    raise ConfigError(key, value, "is not a duration or a count", _HINT)


def parse_rules(values: Mapping[str, object]) -> list[RetentionRule]:
    """Every state's rule: the defaults, overridden by ``values``."""
    for state in values:
        if state not in RETAINED_STATES:
            parse_rule(state, values[state])  # raises, naming the state
    merged = {**DEFAULT_RETENTION, **values}
    return [parse_rule(state, merged[state]) for state in RETAINED_STATES]


def parse_history(value: object) -> float | None:
    """Seconds the history is kept (None: forever) from ``retention.history``, or a
    :class:`ConfigError` naming the key and the value."""
    key, hint = "retention.history", 'Use a duration such as "48h", "7d" or "90m", or "forever"'
    if isinstance(value, str) and value.strip().lower() == FOREVER:
        return None
    seconds = parse_duration(value) if isinstance(value, str) else None
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(key, value, "is not a duration or 'forever' (it is kept by age)", hint)
    if seconds < MIN_HISTORY:
        raise ConfigError(
            key, value, "must be at least 1h (the console's last-hour figures read it)", hint
        )
    return seconds


def prune_rule(rule: RetentionRule, now: float, min_age: float = MIN_AGE) -> PruneRule | None:
    """What to delete under ``rule`` at ``now`` (None: nothing, the rule keeps forever)."""
    if rule.forever:
        return None
    age = min_age if rule.max_age is None else max(min_age, rule.max_age)
    return PruneRule(rule.state, now - age, rule.keep)


class Retention:
    """Deletes finished tasks past their rule, one batch per :meth:`run_once`.

    Built by the scheduler, which runs :meth:`loop` on its own thread
    (``jobsched-retention``) and stops it with the dispatcher and the housekeeper;
    ``Scheduler.step()`` calls :meth:`run_once`. ``jobsched prune`` uses
    :func:`prune_rule` and the store directly. ``spare`` returns the ids some in-process
    waiter still waits on; they are left alone.
    """

    def __init__(
        self,
        store: TaskStore,
        rules: Sequence[RetentionRule],
        clock: Clock,
        *,
        spare: Callable[[], Collection[int]] = frozenset,
        history: float | None = None,
        outage: OutageTracker | None = None,
        batch: int = BATCH,
        min_age: float = MIN_AGE,
        pause: float = PAUSE,
        interval: float = INTERVAL,
        tick_horizon: float = TICK_HORIZON,
    ) -> None:
        self.store = store
        self.rules = [rule for rule in rules if not rule.forever]
        self.clock = clock
        self.spare = spare
        self.history = history  # seconds the history is kept (None: forever)
        self.batch = batch
        self.min_age = min_age
        self.pause = pause
        self.interval = interval
        self.tick_horizon = tick_horizon
        self.deleted = 0  # tasks deleted since start, for status and tests
        self.history_deleted = 0  # rows of history deleted since start
        self.ticks_deleted = 0  # claimed-tick rows deleted since start
        self._next = 0  # the turn the next pass starts with: states and history take turns
        self.outage = outage or OutageTracker(
            "retention", store.location, monotonic=clock.monotonic
        )
        self._stopping = threading.Event()

    def run_once(self, now: float) -> int:
        """Fold the store's count bookkeeping, delete one batch of old claimed-tick rows,
        then one batch of the first state (taking turns, the history's turn after them) that
        has rows past its rule.
        Returns how many rows were deleted."""
        self.store.compact_counts()
        ticks = self.store.prune_ticks(now - self.tick_horizon, self.batch)
        self.ticks_deleted += ticks
        return ticks + self._prune_tasks(now)

    def _prune_tasks(self, now: float) -> int:
        spare = self.spare()
        turns = len(self.rules) + (self.history is not None)
        for turn in range(turns):
            index = (self._next + turn) % turns
            if index == len(self.rules):
                deleted = self._prune_history(now)
            else:
                rule = prune_rule(self.rules[index], now, self.min_age)
                deleted = 0 if rule is None else self.store.prune(rule, self.batch, spare)
                self.deleted += deleted
            if deleted:
                self._next = (index + 1) % turns
                return deleted
        return 0

    def _prune_history(self, now: float) -> int:
        """One batch of the history's minutes older than its retention."""
        assert self.history is not None
        deleted = self.store.prune_history(minute_of(now - self.history), self.batch)
        self.history_deleted += deleted
        return deleted

    def loop(self) -> None:
        """The thread's body: a batch, then a short pause if it was full (more is
        waiting), else the interval; until :meth:`stop`. Never raises."""
        while not self._stopping.is_set():
            deleted = 0
            try:
                deleted = self.run_once(self.clock.now())
                self.outage.ok()
            except StorageError as exc:
                self.outage.failed(exc)
            except Exception:
                log.exception("retention step failed; retrying")
            self._stopping.wait(self.pause if deleted >= self.batch else self.interval)

    def stop(self) -> None:
        """Ask :meth:`loop` to end after its current batch (one short transaction)."""
        self._stopping.set()
