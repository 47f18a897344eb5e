"""The demo for real: demo/jobsched.toml, a threaded scheduler on a MemoryStore, the local
servers and the workload. Every wait is on a handle or an event, with a timeout."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator

import pytest
from jobsched.core import MemoryStore, Scheduler, SchedulerConfig, TaskRecord
from jobsched.core.task import FAILED, SUCCEEDED
from jobsched.demo.handlers import message_id
from jobsched.demo.servers import DemoServers
from jobsched.demo.workload import DemoWorkload, WorkloadPlan

WAIT = 10.0

#: The demo's shape, scaled down so that a run takes a couple of seconds.
SMALL_PLAN = WorkloadPlan(
    trickle_per_second=60,
    first_burst_after=0.2,
    burst_interval=0.3,
    bursts=(("web.fetch", 12), ("heavy.hash", 4), ("email.send", 20), ("flaky.op", 12)),
    web_pages=50,
    web_latency_ms=(0, 30),
    heavy_cost=5_000,
    flaky_fail_rate=0.5,
    flaky_work_ms=0,
)


@pytest.fixture
def sched(demo_config: SchedulerConfig, servers: DemoServers) -> Iterator[Scheduler]:
    with Scheduler(demo_config, MemoryStore()) as running:
        yield running


def test_web_fetch_results_come_back_to_the_caller(sched: Scheduler, servers: DemoServers) -> None:
    handles = [sched.submit("web.fetch", {"page": n, "latency_ms": 20}) for n in range(1, 9)]
    results = [handle.result(timeout=WAIT) for handle in handles]
    assert [r["title"] for r in results] == [f"Demo page {n}" for n in range(1, 9)]
    assert {r["status"] for r in results} == {200}
    assert sorted(servers.served_pages) == sorted(f"/page/{n}" for n in range(1, 9))


def test_flaky_retries_show_in_the_attempt_of_the_result(sched: Scheduler) -> None:
    handle = sched.submit("flaky.op", {"fail_first": 3, "fail_rate": 0})
    assert handle.result(timeout=WAIT) == {"attempt": 4, "max_attempts": 4}
    assert handle.wait(timeout=WAIT).attempts == 4


def test_the_demo_workload_does_real_work(sched: Scheduler, servers: DemoServers) -> None:
    # Given the workload running against the scheduler, when it has submitted 250 tasks
    # (the trickle and at least one burst of every kind), then it stops.
    workload = DemoWorkload(sched, seed=42, plan=SMALL_PLAN, tick=0.02)
    with workload:
        assert workload.wait_submitted(250, timeout=WAIT)
    submitted = workload.submitted()
    assert set(workload.counts()) == {"email.send", "web.fetch", "heavy.hash", "flaky.op"}

    # When every task has finished,
    records: dict[int, TaskRecord] = {
        task_id: sched.wait(task_id, timeout=WAIT) for task_id, _ in submitted
    }
    by_handler: dict[str, list[TaskRecord]] = {}
    for task_id, handler in submitted:
        by_handler.setdefault(handler, []).append(records[task_id])

    # then the SMTP server holds exactly the mail of the email tasks that succeeded,
    emails = by_handler["email.send"]
    assert all(r.state == SUCCEEDED for r in emails)
    received = servers.messages
    assert Counter(m.message_id for m in received) == Counter(message_id(r.id) for r in emails)
    subjects = {message_id(r.id): r.payload_value()["subject"] for r in emails}
    assert all(m.subject == subjects[m.message_id] for m in received)

    # the HTTP server served exactly the fetched pages, and each result names its page,
    fetches = by_handler["web.fetch"]
    assert all(r.state == SUCCEEDED for r in fetches)
    assert Counter(servers.served_pages) == Counter(
        f"/page/{r.payload_value()['page']}" for r in fetches
    )
    for record in fetches:
        result = record.result_value()
        assert (result["status"], result["title"]) == (
            200,
            f"Demo page {record.payload_value()['page']}",
        )

    # every hash is the PBKDF2 digest of its payload,
    for record in by_handler["heavy.hash"]:
        payload = record.payload_value()
        expected = hashlib.pbkdf2_hmac(
            "sha256", payload["data"].encode(), payload["salt"].encode(), payload["cost"]
        )
        assert record.result_value() == {"digest": expected.hex(), "cost": payload["cost"]}

    # and flaky operations were retried: a success reports the attempt that made it.
    flaky = by_handler["flaky.op"]
    assert {r.state for r in flaky} <= {SUCCEEDED, FAILED}
    for record in flaky:
        if record.state == SUCCEEDED:
            assert record.result_value()["attempt"] == record.attempts
        else:
            assert record.attempts == 4
    assert any(r.attempts > 1 for r in flaky)
    assert sched.snapshot().counters["retried"] > 0
