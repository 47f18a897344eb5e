"""``jobsched status`` shows each category's queue latency: how long the oldest due task
that no worker has taken yet has waited (``latency`` in ``--json``, ``waited`` in the
table)."""

from __future__ import annotations

from jobsched.console import reports
from jobsched.console.tables import print_status
from jobsched.core import CategoryConfig, Client, FakeClock, MemoryStore, SchedulerConfig
from pytest import CaptureFixture


def _client(clock: FakeClock) -> Client:
    config = SchedulerConfig(
        workers=2,
        categories={"a": CategoryConfig(), "b": CategoryConfig()},
    )
    client = Client(config, MemoryStore(), clock)
    client.store.open(None)
    return client


def test_status_reports_how_long_the_oldest_due_task_waited(capsys: CaptureFixture[str]) -> None:
    # Given two tasks queued in a, 12.5 s and 2.5 s ago, and nothing in b
    clock = FakeClock()
    client = _client(clock)
    client.inject("a")
    clock.advance(10.0)
    client.inject("a")
    clock.advance(2.5)
    # When status is read
    report = reports.status_report(client)
    # Then a's latency is the oldest task's wait, and b has none
    by_name = {c["name"]: c for c in report["categories"]}
    assert by_name["a"]["latency"] == 12.5
    assert by_name["b"]["latency"] is None
    # And the table shows it in its waited column
    print_status(report)
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "waited" in line)
    row_a = next(line for line in lines if line.lstrip().startswith("a "))
    end = header.index("waited") + len("waited")  # numbers are right-aligned
    assert row_a[:end].split()[-1] == "12s"


def test_a_future_task_is_not_waiting() -> None:
    # Given a task delayed by a minute
    clock = FakeClock()
    client = _client(clock)
    client.submit("jobsched.synthetic", category="a", delay=60.0)
    # Then nothing waits in a
    report = reports.status_report(client)
    assert report["categories"][0]["latency"] is None
