"""The engine's units driven alone, through their public steps: the completer, the
heartbeat's counters and the FIFO arithmetic every reader shares."""

from __future__ import annotations

import threading

import pytest
from jobsched.core.claims import Claims
from jobsched.core.clock import FakeClock
from jobsched.core.completer import Completer
from jobsched.core.counters import NodeCounters
from jobsched.core.errors import StoreUnavailableError
from jobsched.core.memory_store import MemoryStore
from jobsched.core.snapshot import Metrics, operator_view
from jobsched.core.task import FAILED, SCHEDULED, SUCCEEDED, NewTask, Outcome
from jobsched.core.waiters import Waiters

T0 = 1_700_000_000.0


class Retries:
    def __init__(self) -> None:
        self.due: list[float] = []
        self.now: list[set[str]] = []

    def schedule_due(self, run_at: float) -> None:
        self.due.append(run_at)

    def retry_now(self, categories: set[str]) -> None:
        self.now.append(categories)


def completer_with_claims(count: int) -> tuple[Completer, MemoryStore, Retries, Metrics, list]:
    store = MemoryStore()
    store.insert([NewTask("a.x", "a", "null", T0, 3) for _ in range(count)], T0)
    claims = Claims()
    tasks = store.claim("a", count, "node", T0)
    claims.add(tasks)
    retries = Retries()
    metrics = Metrics(["a"])
    completer = Completer(store, FakeClock(T0), claims, Waiters(), metrics, retries)
    return completer, store, retries, metrics, tasks


def test_the_completer_writes_a_batch_counts_it_and_sends_retries_on() -> None:
    # Given three claimed tasks: one succeeded, one to retry later, one to retry now
    completer, store, retries, metrics, tasks = completer_with_claims(3)
    done, later, now = tasks
    completer.put(Outcome(done.id, "node", 1, SUCCEEDED, T0, result="1"))
    completer.put(Outcome(later.id, "node", 1, SCHEDULED, T0, error="e", run_at=T0 + 30))
    completer.put(Outcome(now.id, "node", 1, SCHEDULED, T0, error="e", run_at=T0))
    # When one step runs
    assert completer.run_once(0)
    # Then one batch was written, counted, and the retries went to the dispatcher
    assert completer.pending() == 0 and not completer.run_once(0)
    assert store.get(done.id).state == SUCCEEDED  # type: ignore[union-attr]
    assert retries.due == [T0 + 30] and retries.now == [{"a"}]
    totals = metrics.totals()["a"]
    assert (totals["succeeded"], totals["retried"]) == (1, 2)


def test_a_fenced_outcome_wakes_its_waiter_who_reads_again() -> None:
    # Given a claimed task, and a waiter for it on another thread
    completer, store, _, metrics, [task] = completer_with_claims(1)
    woken = threading.Event()
    waiters = Waiters()
    completer = Completer(store, FakeClock(T0), Claims(), waiters, metrics, Retries())
    waiter = threading.Thread(
        target=lambda: (waiters.wait(store, FakeClock(T0), task.id, 5, lambda: None), woken.set()),
        daemon=True,
    )
    waiter.start()
    # When an outcome from another owner (fenced out) is written, then the real one
    completer.put(Outcome(task.id, "someone-else", 1, FAILED, T0, error="late"))
    assert completer.run_once(0)
    completer.put(Outcome(task.id, "node", 1, SUCCEEDED, T0, result="1"))
    assert completer.run_once(0)
    # Then the waiter saw the task end
    waiter.join(5)
    assert woken.is_set()


def test_node_counters_survive_the_round_trip() -> None:
    counters = NodeCounters(
        by_category={"a": {"started": 3, "succeeded": 2}},
        fifo={"a": 4},
        targets={"a": 2},
        abandoned_threads=1,
        rates={"a": 1.5},
        python="3.12.1",
        held=("a", "b"),
    )
    assert NodeCounters.from_dict(counters.to_dict()) == counters


@pytest.mark.parametrize(
    "written",
    [
        None,
        [],
        "text",
        {"fifo": "many", "targets": {"a": "2"}, "abandoned_threads": True},
        {"rates": {"a": float("nan")}, "by_category": {"a": "x"}, "python": 3},
        {"held": "a"},
        {"held": {"a": True}},
        {"a later key": {"x": 1}},
    ],
)
def test_node_counters_from_another_version_keep_what_is_understood(written: object) -> None:
    assert NodeCounters.from_dict(written) == NodeCounters()


def test_node_counters_keep_the_good_values_beside_bad_ones() -> None:
    read = NodeCounters.from_dict(
        {"fifo": {"a": 2, "b": "x"}, "rates": {"a": 2}, "extra": 1, "held": ["a", 3, None]}
    )
    assert read == NodeCounters(fifo={"a": 2}, rates={"a": 2.0}, held=("a",))


@pytest.mark.parametrize(
    ("queued", "running", "fifo", "view"),
    [(5, 0, 0, (5, 0)), (1, 4, 3, (4, 1)), (0, 2, 5, (2, 0)), (0, 0, 3, (0, 0))],
)
def test_claimed_tasks_in_a_fifo_are_queued_to_an_operator(
    queued: int, running: int, fifo: int, view: tuple[int, int]
) -> None:
    assert operator_view({"queued": queued, "running": running}, fifo) == view


class FinishFails(MemoryStore):
    """A store that stopped answering when outcomes are written."""

    def finish(self, outcomes: list[Outcome]) -> list[bool]:
        raise StoreUnavailableError("database", "test", "does not answer", "Wait")


def test_a_batch_the_store_rejects_is_kept_and_named_as_unwritten() -> None:
    # Given a completer over a store that fails, with two outcomes queued
    store = FinishFails()
    store.insert([NewTask("a.x", "a", "null", T0, 3) for _ in range(2)], T0)
    tasks = store.claim("a", 2, "node", T0)
    claims = Claims()
    claims.add(tasks)
    completer = Completer(store, FakeClock(T0), claims, Waiters(), Metrics(["a"]), Retries())
    for task in tasks:
        completer.put(Outcome(task.id, "node", 1, SUCCEEDED, T0, result="1"))
    # When a step fails to write them
    with pytest.raises(StoreUnavailableError):
        completer.run_once(0)
    # Then they are kept for the next try, and a stop can name them all
    assert completer.pending() == 2
    assert completer.take_unwritten() == {t.id for t in tasks}
    assert completer.pending() == 0
