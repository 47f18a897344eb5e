"""``jobsched run --metrics`` serves Prometheus text that a Prometheus parser reads: task
counters by outcome, queue depth and latency, a run-time histogram, workers by state,
balancer decisions and store errors, while tasks run in a real node process."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.console.cli_support import Node, make_cli, poll

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[dict[str, str], Samples]:
    """(family name -> type, (sample name, sorted labels) -> value) of one scrape."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_running_node_serves_every_series_while_tasks_run(tmp_path: Path) -> None:
    # Given a node serving metrics on a port the system picks, category a paused
    cli = make_cli(tmp_path)
    assert cli("submit", "b.echo", "--payload", "1").exit_code == 0  # creates the database
    node = Node(cli, "--metrics", "127.0.0.1:0")
    try:
        node.wait_up()
        found = poll(
            lambda: re.search(r"metrics at (http://\S+/metrics)", node.stderr()), 15, what="url"
        )
        url = found[1]
        assert cli("pause", "a").exit_code == 0
        # When three b tasks succeed, one a task fails... (a is paused: three a tasks wait)
        for n in range(3):
            assert cli("submit", "b.echo", "--payload", json.dumps(n)).exit_code == 0
        for _ in range(3):
            payload = json.dumps({"path": str(tmp_path / "log"), "sleep": 0})
            assert cli("submit", "a.append", "--payload", payload).exit_code == 0

        def settled() -> tuple[dict[str, str], Samples] | None:
            types, samples = scrape(url)
            done = value(samples, "jobsched_tasks_finished_total", category="b",
                         outcome="succeeded")  # fmt: skip
            queued = value(samples, "jobsched_queue_depth", category="a", state="queued")
            waited = value(samples, "jobsched_queue_latency_seconds", category="a")
            return (types, samples) if done == 4 and queued == 3 and waited > 0 else None

        types, samples = poll(settled, 20, interval=0.1, what="four b tasks done, a waiting")
        # Then every series is there, with the right type and values
        assert types["jobsched_tasks_finished"] == "counter"
        assert types["jobsched_queue_depth"] == "gauge"
        assert types["jobsched_queue_latency_seconds"] == "gauge"
        assert types["jobsched_task_run_seconds"] == "histogram"
        assert types["jobsched_workers"] == "gauge"
        assert types["jobsched_balancer_decisions"] == "counter"
        assert types["jobsched_store_errors"] == "counter"
        assert value(samples, "jobsched_tasks_finished_total", category="a",
                     outcome="succeeded") == 0  # fmt: skip
        assert value(samples, "jobsched_task_run_seconds_count", category="b") == 4
        assert value(samples, "jobsched_task_run_seconds_bucket", category="b", le="+Inf") == 4
        buckets = sorted(
            (float(dict(labels)["le"]), v)
            for (name, labels), v in samples.items()
            if name == "jobsched_task_run_seconds_bucket" and dict(labels)["category"] == "b"
        )
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "cumulative buckets never decrease"
        assert value(samples, "jobsched_balancer_decisions_total") >= 1
        assert value(samples, "jobsched_store_errors_total", component="workers") == 0
        workers = value(samples, "jobsched_workers", category="b", state="idle") + value(
            samples, "jobsched_workers", category="b", state="busy"
        )
        assert workers >= 1
        # And when a is resumed, its tasks run and its queue empties
        assert cli("resume", "a").exit_code == 0

        def drained() -> Samples | None:
            _, samples = scrape(url)
            done = value(samples, "jobsched_tasks_finished_total", category="a",
                         outcome="succeeded")  # fmt: skip
            return samples if done == 3 else None

        samples = poll(drained, 20, interval=0.1, what="a drained")
        assert value(samples, "jobsched_task_run_seconds_count", category="a") == 3
    finally:
        node.signal()
        node.wait(30)
        node.kill()


def test_a_bad_metrics_address_is_refused_before_the_node_starts(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    result = cli("run", "--metrics", "127.0.0.1:http", "--for", "1")
    assert result.exit_code == 2, result.stderr
    assert "--metrics" in result.stderr and "127.0.0.1:http" in result.stderr
    assert not cli.db.exists()
