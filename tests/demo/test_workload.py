"""DemoWorkload: the step driven directly with chosen times, and its thread loop."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from jobsched.demo.workload import DemoWorkload, WorkloadPlan


class RecordingSubmitter:
    """Stands in for a Client: records items, hands out increasing ids."""

    def __init__(self, fail_first: int = 0) -> None:
        self.items: list[tuple[str, Any]] = []
        self.fail_first = fail_first
        self.calls = 0
        self.lock = threading.Lock()

    def submit_many(self, items: Sequence[Any]) -> list[int]:
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                raise RuntimeError("store unavailable")
            start = len(self.items) + 1
            self.items.extend(items)
            return list(range(start, start + len(items)))


def drive(workload: DemoWorkload, until: float, every: float = 0.25) -> None:
    steps = round(until / every)
    for i in range(steps + 1):
        workload.run_once(100.0 + i * every)


def test_the_same_seed_submits_the_same_tasks() -> None:
    runs = []
    for seed in (7, 7, 8):
        submitter = RecordingSubmitter()
        drive(DemoWorkload(submitter, seed=seed), until=30)
        runs.append(submitter.items)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_the_trickle_submits_its_rate_spread_over_the_mix() -> None:
    # Given 5 tasks/s and no bursts, when 40 s pass in quarter-second steps, then 200 tasks.
    submitter = RecordingSubmitter()
    drive(
        DemoWorkload(submitter, seed=1, plan=WorkloadPlan(trickle_per_second=5, bursts=())),
        until=40,
    )
    handlers = Counter(handler for handler, _ in submitter.items)
    assert sum(handlers.values()) == 200
    assert set(handlers) == {"email.send", "web.fetch", "heavy.hash", "flaky.op"}
    assert handlers["email.send"] > handlers["heavy.hash"]  # weights 4 and 1


def test_bursts_flood_each_category_in_turn() -> None:
    # Given no trickle, bursts from 4 s and then every 12 s.
    plan = WorkloadPlan(trickle_per_second=0, first_burst_after=4, burst_interval=12)
    submitter = RecordingSubmitter()
    workload = DemoWorkload(submitter, seed=1, plan=plan)
    assert workload.run_once(100.0) == []
    assert workload.run_once(103.9) == []
    sizes = {}
    for now in (104.0, 116.0, 128.0, 140.0, 152.0):
        before = len(submitter.items)
        ids = workload.run_once(now)
        handlers = {handler for handler, _ in submitter.items[before:]}
        assert len(handlers) == 1
        sizes[now] = (handlers.pop(), len(ids))
    assert sizes == {
        104.0: ("web.fetch", 80),
        116.0: ("heavy.hash", 40),
        128.0: ("email.send", 300),
        140.0: ("flaky.op", 60),
        152.0: ("web.fetch", 80),
    }
    assert workload.counts() == {
        "web.fetch": 160,
        "heavy.hash": 40,
        "email.send": 300,
        "flaky.op": 60,
    }


def test_a_late_step_makes_one_burst_and_a_capped_trickle() -> None:
    plan = WorkloadPlan(
        trickle_per_second=5,
        first_burst_after=1,
        burst_interval=1,
        max_trickle_per_step=10,
        bursts=(("email.send", 3),),
    )
    submitter = RecordingSubmitter()
    workload = DemoWorkload(submitter, plan=plan)
    workload.run_once(0.0)
    assert len(workload.run_once(3600.0)) == 10 + 3


def test_payloads_fit_their_handlers() -> None:
    submitter = RecordingSubmitter()
    plan = WorkloadPlan(web_latency_ms=(10, 20), web_pages=5, heavy_cost=1234)
    drive(DemoWorkload(submitter, seed=3, plan=plan), until=60)
    by_handler: dict[str, list[dict[str, Any]]] = {}
    for handler, payload in submitter.items:
        by_handler.setdefault(handler, []).append(payload)
    assert all(p["to"].endswith("@example.test") and p["subject"] for p in by_handler["email.send"])
    assert len({p["subject"] for p in by_handler["email.send"]}) == len(by_handler["email.send"])
    assert all(1 <= p["page"] <= 5 and 10 <= p["latency_ms"] <= 20 for p in by_handler["web.fetch"])
    assert all(p["cost"] == 1234 for p in by_handler["heavy.hash"])
    assert all(p["fail_rate"] == 0.3 for p in by_handler["flaky.op"])


def test_submitted_remembers_ids_and_handlers_within_its_history() -> None:
    submitter = RecordingSubmitter()
    workload = DemoWorkload(
        submitter, plan=WorkloadPlan(trickle_per_second=4, bursts=()), history=5
    )
    drive(workload, until=2)
    assert workload.total == 8
    assert [task_id for task_id, _ in workload.submitted()] == [4, 5, 6, 7, 8]
    assert [handler for _, handler in workload.submitted()] == [h for h, _ in submitter.items[3:]]


@pytest.mark.parametrize(
    "changes",
    [
        {"trickle_per_second": -1},
        {"mix": {}},
        {"mix": {"email.send": 0}},
        {"burst_interval": 0},
        {"web_latency_ms": (5, 1)},
    ],
)
def test_a_plan_refuses_impossible_numbers(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WorkloadPlan(**changes)


def test_the_loop_submits_until_stopped() -> None:
    # Given a fast trickle, when the loop runs until 20 tasks went out, then it stops on request.
    submitter = RecordingSubmitter()
    workload = DemoWorkload(
        submitter, plan=WorkloadPlan(trickle_per_second=400, bursts=()), tick=0.01
    )
    with workload:
        assert workload.running
        assert workload.wait_submitted(20, timeout=5)
    assert not workload.running
    count = len(submitter.items)
    assert count >= 20
    assert workload.stop() is True  # a second stop is harmless


def test_the_loop_outlives_failing_submits(caplog: pytest.LogCaptureFixture) -> None:
    # Given a submitter that fails three times, then the loop logs once and carries on.
    submitter = RecordingSubmitter(fail_first=3)
    workload = DemoWorkload(
        submitter, plan=WorkloadPlan(trickle_per_second=400, bursts=()), tick=0.01
    ).start()
    try:
        assert workload.wait_submitted(10, timeout=5)
    finally:
        assert workload.stop(timeout=5)
    assert [r.message for r in caplog.records].count(
        "demo workload: a submit failed; retrying every 0.01s"
    ) == 1


def test_starting_twice_is_refused() -> None:
    workload = DemoWorkload(
        RecordingSubmitter(), plan=WorkloadPlan(trickle_per_second=0, bursts=())
    ).start()
    try:
        with pytest.raises(RuntimeError):
            workload.start()
    finally:
        workload.stop()
