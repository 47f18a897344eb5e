"""The start recorder's group commit, on a fake connection: answers reach every caller."""

from __future__ import annotations

import threading
from typing import Any

from jobsched.storage.postgres.threads import StartRecorder

WAIT = 5.0


class FakeConnection:
    """Applies every start; the first batch waits for ``release`` before it is written."""

    closed = broken = False

    def __init__(self) -> None:
        self.writing = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[int]] = []
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, query: str, params: Any = None) -> FakeConnection:
        self.rows = []
        if params is not None:
            ids, owners, attempts, claimed, _ = params
            if not self.batches:
                self.writing.set()
                assert self.release.wait(WAIT)
            self.batches.append(list(ids))
            self.rows = list(zip(ids, owners, attempts, claimed, strict=True))
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class SlowWaker(threading.Condition):
    """A condition whose ``sleeper`` thread, once woken, stays off the CPU (lock released)
    until ``resume`` is set: a thread the scheduler left waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeper: threading.Thread | None = None
        self.waiting = threading.Event()
        self.asleep = threading.Event()
        self.resume = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if threading.current_thread() is self.sleeper:
            self.waiting.set()
        woken = super().wait(timeout)
        if threading.current_thread() is self.sleeper and not self.resume.is_set():
            self.asleep.set()
            self.release()
            assert self.resume.wait(WAIT)
            self.acquire()
        return woken


def start(task_id: int) -> tuple[int, str, int, float]:
    return (task_id, "node-a", 1, 100.0 + task_id)


def test_a_caller_slow_to_wake_still_gets_its_answer_after_many_later_batches() -> None:
    # Given a recorder whose first batch is being written while a second caller waits
    conn = FakeConnection()
    cond = SlowWaker()
    recorder = StartRecorder(lambda: conn, cond)  # type: ignore[arg-type, return-value]
    answers: dict[int, bool] = {}

    def record(task_id: int) -> None:
        answers[task_id] = recorder.record(start(task_id))

    leader = threading.Thread(target=record, args=(1,))
    leader.start()
    assert conn.writing.wait(WAIT)  # the first batch is being written (held in the fake)
    cond.sleeper = waiter = threading.Thread(target=record, args=(2,))
    waiter.start()
    assert cond.waiting.wait(WAIT)  # its start is pending, for the next batch
    # When the first batch is written but the waiter does not run for 150 more batches
    conn.release.set()
    assert cond.asleep.wait(WAIT)
    for task_id in range(3, 153):
        assert recorder.record(start(task_id))
    cond.resume.set()
    leader.join(WAIT)
    waiter.join(WAIT)
    # Then its start, written in the second batch, is reported as applied
    assert answers == {1: True, 2: True}
    assert 2 in conn.batches[1]
