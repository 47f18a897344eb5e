"""The schedules unit on fake clocks: one task per tick across nodes sharing a store, a
restart's catch-up as its policy says, and a property test over crashes and clock steps."""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobsched.core import CategoryConfig, Client, FakeClock, MemoryStore, SchedulerConfig
from jobsched.core.retention import TICK_HORIZON
from jobsched.core.schedule_spec import ScheduleState
from jobsched.core.schedules import Schedules
from jobsched.core.store import TaskStore
from jobsched.storage import SqliteStore

from jobsched import Scheduler

T0 = 1_800_000_000.0
CONFIG = SchedulerConfig(workers=2, categories={"email": CategoryConfig()})


def node(store: TaskStore, clock: FakeClock | None = None, **options: Any) -> Schedules:
    """A node's schedules unit: its own client, handler and schedule ``beat``."""
    client = Client(CONFIG, store, clock or FakeClock(T0))
    client.handler("email.beat", category="email")(lambda payload: None)
    client.schedule("beat", "email.beat", **{"every": "10s", **options})
    return Schedules(store, client.clock, client.schedules)


def tasks_in(store: TaskStore) -> int:
    return sum(store.counts().get("email", {}).values())


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "jobs.db"))
    store.open("node-a")
    yield store
    store.close()


def test_two_nodes_make_one_task_per_tick() -> None:
    # Given two nodes on one store, stepping in turn, slightly apart
    store = MemoryStore()
    a, b = node(store), node(store)
    a.start(T0)
    b.start(T0)
    ran: list[float] = []
    # When 30 ticks pass
    for step in range(1, 61):
        now = T0 + step * 5
        ran += [tick for _, tick, _ in a.run_once(now).ran]
        ran += [tick for _, tick, _ in b.run_once(now + 0.3).ran]
    # Then every tick has exactly one task
    assert ran == [T0 + 10 * k for k in range(1, 31)]
    assert tasks_in(store) == 30


@pytest.mark.parametrize(
    ("options", "tasks_after_restart"),
    [
        ({}, 1),  # skip: the current period's tick only
        ({"missed": "catch_up"}, 1),  # catch_up latest: one task for the newest missed
        ({"missed": "catch_up", "catch_up": "all", "max_catch_up": 100}, 30),
        ({"missed": "catch_up", "catch_up": "all", "max_catch_up": 7}, 7),
    ],
)
def test_a_restarted_sqlite_node_catches_up_as_its_policy_says(
    tmp_path: Path, options: dict[str, Any], tasks_after_restart: int
) -> None:
    path = str(tmp_path / "jobs.db")
    clock = FakeClock(T0)
    # Given a node that ran ticks for a minute, then stopped
    store = SqliteStore(path)
    store.open("node-a")
    unit = node(store, clock, **options)
    unit.start(clock.now())
    for _ in range(12):
        clock.advance(5)
        unit.run_once()
    before = tasks_in(store)
    assert before == 6
    store.close()
    # When it starts again 300 s later (30 ticks missed) and steps once, then again
    clock.advance(300)
    store = SqliteStore(path)
    store.open("node-a")
    unit = node(store, clock, **options)
    unit.start(clock.now())
    first = unit.run_once()
    again = unit.run_once()
    # Then the policy's number of tasks ran, no more, and the rest are marked skipped
    assert tasks_in(store) - before == tasks_after_restart
    assert len(first.ran) == tasks_after_restart and again.ran == []
    skipped = sum(n for *_, n in first.skipped)
    assert skipped + tasks_after_restart == 30
    store.close()


def test_a_paused_schedule_runs_nothing_and_resumes_from_its_next_tick() -> None:
    store = MemoryStore()
    clock = FakeClock(T0)
    unit = node(store, clock, missed="catch_up", catch_up="all")
    unit.start(T0)
    unit.book.set_paused("beat", True)
    clock.advance(100)
    assert unit.run_once().ran == []
    unit.book.set_paused("beat", False)
    clock.advance(10)
    assert [tick for _, tick, _ in unit.run_once().ran] == [T0 + 110]


def test_a_paused_category_misses_ticks_and_the_policy_applies_on_resume() -> None:
    store = MemoryStore()
    clock = FakeClock(T0)
    client = Client(CONFIG, store, clock)
    client.handler("email.beat", category="email")(lambda payload: None)
    client.schedule("beat", "email.beat", every="10s", missed="catch_up")
    unit = Schedules(store, clock, client.schedules)
    unit.start(T0)
    client.set_paused("email", True)
    clock.advance(100)
    assert unit.run_once().ran == []
    client.set_paused("email", False)
    assert [tick for _, tick, _ in unit.run_once().ran] == [T0 + 100]


def test_run_now_inserts_a_due_task_and_does_not_count_as_a_tick() -> None:
    store = MemoryStore()
    clock = FakeClock(T0 + 3)
    unit = node(store, clock)
    unit.start(clock.now())
    task_id = unit.book.run_now("beat")
    assert store.get(task_id).state == "queued"
    clock.advance(7)
    assert [tick for _, tick, _ in unit.run_once().ran] == [T0 + 10]


def test_a_scheduler_runs_its_periodic_handler_on_each_tick() -> None:
    clock = FakeClock(T0)
    sched = Scheduler(CONFIG, clock=clock, threaded=False)
    seen: list[Any] = []
    sched.periodic(every="10s", category="email", payload={"n": 1})(seen.append)
    sched.start()
    for _ in range(10):
        clock.advance(5)
        sched.step()
    sched.run_until_idle()
    sched.stop()
    assert seen == [{"n": 1}] * 5


def test_a_node_prunes_tick_rows_past_the_horizon_and_still_runs_each_tick_once(
    tmp_path: Path,
) -> None:
    # Given a stepped node on a SQLite file with an hourly schedule, for 30 hours
    path = tmp_path / "jobs.db"
    clock = FakeClock(T0)
    sched = Scheduler(CONFIG, SqliteStore(str(path)), clock=clock, threaded=False)

    @sched.periodic(every="1h", category="email")
    def hourly(payload: Any) -> None:
        pass

    sched.start()
    try:
        for _ in range(30):
            clock.advance(3600)
            sched.step()
        # Then its retention deleted the tick rows older than a day, not the others
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute(
                "SELECT count(*), min(tick), max(tick) FROM schedule_ticks"
            ).fetchone()
        now = clock.now()
        assert TICK_HORIZON == 24 * 3600
        assert (rows[0], rows[1], rows[2]) == (25, now - TICK_HORIZON, now)
        assert sched.retention.ticks_deleted == 5
        # And every hour ran once
        assert tasks_in(sched.store) == 30
    finally:
        sched.stop(grace=0)


# --- the property: no duplicate, no silent gap ---------------------------------------------
class Recorded:
    """The store as every node sees it, noting each claim the store accepted; with
    ``dies_after``, the node using it dies after that many claims (mid-plan)."""

    def __init__(self, store: TaskStore, claims: list[tuple[float, int, float | None]],
                 dies_after: int | None = None) -> None:  # fmt: skip
        self._store, self._claims, self._left = store, claims, dies_after

    def claim_tick(self, name: str, tick: float, task: Any, now: float, **kw: Any) -> int | None:
        if self._left is not None:
            if self._left <= 0:
                raise KeyboardInterrupt("node died")
            self._left -= 1
        task_id = self._store.claim_tick(name, tick, task, now, **kw)
        if task_id is not None:
            self._claims.append((tick, task_id, kw.get("skip_from")))
        return task_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Stale(Recorded):
    """The store as a node sees it whose read of the schedules is old (it read, then
    stalled): ``schedule_states`` answers what the store said back then."""

    def __init__(self, store: TaskStore, claims: list[tuple[float, int, float | None]],
                 states: dict[str, Any]) -> None:  # fmt: skip
        super().__init__(store, claims)
        self._states = states

    def schedule_states(self, names: Any = None) -> dict[str, Any]:
        return {n: s for n, s in self._states.items() if names is None or n in names}


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0.5, 120)),
        st.tuples(st.just("step"), st.integers(0, 2)),
        st.tuples(st.just("crash"), st.integers(0, 2), st.integers(0, 3)),
        st.tuples(st.just("jump"), st.integers(0, 2), st.floats(-60, 60)),
        # old tick rows pruned, with horizons far shorter than the retention unit's
        st.tuples(st.just("prune"), st.floats(0, 60), st.integers(1, 5)),
        # a node steps on what it read k steps ago
        st.tuples(st.just("stale"), st.integers(0, 2), st.integers(0, 5)),
    ),
    max_size=60,
)
POLICIES = st.sampled_from(
    [{}, {"missed": "catch_up"}, {"missed": "catch_up", "catch_up": "all", "max_catch_up": 4}]
)


def replay(
    store: TaskStore, ops: list[tuple[Any, ...]], options: dict[str, Any]
) -> list[tuple[float, int, float | None]]:
    """Three nodes with their own clock offsets; returns every claim the store accepted."""
    claims: list[tuple[float, int, float | None]] = []
    seen: Any = Recorded(store, claims)
    units = [node(seen, **options) for _ in range(3)]
    offsets = [0.0, 0.0, 0.0]
    now = T0
    units[0].start(now)
    reads = [store.schedule_states()]  # what the store said before each step
    for op in ops:
        if op[0] == "advance":
            now += op[1]
        elif op[0] == "step":
            reads.append(store.schedule_states())
            units[op[1]].run_once(now + offsets[op[1]])
        elif op[0] == "jump":
            offsets[op[1]] += op[2]
        elif op[0] == "prune":
            store.prune_ticks(now - op[1], op[2])
        elif op[0] == "stale":
            old = reads[max(0, len(reads) - 1 - op[2])]
            node(Stale(store, claims, old), **options).run_once(now + offsets[op[1]])
        else:  # the node dies part-way through a step, and restarts
            with contextlib.suppress(KeyboardInterrupt):
                node(Recorded(store, claims, op[2]), **options).run_once(now + offsets[op[1]])
            units[op[1]] = node(seen, **options)
    return claims


def check(claims: list[tuple[float, int, float | None]], store: TaskStore) -> None:
    ran = [tick for tick, task_id, _ in claims if task_id]
    assert not [t for t, n in Counter(ran).items() if n > 1], "a tick ran twice"
    assert tasks_in(store) == len(ran)
    covered = set(ran)
    for tick, task_id, first in claims:
        if not task_id:
            assert first is not None
            covered.update(first + 10 * k for k in range(int(round((tick - first) / 10)) + 1))
    if covered:
        expected = set(range(int(min(covered)), int(max(covered)) + 1, 10))
        assert {int(t) for t in covered} == expected, "a tick was skipped silently"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_stale_node_does_not_run_ticks_again_after_their_rows_were_pruned(
    kind: str, tmp_path: Path
) -> None:
    # Given a node that caught up four ticks, and rows pruned down to the newest tick
    store: TaskStore = MemoryStore()
    if kind == "sqlite":
        store = SqliteStore(str(tmp_path / "jobs.db"))
        store.open(None)
    options = {"missed": "catch_up", "catch_up": "all", "max_catch_up": 4}
    claims = replay(store, [("advance", 40.0), ("step", 0), ("advance", 5.0),
                            ("prune", 1.0, 5)], options)  # fmt: skip
    assert len(claims) == 4
    # When a node steps on what it read before those ticks were claimed (it stalled)
    claims += replay_stale(store, options, T0 + 45)
    # Then it claims nothing: each of the four ticks ran once
    check(claims, store)
    assert tasks_in(store) == 4
    store.close()


def replay_stale(
    store: TaskStore, options: dict[str, Any], now: float
) -> list[tuple[float, int, float | None]]:
    claims: list[tuple[float, int, float | None]] = []
    first = {"beat": ScheduleState("beat", since=T0)}
    node(Stale(store, claims, first), **options).run_once(now)
    return claims


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, options=POLICIES)
def test_no_duplicate_and_no_silent_gap_on_a_memory_store(
    ops: list[tuple[Any, ...]], options: dict[str, Any]
) -> None:
    store = MemoryStore()
    check(replay(store, ops, options), store)


@pytest.mark.timeout(120)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(ops=OPS, options=POLICIES)
def test_no_duplicate_and_no_silent_gap_on_a_sqlite_file(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[Any, ...]], options: dict[str, Any]
) -> None:
    store = SqliteStore(str(tmp_path_factory.mktemp("ticks") / "jobs.db"))
    store.open(None)
    try:
        check(replay(store, ops, options), store)
    finally:
        store.close()
