"""Start order, module-level handlers, and the timer on real threads."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from jobsched.core import CategoryConfig, ConfigError, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.clock import SystemClock
from jobsched.core.timer import Timer

from tests.timing import StallProbe


class RecordingStore(MemoryStore):
    """A real in-memory store that also records which methods ran, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if name in {"open", "recover", "load_settings", "counts", "claim", "promote_due", "close"}:
            calls = super().__getattribute__("calls")

            def recorded(*args: Any, **kwargs: Any) -> Any:
                calls.append(name)
                return attr(*args, **kwargs)

            return recorded
        return attr


def test_start_opens_then_recovers_then_loads_settings_before_anything_claims() -> None:
    store = RecordingStore()
    sched = Scheduler(
        SchedulerConfig(workers=2, categories={"a": CategoryConfig()}), store, threaded=False
    )
    sched.start()
    sched.step()
    sched.stop()
    first = {
        name: store.calls.index(name) for name in ("open", "recover", "load_settings", "claim")
    }
    assert first["open"] < first["recover"] < first["load_settings"] < first["claim"]
    assert store.calls[-1] == "close"


def test_failed_open_leaves_the_scheduler_stopped() -> None:
    class BrokenStore(MemoryStore):
        def recover(self, node_id: str, now: float) -> Any:
            raise RuntimeError("disk on fire")

    store = BrokenStore()
    sched = Scheduler(SchedulerConfig(workers=1, categories={"a": CategoryConfig()}), store)
    with pytest.raises(RuntimeError):
        sched.start()
    assert sched.state == "stopped" and store.opened is False
    assert sched.threads == {}


def test_module_level_handlers_of_listed_modules_are_picked_up() -> None:
    config = SchedulerConfig(
        workers=1,
        categories={"email": CategoryConfig()},
        handlers=("tests.core.fixtures.mod_handlers",),
    )
    with Scheduler(config) as sched:
        handle = sched.submit("email.welcome", {"to": "a@b.c"})
        assert handle.result(timeout=10) == {"to": "a@b.c", "task": handle.id, "attempt": 1}
        assert sched.get(handle.id).max_attempts == 5


def test_handler_module_that_cannot_be_imported_is_a_config_error() -> None:
    config = SchedulerConfig(
        workers=1, categories={"email": CategoryConfig()}, handlers=("no_such.module",)
    )
    with pytest.raises(ConfigError, match="no_such.module"):
        Scheduler(config)


def test_handler_for_an_unconfigured_category_is_a_config_error() -> None:
    sched = Scheduler(SchedulerConfig(workers=1, categories={"email": CategoryConfig()}))
    with pytest.raises(ConfigError, match="category 'web': is not configured"):
        sched.handler("web.fetch")(lambda p: p)


def test_timer_wakes_at_the_earliest_deadline_not_before() -> None:
    clock = SystemClock()
    timer = Timer(clock)
    start = clock.monotonic()
    timer.schedule_mono(start + 0.15)
    timer.schedule_mono(start + 5.0)
    timer.wait(10.0)
    woke = clock.monotonic() - start
    assert 0.15 <= woke < 1.0
    assert timer.pop_due() is True
    assert timer.next_deadline() == pytest.approx(start + 5.0)


def test_timer_wake_interrupts_a_long_wait() -> None:
    timer = Timer(SystemClock())
    threading.Timer(0.05, timer.wake).start()
    start = time.monotonic()
    timer.wait(10.0)
    assert time.monotonic() - start < 5.0


def test_delayed_tasks_on_real_threads_start_when_due_never_early() -> None:
    sched = Scheduler(SchedulerConfig(workers=2, categories={"a": CategoryConfig(min_workers=1)}))
    started: dict[int, float] = {}
    done = threading.Event()

    @sched.handler("a.mark")
    def mark(payload: Any) -> None:
        from jobsched.core import current_task

        started[current_task().id] = time.time()
        if len(started) == 20:
            done.set()

    with StallProbe() as probe, sched:
        due = {}
        for i in range(20):
            h = sched.submit("a.mark", {}, delay=0.2 + i * 0.01)
            due[h.id] = sched.get(h.id).run_at
        assert done.wait(10)
    lateness = sorted(started[i] - due[i] for i in due)
    assert lateness[0] >= 0, f"a task started {-lateness[0]:.4f} s early"
    # (plus the stall the machine imposed on every thread meanwhile: tests/timing.py)
    assert lateness[-1] < 0.5 + probe.worst, f"worst lateness {lateness[-1]:.3f} s"
