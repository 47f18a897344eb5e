"""Prometheus metrics of a running node: ``jobsched run --metrics HOST:PORT``.

:class:`SnapshotCollector` reads the scheduler's public :meth:`~core.Scheduler.snapshot`
at every scrape (no engine thread ever calls into it); :func:`serve_metrics` serves it as
Prometheus text with ``prometheus_client``'s HTTP server, on a registry of its own. The
engine stays standard library only: the exporter lives here, outside ``core``.

Series (every name starts ``jobsched_``):

- ``tasks_finished_total{category,outcome}``: attempts ended since the node started
  (outcome: succeeded, failed, cancelled, retried);
- ``tasks_started_total{category}``;
- ``queue_depth{category,state}``: queued (FIFO included), scheduled, running;
- ``queue_latency_seconds{category}``: how long the longest-waiting due task has waited
  (0 when nothing waits);
- ``task_run_seconds{category}``: a histogram of run times;
- ``workers{category,state}``: busy and idle threads; ``worker_target{category}``;
- ``balancer_decisions_total``; ``store_errors_total{component}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jobsched.core import InvalidInputError, Snapshot
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .web import Address

log = logging.getLogger("jobsched")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
OUTCOMES = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled",
            "retried": "retried"}  # fmt: skip


class SnapshotCollector(Collector):
    """A Prometheus collector over ``snapshot()``, called on the scraping thread."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield from _task_counters(snap)
        yield from _queue_gauges(snap)
        yield _run_histogram(snap)
        yield from _worker_gauges(snap)
        decisions = CounterMetricFamily(
            "jobsched_balancer_decisions", "Balancer decisions made since the node started."
        )
        decisions.add_metric([], snap.balancer_decisions)
        yield decisions
        errors = CounterMetricFamily(
            "jobsched_store_errors",
            "Failed store calls since the node started, by the thread kind that made them.",
            labels=["component"],
        )
        for component, failures in sorted(snap.store_errors.items()):
            errors.add_metric([component], failures)
        yield errors


def _task_counters(snap: Snapshot) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "jobsched_tasks_finished",
        "Attempts ended on this node since it started, by category and outcome.",
        labels=["category", "outcome"],
    )
    started = CounterMetricFamily(
        "jobsched_tasks_started", "Attempts started on this node.", labels=["category"]
    )
    for category, per in sorted(snap.totals.items()):
        for key, outcome in OUTCOMES.items():
            finished.add_metric([category, outcome], per.get(key, 0))
        started.add_metric([category], per.get("started", 0))
    yield finished
    yield started


def _queue_gauges(snap: Snapshot) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "jobsched_queue_depth",
        "Tasks waiting or running, by category and state (claimed tasks not yet started "
        "count as queued).",
        labels=["category", "state"],
    )
    latency = GaugeMetricFamily(
        "jobsched_queue_latency_seconds",
        "How long the longest-waiting due task of the category has waited (0: none waits).",
        labels=["category"],
    )
    for cat in snap.categories:
        depth.add_metric([cat.name, "queued"], cat.queued)
        depth.add_metric([cat.name, "scheduled"], cat.scheduled)
        depth.add_metric([cat.name, "running"], cat.running)
        latency.add_metric([cat.name], cat.latency or 0.0)
    yield depth
    yield latency


def _run_histogram(snap: Snapshot) -> Metric:
    family = HistogramMetricFamily(
        "jobsched_task_run_seconds", "Run time of attempts, by category.", labels=["category"]
    )
    for cat in snap.categories:
        hist = cat.run_histogram
        if hist is None:
            continue
        buckets = [(_bound(b), float(n)) for b, n in zip(hist.bounds, hist.cumulative, strict=True)]
        buckets.append(("+Inf", float(hist.count)))
        family.add_metric([cat.name], buckets, hist.total)
    return family


def _bound(value: float) -> str:
    return repr(float(value))


def _worker_gauges(snap: Snapshot) -> Iterator[Metric]:
    workers = GaugeMetricFamily(
        "jobsched_workers", "Worker threads by category and state.", labels=["category", "state"]
    )
    target = GaugeMetricFamily(
        "jobsched_worker_target", "The balancer's worker target per category.", labels=["category"]
    )
    for cat in snap.categories:
        busy = sum(1 for w in snap.workers if w.category == cat.name and w.state == "busy")
        mine = sum(1 for w in snap.workers if w.category == cat.name)
        workers.add_metric([cat.name, "busy"], busy)
        workers.add_metric([cat.name, "idle"], mine - busy)
        target.add_metric([cat.name], cat.workers)
    yield workers
    yield target


@dataclass
class MetricsServer:
    """A running exporter; :meth:`close` stops it (``jobsched run`` does at its end)."""

    host: str
    port: int
    _close: Callable[[], None]

    @property
    def url(self) -> str:
        return f"{Address(self.host, self.port).url}/metrics"

    def close(self) -> None:
        self._close()


def serve_metrics(
    snapshot: Callable[[], Snapshot], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> MetricsServer:
    """Serve ``snapshot()`` as Prometheus text at ``http://HOST:PORT/metrics`` on a
    daemon thread; ``port`` 0 picks a free one (see :attr:`MetricsServer.port`).

    Pass a node's bound method: ``serve_metrics(sched.snapshot, "127.0.0.1", 9464)``.
    Loopback by default; another address is served too, with a warning in the log, since
    anyone who reaches it sees the node's categories and counts.
    """
    if not 0 <= port <= 65535:
        raise InvalidInputError("metrics port", port, "is not 0..65535", "Pick a TCP port")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    address = Address(host, port)
    if not address.loopback:
        log.warning(
            "metrics: serving on %s, reachable from other machines; use 127.0.0.1 to keep "
            "them on this host",
            host,
        )
    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as exc:
        raise InvalidInputError(
            "metrics address", f"{host}:{port}", f"cannot be served ({exc})",
            "Pick a free port, or an address of this machine",
        ) from None  # fmt: skip

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)

    return MetricsServer(host, int(server.server_port), close)


def parse_listen(text: str, what: str = "--metrics") -> Address:
    """``HOST:PORT``, ``:PORT`` or ``[::1]:PORT`` -> an :class:`Address`; a missing port
    is 9464. Raises :class:`InvalidInputError` naming the text."""
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    host = host or DEFAULT_HOST
    if not port_text:
        return Address(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidInputError(
            what, text, "has no valid port (0..65535)", "Write HOST:PORT, e.g. 127.0.0.1:9464"
        )
    return Address(host, int(port_text))
