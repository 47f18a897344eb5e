"""Run-time buckets and queue latency in a node's snapshot: what the Prometheus exporter
reads. Driven step by step on a fake clock."""

from __future__ import annotations

import threading

from jobsched.core import CategoryConfig, FakeClock, MemoryStore, Scheduler, SchedulerConfig
from jobsched.core.histogram import RunHistogram
from jobsched.core.snapshot import Metrics


def test_buckets_are_cumulative_and_bounds_inclusive() -> None:
    # Given runs of 0.1 s (on a bound), 0.3 s, 2 s and 1000 s (past every bound)
    hist = RunHistogram((0.1, 0.5, 5.0))
    for seconds in (0.1, 0.3, 2.0, 1000.0):
        hist.observe(seconds)
    # Then each bucket counts the runs at or below its bound; count has them all
    read = hist.read()
    assert read.cumulative == (1, 2, 3)
    assert read.count == 4
    assert read.total == 1002.4


def test_no_observation_is_lost_when_threads_race() -> None:
    # Given eight threads noting 2,000 run times each into one histogram
    hist = RunHistogram()
    start = threading.Barrier(8)

    def note() -> None:
        start.wait(5)
        for _ in range(2000):
            hist.observe(0.02)

    threads = [threading.Thread(target=note) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Then every one is counted
    assert hist.read().count == 16_000


def test_no_start_is_lost_when_workers_race() -> None:
    # Given eight threads counting 2,000 starts each, split over two categories, while
    # another thread reads the totals (each read takes in the starts counted so far)
    metrics = Metrics(["a", "b"])
    start = threading.Barrier(9)
    counted = threading.Event()

    def count(category: str) -> None:
        start.wait(5)
        for _ in range(2000):
            metrics.started(category)

    def read() -> None:
        start.wait(5)
        while not counted.is_set():
            metrics.totals()

    threads = [threading.Thread(target=count, args=("ab"[i % 2],)) for i in range(8)]
    reader = threading.Thread(target=read)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join(10)
    counted.set()
    reader.join(10)
    # Then every start is counted, in its category
    totals = metrics.totals()
    assert (totals["a"]["started"], totals["b"]["started"]) == (8000, 8000)


def test_snapshot_carries_run_buckets_latency_and_decisions() -> None:
    # Given a stepped node whose handler takes 0.2 s of fake time; b is paused
    clock = FakeClock()
    cats = {"a": CategoryConfig(min_workers=1), "b": CategoryConfig(min_workers=1)}
    sched = Scheduler(SchedulerConfig(workers=2, categories=cats), MemoryStore(), clock=clock,
                      threaded=False)  # fmt: skip

    @sched.handler("a.work", category="a")
    def work(payload: object) -> None:
        clock.advance(0.2)

    @sched.handler("b.work", category="b")
    def later(payload: object) -> None:
        pass

    with sched:
        sched.set_paused("b", True)
        sched.submit("b.work")
        for _ in range(3):
            sched.submit("a.work")
        for _ in range(10):  # b stays queued, so the node is never idle
            sched.step()
        clock.advance(7.0)
        sched.step()
        snap = sched.snapshot()
    # Then a's three runs are in its 0.25 s bucket, b's task has waited over 7 s
    hist = snap.category("a").run_histogram
    assert hist is not None
    bucket = dict(zip(hist.bounds, hist.cumulative, strict=True))
    assert (bucket[0.1], bucket[0.25], hist.count) == (0, 3, 3)
    assert snap.category("a").latency is None
    latency = snap.category("b").latency
    assert latency is not None and latency >= 7.0
    assert snap.totals["a"]["succeeded"] == 3
    assert snap.balancer_decisions >= 1
    assert set(snap.store_errors) >= {"dispatcher", "completer", "housekeeper", "workers"}
    assert set(snap.store_errors.values()) == {0}
