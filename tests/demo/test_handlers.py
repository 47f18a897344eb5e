"""The demo handlers, each run by a scheduler built from the demo configuration.

The scheduler is unthreaded (``step()`` runs handlers inline) on a fake clock, so retries
are released by advancing the clock rather than by waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from jobsched.core import FakeClock, MemoryStore, Scheduler, SchedulerConfig, TaskRecord
from jobsched.core.task import FAILED, SUCCEEDED
from jobsched.demo.handlers import message_id, page_title, pbkdf2_digest
from jobsched.demo.servers import DemoServers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sched(demo_config: SchedulerConfig, clock: FakeClock) -> Iterator[Scheduler]:
    scheduler = Scheduler(demo_config, MemoryStore(), clock=clock, threaded=False)
    scheduler.start()
    yield scheduler
    scheduler.stop(grace=0)


def run(
    sched: Scheduler, clock: FakeClock, handler: str, payload: Any, **options: Any
) -> TaskRecord:
    """Submit one task and step (advancing past retry backoffs) until it is terminal."""
    task_id = sched.submit(handler, payload, **options).id
    for _ in range(20):
        sched.run_until_idle()
        record = sched.get(task_id)
        if record.state in (SUCCEEDED, FAILED):
            return record
        clock.advance(1.0)
    raise AssertionError(f"task {task_id} did not finish: {sched.get(task_id)}")


def test_handlers_are_registered_in_their_categories(sched: Scheduler) -> None:
    assert {
        name: spec.category
        for name, spec in sched.handlers.items()
        if not name.startswith("jobsched.")
    } == {
        "email.send": "email",
        "web.fetch": "web",
        "heavy.hash": "heavy",
        "flaky.op": "flaky",
    }


def test_email_send_delivers_to_the_demo_smtp_server(
    sched: Scheduler, clock: FakeClock, servers: DemoServers
) -> None:
    record = run(
        sched, clock, "email.send", {"to": "ann@example.test", "subject": "Hello", "body": "Hi Ann"}
    )
    assert record.state == SUCCEEDED
    assert record.result_value() == {"message_id": message_id(record.id), "to": "ann@example.test"}
    [message] = servers.messages
    assert message.recipients == ("ann@example.test",)
    assert message.subject == "Hello"
    assert message.body == "Hi Ann\n"
    assert message.message_id == message_id(record.id)
    assert message.header("X-Jobsched-Task") == str(record.id)


def test_email_send_without_servers_fails_saying_what_to_do(
    sched: Scheduler, clock: FakeClock
) -> None:
    record = run(sched, clock, "email.send", {"to": "ann@example.test"}, max_attempts=1)
    assert record.state == FAILED
    assert "JOBSCHED_DEMO_SMTP" in (record.error or "")


def test_email_send_refuses_a_payload_without_recipient(
    sched: Scheduler, clock: FakeClock, servers: DemoServers
) -> None:
    record = run(sched, clock, "email.send", {"subject": "nobody"}, max_attempts=1)
    assert record.state == FAILED
    assert "'to'" in (record.error or "")
    assert servers.messages == []


def test_web_fetch_returns_the_page_it_fetched(
    sched: Scheduler, clock: FakeClock, servers: DemoServers
) -> None:
    record = run(sched, clock, "web.fetch", {"page": 12, "latency_ms": 5})
    assert record.state == SUCCEEDED
    result = record.result_value()
    assert result["status"] == 200
    assert result["title"] == "Demo page 12"
    assert result["url"] == f"http://127.0.0.1:{servers.http_port}/page/12?latency_ms=5"
    assert result["size"] > 100
    assert servers.served_pages == ["/page/12"]


def test_page_title_reads_the_first_title() -> None:
    assert page_title("<html><head><title> A &amp; B </title></head><title>x</title>") == "A & B"
    assert page_title("<p>no title</p>") is None


def test_heavy_hash_returns_the_pbkdf2_digest(sched: Scheduler, clock: FakeClock) -> None:
    record = run(sched, clock, "heavy.hash", {"data": "block-1", "salt": "pepper", "cost": 1000})
    expected = hashlib.pbkdf2_hmac("sha256", b"block-1", b"pepper", 1000).hex()
    assert record.result_value() == {"digest": expected, "cost": 1000}
    assert pbkdf2_digest("block-1", "pepper", 1000) == expected


def test_flaky_op_succeeds_on_the_attempt_after_its_failures(
    sched: Scheduler, clock: FakeClock
) -> None:
    # Given an operation that fails its first two attempts, then the third succeeds.
    record = run(sched, clock, "flaky.op", {"fail_first": 2, "fail_rate": 0})
    assert record.state == SUCCEEDED
    assert record.attempts == 3
    assert record.result_value() == {"attempt": 3, "max_attempts": 4}


def test_flaky_op_fails_once_the_configured_attempts_are_used(
    sched: Scheduler, clock: FakeClock
) -> None:
    record = run(sched, clock, "flaky.op", {"fail_rate": 1})
    assert record.state == FAILED
    assert record.attempts == 4  # max_attempts of [categories.flaky]
    assert "attempt 4 of 4 failed on purpose" in (record.error or "")


def test_flaky_op_with_a_seed_fails_the_same_way_every_time(
    demo_config: SchedulerConfig, clock: FakeClock
) -> None:
    outcomes = []
    for _ in range(2):
        with Scheduler(demo_config, MemoryStore(), clock=clock, threaded=False) as sched:
            records = [
                run(sched, clock, "flaky.op", {"fail_rate": 0.5, "seed": n}) for n in range(8)
            ]
        outcomes.append([(r.state, r.attempts) for r in records])
    assert outcomes[0] == outcomes[1]
    assert any(attempts > 1 for _, attempts in outcomes[0])


@pytest.mark.parametrize(
    ("handler", "payload"),
    [
        ("heavy.hash", {"cost": 0}),
        ("heavy.hash", {"cost": "many"}),
        ("flaky.op", {"fail_rate": 2}),
        ("web.fetch", [1]),
    ],
)
def test_bad_payloads_fail_with_the_field_named(
    sched: Scheduler, clock: FakeClock, handler: str, payload: Any
) -> None:
    record = run(sched, clock, handler, payload, max_attempts=1)
    assert record.state == FAILED
    assert "payload" in (record.error or "")
