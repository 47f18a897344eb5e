"""The schedules a client knows, and what an operator does with them.

:class:`ScheduleBook` holds the :class:`~.schedule_spec.ScheduleSpec` of every schedule
declared in the configuration or registered from Python (``sched.schedule(...)``,
``@sched.periodic(...)``), checks each against the handlers when it is added, and carries
the operator's actions (pause, resume, run now, the status list) out through the store, so
that they work the same from a node, the CLI or the console. The ticking itself is the
:class:`~.schedules.Schedules` unit's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .clock import Clock
from .errors import ConfigError, InvalidInputError
from .handlers import HandlerSpec
from .schedule_spec import CATCH_UP, MissedPolicy, ScheduleSpec, ScheduleState, build_trigger
from .store import TaskStore
from .task import NewTask
from .trigger import Trigger

#: Builds the task of one run: (handler, payload, dedup key) -> the row to insert.
TaskBuilder = Callable[[str, Any, "str | None"], NewTask]


class UnknownScheduleError(InvalidInputError):
    """An operator named a schedule that is not configured."""


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """One schedule as ``jobsched schedules`` and the console show it."""

    name: str
    handler: str
    category: str
    spec: str
    missed: str
    paused: bool
    next_run: float | None
    last_run: float | None
    last_task_id: int | None
    last_state: str | None

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def policy_text(policy: MissedPolicy) -> str:
    if policy.kind == CATCH_UP:
        return f"catch_up {policy.catch_up}" + (
            f" (max {policy.max_catch_up})" if policy.catch_up == "all" else ""
        )
    return "skip"


class ScheduleBook:
    """The schedules of one client; thread-safe."""

    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        handlers: Mapping[str, HandlerSpec],
        build: TaskBuilder,
        inserted: Callable[[list[NewTask], float], None] = lambda rows, now: None,
    ) -> None:
        self._store = store
        #: tells the engine of this process about a task a claim inserted
        self.inserted = inserted
        self._clock = clock
        self._handlers = handlers
        self._build = build
        self._lock = threading.Lock()
        self._specs: dict[str, ScheduleSpec] = {}
        #: called after a schedule is added or changed, so a running unit looks again
        self.changed: Callable[[], None] = lambda: None

    def add(self, spec: ScheduleSpec) -> ScheduleSpec:
        """Check ``spec`` against the handlers (a ConfigError naming the schedule) and add
        it; a name already taken is refused."""
        spec.validate()
        handler = self._handlers.get(spec.handler)
        if handler is None:
            raise ConfigError(
                f"schedule {spec.name!r}: handler", spec.handler, "is not registered",
                f"Register it or use one of {', '.join(sorted(self._handlers)) or 'none'}",
            )  # fmt: skip
        try:
            self._build(spec.handler, spec.payload, spec.key)
        except InvalidInputError as exc:
            raise ConfigError(f"schedule {spec.name!r}: {exc.what}", exc.value, exc.why,
                              exc.hint) from None  # fmt: skip
        with self._lock:
            if spec.name in self._specs:
                raise ConfigError(
                    "schedule", spec.name, "is declared twice", "Give each schedule its own name"
                )
            self._specs[spec.name] = spec
        self.changed()
        return spec

    def define(
        self, name: str, handler: str, *, cron: str | None = None,
        every: float | str | None = None, trigger: Trigger | None = None,
        timezone: str = "UTC", payload: Any = None, key: str | None = None,
        missed: str = "skip", catch_up: str = "latest", max_catch_up: int = 100,
        grace: float = 60.0,
    ) -> ScheduleSpec:  # fmt: skip
        """Build and :meth:`add` a schedule from its parts (the TOML keys, by name)."""
        policy = MissedPolicy(missed, catch_up, max_catch_up, grace)
        made = build_trigger(name, cron, every, timezone, trigger)
        return self.add(ScheduleSpec(name, handler, made, payload, key, policy))

    def handler_names(self) -> list[str]:
        return list(self._handlers)

    def specs(self) -> list[ScheduleSpec]:
        with self._lock:
            return list(self._specs.values())

    def get(self, name: str) -> ScheduleSpec:
        with self._lock:
            spec = self._specs.get(name)
            known = sorted(self._specs)
        if spec is None:
            raise UnknownScheduleError(
                "schedule", name, "is not configured",
                f"Use one of: {', '.join(known)}" if known else "Add a [[schedules]] entry",
            )  # fmt: skip
        return spec

    def category(self, spec: ScheduleSpec) -> str:
        category = self._handlers[spec.handler].category
        assert category is not None
        return category

    def task(self, spec: ScheduleSpec, now: float) -> NewTask:
        """The row one run of ``spec`` inserts, due at ``now``."""
        return replace(self._build(spec.handler, spec.payload, spec.key), run_at=now)

    # --- operators ----------------------------------------------------------------------
    def set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume for every node on the store. Ticks that pass while paused are
        not run, whatever the missed policy: a resumed schedule runs from its next tick."""
        self.get(name)
        now = self._clock.now()
        self._store.ensure_schedules([name], now)
        self._store.set_schedule_paused(name, paused, now)
        self.changed()

    def run_now(self, name: str) -> int:
        """Insert one run of ``name`` now, beside its ticks (not counted as one); its id."""
        spec = self.get(name)
        now = self._clock.now()
        self._store.ensure_schedules([name], now)
        task = self.task(spec, now)
        task_id = self._store.claim_tick(name, now, task, now, manual=True)
        if task_id is None:  # another run-now at the very same instant
            task_id = self._store.claim_tick(name, now + 1e-6, task, now, manual=True)
        if not task_id:
            raise ConfigError("schedule", name, "could not be run now (try again)", "")
        self.inserted([task], now)
        return task_id

    def infos(self) -> list[ScheduleInfo]:
        """Every schedule with its next run, last run and outcome, sorted by name."""
        specs = sorted(self.specs(), key=lambda s: s.name)
        states = self._store.schedule_states([s.name for s in specs]) if specs else {}
        now = self._clock.now()
        return [self._info(spec, states.get(spec.name), now) for spec in specs]

    def _info(self, spec: ScheduleSpec, state: ScheduleState | None, now: float) -> ScheduleInfo:
        state = state or ScheduleState(spec.name, since=now)
        after = max(now, state.last_tick or now, state.since)
        return ScheduleInfo(
            name=spec.name, handler=spec.handler, category=self.category(spec),
            spec=spec.trigger.description, missed=policy_text(spec.missed),
            paused=state.paused, next_run=None if state.paused else spec.trigger.next_after(after),
            last_run=state.last_run_at, last_task_id=state.last_task_id,
            last_state=state.last_state,
        )  # fmt: skip


class ScheduleMethods:
    """The schedule API of :class:`~.client.Client` and :class:`~.scheduler.Scheduler`."""

    @property
    def schedules(self) -> ScheduleBook:
        raise NotImplementedError

    def handler(self, name: str, *, category: str | None = None) -> Callable[[Any], Any]:
        raise NotImplementedError

    def schedule(self, name: str, handler: str, **options: Any) -> ScheduleSpec:
        """Run ``handler`` on a schedule: ``cron="*/5 * * * *"`` (with ``timezone=``),
        ``every="30s"`` or ``trigger=jobsched.cron(...)``; also ``payload``, ``key``
        (dedup), ``missed`` ("skip" or "catch_up"), ``catch_up`` ("latest" or "all"),
        ``max_catch_up``, ``grace``. A running node starts ticking it at once."""
        return self.schedules.define(name, handler, **options)

    def periodic(
        self, cron: str | None = None, *, every: float | str | None = None,
        name: str | None = None, handler: str | None = None, category: str | None = None,
        **options: Any,
    ) -> Callable[[Any], Any]:  # fmt: skip
        """``@sched.periodic(cron="0 * * * *")`` on a function: registers it as a handler
        (named ``handler``, default the function's name; reused if already registered)
        and schedules it (named ``name``, default the handler's name)."""

        def decorate(fn: Any) -> Any:
            handler_name = handler or fn.__name__
            if handler_name not in self.schedules.handler_names():
                self.handler(handler_name, category=category)(fn)
            self.schedule(name or handler_name, handler_name, cron=cron, every=every, **options)
            return fn

        return decorate

    def schedule_infos(self) -> list[ScheduleInfo]:
        """Every schedule: spec, next run, last run and its outcome, paused."""
        return self.schedules.infos()

    def pause_schedule(self, name: str) -> None:
        self.schedules.set_paused(name, True)

    def resume_schedule(self, name: str) -> None:
        self.schedules.set_paused(name, False)

    def run_schedule_now(self, name: str) -> int:
        """Insert one run of schedule ``name`` now; returns its task id."""
        return self.schedules.run_now(name)
