"""A worker runs a claimed task only once the store has recorded its start, and never a
claim that was given back while it waited in the FIFO (see ``TaskStore.record_start``).

Stepped schedulers on a fake clock and the memory store (no thread, no sleep).
"""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    FakeClock,
    MemoryStore,
    Scheduler,
    SchedulerConfig,
    StoreUnavailableError,
)
from jobsched.core.task import QUEUED, RUNNING, TaskRecord

NODE = "node-1"


class Starts(MemoryStore):
    """A memory store whose ``record_start`` can fail, and that may say it is shared by
    several nodes (so an unknown start must not run)."""

    def __init__(self, multi_node: bool) -> None:
        super().__init__()
        self.multi_node = multi_node
        self.failing = False

    def record_start(self, task: TaskRecord) -> bool:
        if self.failing:
            raise StoreUnavailableError("database", "test", "is unreachable", "")
        return super().record_start(task)


class Node:
    def __init__(self, store: MemoryStore, workers: int = 1) -> None:
        self.store = store
        self.ran: list[Any] = []
        self.sched = Scheduler(
            SchedulerConfig(workers=workers, categories={"email": CategoryConfig(min_workers=1)}),
            store,
            clock=FakeClock(),
            threaded=False,
            rng=random.Random(7),
            node_id=NODE,
        )
        self.sched.handler("email.send")(self.ran.append)
        self.sched.start()

    def claimed(self, payload: Any) -> int:
        """Submit a task and claim it into the FIFO, without running it."""
        task_id = self.sched.submit("email.send", payload).id
        self.sched.dispatcher.run_once()
        assert self.store.get(task_id).state == RUNNING  # type: ignore[union-attr]
        assert self.sched.pools["email"].fifo.qsize() == 1
        return task_id


def test_a_claim_taken_by_another_node_while_it_waited_is_not_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a task claimed into this node's FIFO
    node = Node(MemoryStore())
    task_id = node.claimed({"n": 1})
    # When it is given back and another node claims it before a worker here starts it
    node.store.release([task_id], NODE)
    [taken] = node.store.claim("email", 1, "node-2", 0.0)
    with caplog.at_level(logging.WARNING, logger="jobsched"):
        node.sched.workers.step()
    # Then the worker here does not run it, and forgets the claim
    assert node.ran == []
    assert f"task {task_id} was given back" in caplog.text
    assert task_id not in node.sched.claims
    assert node.store.get(task_id) == taken  # the other node's claim, untouched
    node.sched.stop(grace=0)


def test_a_task_claimed_again_by_the_same_node_runs_once() -> None:
    # Given a task claimed into the FIFO, given back, and claimed again by this node (the
    # same attempt number, and on this fake clock the same claim time), and two workers
    node = Node(MemoryStore(), workers=2)
    assert node.sched.pools["email"].target == 2
    task_id = node.claimed({"n": 1})
    node.store.release([task_id], NODE)
    node.sched.dispatcher.want(["email"])
    node.sched.dispatcher.run_once()
    assert node.sched.pools["email"].fifo.qsize() == 2
    # When both workers take a record of it in one step (the outcome not yet written)
    node.sched.workers.step()
    node.sched.run_until_idle()
    # Then only the newer record ran: once
    assert node.ran == [{"n": 1}]
    assert node.store.get(task_id).state == "succeeded"  # type: ignore[union-attr]
    node.sched.stop(grace=0)


def test_on_a_shared_store_a_start_that_could_not_be_recorded_waits_for_an_answer() -> None:
    # Given a store several nodes share whose start writes fail
    store = Starts(multi_node=True)
    node = Node(store)
    task_id = node.claimed({"n": 1})
    store.failing = True
    # When a worker takes the task: it does not run it, but keeps it at the FIFO's head
    node.sched.workers.step()
    assert node.ran == []
    assert node.sched.pools["email"].fifo.qsize() == 1
    assert store.get(task_id).owner == NODE  # type: ignore[union-attr]
    # Then once the store answers again, it runs once
    store.failing = False
    node.sched.run_until_idle()
    assert node.ran == [{"n": 1}]
    node.sched.stop(grace=0)


def test_a_stop_gives_back_a_task_whose_start_is_still_unknown() -> None:
    store = Starts(multi_node=True)
    node = Node(store)
    task_id = node.claimed({"n": 1})
    store.failing = True
    node.sched.workers.step()
    assert node.sched.stop(grace=0) == [task_id]
    row = store.get(task_id)
    assert row is not None and (row.state, row.attempts, node.ran) == (QUEUED, 0, [])


def test_alone_on_its_store_a_node_runs_a_task_whose_start_could_not_be_recorded() -> None:
    store = Starts(multi_node=False)
    node = Node(store)
    node.claimed({"n": 1})
    store.failing = True
    node.sched.workers.step()
    assert node.ran == [{"n": 1}]
    node.sched.stop(grace=0)
