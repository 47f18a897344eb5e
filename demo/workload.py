"""A synthetic mixed workload for the demo: a steady trickle plus periodic bursts.

The trickle keeps every category busy a little; each burst floods one category (web,
heavy, email, flaky in turn), so the balancer visibly moves workers towards it and back.
Everything random comes from one seeded generator, so the same seed and the same step
times submit the same tasks.

The console's demo mode runs it beside a scheduler and the demo servers. Start the
servers first (handlers need them), then the scheduler, then the workload; stop in the
reverse order, so the scheduler's graceful stop finishes its tasks against live servers::

    with DemoServers(), Scheduler(config) as sched, DemoWorkload(sched, seed=1):
        ...                                  # or workload.start() ... workload.stop()

Tests call :meth:`DemoWorkload.run_once` with chosen times instead of starting the thread.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from jobsched.core import Clock, SystemClock

log = logging.getLogger("jobsched.demo")


class Submitter(Protocol):
    """What the workload submits through: a :class:`core.Client` or :class:`core.Scheduler`."""

    def submit_many(self, items: Sequence[Any]) -> list[int]: ...


def _default_mix() -> Mapping[str, float]:
    return MappingProxyType(
        {"email.send": 4.0, "web.fetch": 3.0, "heavy.hash": 1.0, "flaky.op": 2.0}
    )


@dataclass(frozen=True)
class WorkloadPlan:
    """How much work the demo makes, and of which kind."""

    #: Tasks per second of the steady trickle, spread over ``mix`` (handler -> weight).
    trickle_per_second: float = 5.0
    mix: Mapping[str, float] = field(default_factory=_default_mix)
    #: Seconds from the first step to the first burst, then between bursts.
    first_burst_after: float = 4.0
    burst_interval: float = 12.0
    #: Bursts in turn: (handler, how many tasks).
    bursts: tuple[tuple[str, int], ...] = (
        ("web.fetch", 80),
        ("heavy.hash", 40),
        ("email.send", 300),
        ("flaky.op", 60),
    )
    web_pages: int = 500
    web_latency_ms: tuple[int, int] = (50, 400)
    heavy_cost: int = 500_000
    flaky_fail_rate: float = 0.3
    flaky_work_ms: int = 100
    #: At most this many trickle tasks per step, so a late step does not flood the store.
    max_trickle_per_step: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "mix", MappingProxyType(dict(self.mix)))
        if (
            self.trickle_per_second < 0
            or not self.mix
            or min(self.mix.values()) < 0
            or sum(self.mix.values()) <= 0
        ):
            raise ValueError(
                "a workload plan needs trickle_per_second >= 0 and a mix with positive weights"
            )
        if self.burst_interval <= 0 or self.first_burst_after < 0:
            raise ValueError("burst_interval must be above 0 and first_burst_after at least 0")
        low, high = self.web_latency_ms
        if not 0 <= low <= high:
            raise ValueError(
                f"web_latency_ms {self.web_latency_ms!r} must be (low, high) with 0 <= low <= high"
            )


class DemoWorkload:
    """Submits the demo's tasks. ``run_once(now)`` is one step; ``start()`` runs steps in a
    thread every ``tick`` seconds until ``stop()``."""

    def __init__(
        self,
        submitter: Submitter,
        *,
        seed: int = 0,
        plan: WorkloadPlan | None = None,
        clock: Clock | None = None,
        tick: float = 0.25,
        history: int = 10_000,
    ) -> None:
        self.submitter = submitter
        self.seed = seed
        self.plan = plan or WorkloadPlan()
        self.clock: Clock = clock or SystemClock()
        self.tick = tick
        self._rng = random.Random(seed)
        self._handlers = list(self.plan.mix)
        self._weights = list(self.plan.mix.values())
        self._last: float | None = None
        self._credit = 0.0
        self._next_burst = 0.0
        self._burst_index = 0
        self._sequence = 0
        self._changed = threading.Condition()
        self._submitted: deque[tuple[int, str]] = deque(maxlen=history)
        self._counts: Counter[str] = Counter()
        self._total = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one step
    def run_once(self, now: float) -> list[int]:
        """Submit the trickle due since the last step, plus a burst if one is due.

        ``now`` is monotonic seconds. Returns the ids submitted; raises what the
        submitter raises, and that step's tasks are dropped (the thread loop logs it and
        carries on).
        """
        items = self.plan_step(now)
        if not items:
            return []
        ids = self.submitter.submit_many(items)
        with self._changed:
            for task_id, item in zip(ids, items, strict=True):
                self._submitted.append((task_id, item[0]))
                self._counts[item[0]] += 1
            self._total += len(ids)
            self._changed.notify_all()
        return ids

    def plan_step(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """The ``(handler, payload)`` items a step at ``now`` submits (advances the state)."""
        if self._last is None:
            self._last = now
            self._next_burst = now + self.plan.first_burst_after
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._credit = min(
            self._credit + elapsed * self.plan.trickle_per_second,
            float(self.plan.max_trickle_per_step),
        )
        count = int(self._credit)
        self._credit -= count
        items = [self._item(h) for h in self._rng.choices(self._handlers, self._weights, k=count)]
        if self.plan.bursts and now >= self._next_burst:
            handler, size = self.plan.bursts[self._burst_index % len(self.plan.bursts)]
            self._burst_index += 1
            # From now, not from the missed time: a late step makes one burst, not several.
            self._next_burst = now + self.plan.burst_interval
            items.extend(self._item(handler) for _ in range(size))
        return items

    def _item(self, handler: str) -> tuple[str, dict[str, Any]]:
        self._sequence += 1
        n = self._sequence
        rng = self._rng
        if handler == "email.send":
            payload: dict[str, Any] = {
                "to": f"user{rng.randrange(100)}@example.test",
                "subject": f"Demo message {n}",
                "body": f"Message {n} of the jobsched demo workload (seed {self.seed}).",
            }
        elif handler == "web.fetch":
            low, high = self.plan.web_latency_ms
            payload = {
                "page": rng.randrange(1, self.plan.web_pages + 1),
                "latency_ms": rng.randint(low, high),
            }
        elif handler == "heavy.hash":
            payload = {
                "data": f"block-{n}",
                "salt": f"seed-{self.seed}",
                "cost": self.plan.heavy_cost,
            }
        elif handler == "flaky.op":
            payload = {
                "fail_rate": self.plan.flaky_fail_rate,
                "work_ms": self.plan.flaky_work_ms,
                "seed": f"{self.seed}-{n}",
            }
        else:
            payload = {"n": n}
        return handler, payload

    # --- what was submitted
    def submitted(self) -> list[tuple[int, str]]:
        """``(task id, handler)`` of the most recent submits (up to ``history``), oldest first."""
        with self._changed:
            return list(self._submitted)

    def counts(self) -> dict[str, int]:
        """Tasks submitted so far, by handler."""
        with self._changed:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._changed:
            return self._total

    def wait_submitted(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` tasks were submitted; False if ``timeout`` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: self._total >= count, timeout)

    # --- the thread
    def start(self) -> DemoWorkload:
        if self._thread is not None:
            raise RuntimeError("the demo workload is already started")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="jobsched-demo-workload", daemon=True
        )
        self._thread.start()
        return self

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.run_once(self.clock.monotonic())
                failing = False
            except Exception:
                # Log the first failure of a run of them; the scheduler may be stopping.
                if not failing:
                    log.exception("demo workload: a submit failed; retrying every %gs", self.tick)
                failing = True
            self._stop.wait(self.tick)

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the loop to stop and join it; False if it did not end within ``timeout``."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> DemoWorkload:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
