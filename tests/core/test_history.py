"""History by the minute (core/history.py): the housekeeper's recorder on its own, then a
stepped node on a fake clock writing a row per category per minute, the client's window,
and retention of the history."""

from __future__ import annotations

import random
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    ConfigError,
    FakeClock,
    InvalidInputError,
    MemoryStore,
    Scheduler,
    SchedulerConfig,
)
from jobsched.core.errors import StoreUnavailableError
from jobsched.core.history import MINUTE, History, MinuteStats, Recorder, minute_of
from jobsched.core.retention import Retention, parse_history

T0 = 1_800_000_000  # a minute's start, where FakeClock starts
NODE = "node-a"


def stats(minute: int, category: str = "email", *figures: Any) -> MinuteStats:
    return MinuteStats(category, T0 + minute * MINUTE, *figures)


def totals(succeeded: int = 0, failed: int = 0, orphaned: int = 0) -> dict[str, int]:
    return {"started": 99, "succeeded": succeeded, "failed": failed, "retried": 7,
            "timed_out": 3, "cancelled": 5, "orphaned": orphaned}  # fmt: skip


# --- the recorder -----------------------------------------------------------------------------
def test_the_recorder_counts_what_moved_and_writes_a_minute_once_it_is_over() -> None:
    store = MemoryStore()
    recorder = Recorder(store, NODE)
    # Given samples through one minute: outcomes move, the queue grows and shrinks
    recorder.sample(T0 + 1, {"email": totals(2, 1), "web": totals()}, {"email": (5, 1.5)})
    recorder.sample(T0 + 30, {"email": totals(6, 1, 2), "web": totals()}, {"email": (9, 4.0)})
    recorder.sample(T0 + 59, {"email": totals(7, 2, 2), "web": totals()}, {"email": (0, None)})
    # Then nothing is written while the minute lasts
    assert recorder.flush() == 0 and store.history(0) == []
    # When the next minute's first sample comes
    recorder.sample(T0 + 61, {"email": totals(8, 2, 2), "web": totals()}, {"email": (1, 0.5)})
    assert recorder.flush() == 1
    # Then the minute has every success, every failure (orphans too), the deepest queue
    # and the longest latency sampled; an idle category wrote no row
    assert store.history(0) == [stats(0, "email", 7, 4, 9, 4.0)]
    # And the minute under way is written when the recorder is closed (a stop), once:
    # a sample that comes later (a step still under way) is left out
    recorder.close()
    recorder.sample(T0 + 62, {"email": totals(9, 2, 2), "web": totals()}, {"email": (3, 9.0)})
    recorder.close()
    assert recorder.flush() == 1 and recorder.flush() == 0
    assert store.history(T0 + MINUTE) == [stats(1, "email", 1, 0, 1, 0.5)]
    assert recorder.written == 2 and recorder.pending == []


def test_minutes_no_sample_fell_in_are_simply_absent() -> None:
    store = MemoryStore()
    recorder = Recorder(store, NODE)
    recorder.sample(T0 + 10, {"email": totals(1)}, {})
    recorder.sample(T0 + 10 + 5 * MINUTE, {"email": totals(4)}, {})  # a node that slept
    recorder.close()
    recorder.flush()
    assert store.history(0) == [stats(0, "email", 1), stats(5, "email", 3)]


def test_a_clock_that_steps_back_counts_on_in_the_minute_under_way() -> None:
    store = MemoryStore()
    recorder = Recorder(store, NODE)
    recorder.sample(T0 + 70, {"email": totals(1)}, {})
    recorder.sample(T0 + 50, {"email": totals(3)}, {})  # back into the previous minute
    recorder.close()
    recorder.flush()
    assert store.history(0) == [stats(1, "email", 3)]


class AddFails(MemoryStore):
    """A store that cannot take history rows while ``down`` is set."""

    down = True

    def add_history(self, node_id: str, rows: Any) -> None:
        if self.down:
            raise StoreUnavailableError("database", "test", "does not answer", "Wait")
        super().add_history(node_id, rows)


def test_rows_the_store_refuses_are_kept_for_the_next_try_and_bounded() -> None:
    store = AddFails()
    recorder = Recorder(store, NODE, max_pending=3)
    for minute in range(4):
        recorder.sample(T0 + minute * MINUTE, {"email": totals(minute + 1)}, {"web": (2, None)})
    # Given three minutes closed (two rows each) while the store is down
    with pytest.raises(StoreUnavailableError):
        recorder.flush()
    # Then the newest three rows are kept, the oldest dropped
    assert [(r.category, r.minute - T0) for r in recorder.pending] == [
        ("web", 60), ("email", 120), ("web", 120)
    ]  # fmt: skip
    assert recorder.dropped == 3
    # And once the store is back they are written, once
    store.down = False
    assert recorder.flush() == 3 and recorder.flush() == 0
    assert len(store.history(0)) == 3


# --- History, the window ----------------------------------------------------------------------
def test_a_history_fills_the_minutes_without_rows_and_adds_up_the_last_ones() -> None:
    history = History(T0, T0 + 4 * MINUTE, (stats(1, "email", 3, 1), stats(3, "email", 5, 2),
                                             stats(2, "web", 9)))  # fmt: skip
    assert [m.succeeded for m in history.series("email")] == [0, 3, 0, 5]
    assert [m.minute for m in history.series("nothing")] == [T0 + n * MINUTE for n in range(4)]
    assert history.totals("email") == (8, 3)
    assert history.totals("email", minutes=1) == (5, 2)
    assert history.minutes == 4


# --- a node writing it ------------------------------------------------------------------------
def stepped(store: MemoryStore, clock: FakeClock, **options: Any) -> Scheduler:
    config = SchedulerConfig(
        workers=2,
        categories={"email": CategoryConfig(max_attempts=1), "web": CategoryConfig()},
        balance_interval=1.0,
        **options,
    )
    sched = Scheduler(config, store, clock=clock, threaded=False, rng=random.Random(1))

    @sched.handler("email.send", category="email")
    def send(payload: Any) -> None:
        if payload == "fail":
            raise RuntimeError("mail server said no")

    sched.handler("web.fetch", category="web")(lambda payload: None)
    return sched


class CountingWrites(MemoryStore):
    """Notes how many rows each history write carries."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def add_history(self, node_id: str, rows: Any) -> None:
        self.writes.append(len(rows))
        super().add_history(node_id, rows)


def test_a_node_writes_a_row_per_category_per_minute_and_its_last_minute_at_stop() -> None:
    clock, store = FakeClock(), CountingWrites()
    sched = stepped(store, clock).start()
    writes = store.writes
    # Given tasks that succeed and fail over two minutes, stepped every second
    sched.submit_many([("email.send", "ok")] * 3 + [("email.send", "fail")] * 2)
    for _ in range(60):
        clock.advance(1)
        sched.step()
    sched.submit_many([("email.send", "ok")] * 4 + [("web.fetch", None)])
    for _ in range(30):
        clock.advance(1)
        sched.step()
    # Then the first minute was written once, in one write, when it was over
    assert writes == [1]
    [first] = sched.history(5).rows
    assert (first.category, first.minute, first.succeeded, first.failed) == ("email", T0, 3, 2)
    assert first.queued >= 1  # sampled before the first step ran them
    # And the minute under way is written at stop, one row per category
    sched.stop()
    assert writes == [1, 2]
    rows = store.history(T0 + MINUTE)
    assert [(r.category, r.succeeded, r.failed) for r in rows] == [("email", 4, 0), ("web", 1, 0)]


def test_the_queue_depth_and_latency_are_sampled_each_second() -> None:
    clock, store = FakeClock(), MemoryStore()
    sched = stepped(store, clock).start()
    sched.set_paused("web", True)
    # Given three web tasks waiting 20 seconds in a paused category
    sched.submit_many([("web.fetch", None)] * 3)
    for _ in range(20):
        clock.advance(1)
        sched.step()
    sched.stop()
    [web] = [r for r in store.history(0) if r.category == "web"]
    assert web.queued == 3 and web.latency == pytest.approx(19.0, abs=1.0)
    assert (web.succeeded, web.failed) == (0, 0)


def test_tasks_failed_as_orphaned_at_a_restart_count_as_failed() -> None:
    clock, store = FakeClock(), MemoryStore()
    # Given a task of one attempt whose node died while running it
    [task_id] = store.insert([stepped(store, clock).build_task("email.send", "ok")], clock.now())
    [task] = store.claim("email", 1, "dead-node", clock.now())
    assert store.record_start(task)
    # When a node starts on the store (its recovery fails the task as orphaned)
    sched = stepped(store, clock).start()
    assert store.get(task_id).reason == "orphaned"  # type: ignore[union-attr]
    sched.stop()
    # Then its history has the failure
    assert [(r.category, r.failed) for r in store.history(0)] == [("email", 1)]
    assert sched.metrics.totals()["email"]["orphaned"] == 1


def test_the_history_window_leaves_out_the_minute_under_way() -> None:
    clock, store = FakeClock(T0 + 10 * MINUTE + 30), MemoryStore()
    store.add_history(NODE, [stats(m, "email", 1) for m in range(12)])
    history = stepped(store, clock).history(3)
    assert (history.start, history.end) == (T0 + 7 * MINUTE, T0 + 10 * MINUTE)
    assert [r.minute for r in history.rows] == [T0 + m * MINUTE for m in (7, 8, 9)]


@pytest.mark.parametrize("minutes", [0, -5, 1.5, "60", True, 366 * 24 * 60 + 1])
def test_a_history_of_a_bad_length_is_refused_naming_it(minutes: Any) -> None:
    sched = stepped(MemoryStore(), FakeClock())
    with pytest.raises(InvalidInputError, match="minutes of history") as info:
        sched.history(minutes)
    assert repr(minutes) in str(info.value) and "e.g. 60" in str(info.value)


# --- retention ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("48h", 172800.0),
        ("7d", 604800.0),
        ("90m", 5400.0),
        ("1h", 3600.0),
        ("forever", None),
        ("Forever", None),
    ],  # fmt: skip
)
def test_the_history_is_kept_for_a_duration_or_forever(value: str, seconds: float | None) -> None:
    assert parse_history(value) == seconds


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("30m", "at least 1h"),
        (10000, "not a duration"),
        ("soon", "not a duration"),
        ("", "not a duration"),
        (True, "not a duration"),
    ],  # fmt: skip
)
def test_a_bad_history_retention_names_the_key_the_value_and_what_works(
    value: object, why: str
) -> None:
    with pytest.raises(ConfigError) as info:
        SchedulerConfig(categories={"email": CategoryConfig()}, history_retention=value).validate()  # type: ignore[arg-type]
    message = str(info.value)
    assert "retention.history" in message and repr(value) in message and why in message
    assert '"48h"' in message  # the hint shows what is accepted


def test_retention_deletes_the_history_past_its_age_a_batch_at_a_time() -> None:
    clock, store = FakeClock(T0 + 100 * MINUTE), MemoryStore()
    store.add_history(NODE, [stats(m, c, 1) for m in range(100) for c in ("email", "web")])
    retention = Retention(store, [], clock, history=3600.0, batch=50)
    deleted = []
    while step := retention.run_once(clock.now()):
        deleted.append(step)
    # The 40 minutes before the last hour's go, 50 rows a batch; the last hour stays
    assert deleted == [50, 30] and retention.history_deleted == 80
    assert minute_of(min(r.minute for r in store.history(0))) == T0 + 40 * MINUTE


def test_a_node_prunes_its_history_by_the_configured_retention() -> None:
    clock, store = FakeClock(T0 + 10 * MINUTE), MemoryStore()
    store.add_history("old-node", [stats(m, "email", 1) for m in range(10)])
    sched = stepped(store, clock, history_retention="1h").start()
    try:
        clock.advance(3600 - 5 * MINUTE)
        sched.step()
        assert [r.minute for r in store.history(0)] == [T0 + m * MINUTE for m in range(5, 10)]
    finally:
        sched.stop()
