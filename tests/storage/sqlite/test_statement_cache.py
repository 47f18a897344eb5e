"""A node's memory does not climb with the sizes of its batches.

Each SQLite connection keeps every distinct statement it ran prepared (the sqlite3
module caches 128 per connection), and a statement with hundreds of placeholders holds up
to a few hundred kilobytes of SQLite's memory. Written for each exact batch size, the
inserts, rate-limited claims, group commits and prune batches of a long-running node left
one statement per size ever seen, and its memory climbed for hours (docs/benchmarks.md,
"Retention soak"). In power-of-two size classes there are a handful of each.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobsched.core import CategoryConfig, FakeClock, Scheduler, SchedulerConfig
from jobsched.core.retention import MIN_AGE
from jobsched.core.task import SUCCEEDED
from jobsched.storage import SqliteStore
from jobsched.storage.query_sql import in_size_classes, padded, size_class


def prepared_statements() -> int:
    """The sqlite3 statements alive in this process (each connection's cache)."""
    gc.collect()
    return sum(
        1
        for o in gc.get_objects()
        if type(o).__name__ == "Statement" and type(o).__module__ == "sqlite3"
    )


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Scheduler, FakeClock]]:
    clock = FakeClock()
    config = SchedulerConfig(
        workers=64,
        # A rate limit makes the claim name its ids; a generous one never holds a task.
        categories={"bulk": CategoryConfig(min_workers=64, rate="100000/s", burst=10000)},
        retention={SUCCEEDED: 0},  # every task goes at the first pass after MIN_AGE
    )
    sched = Scheduler(
        config, SqliteStore(tmp_path / "jobs.db"), clock=clock, threaded=False,
        rng=random.Random(3),
    )  # fmt: skip
    sched.handler("bulk.noop", category="bulk")(lambda payload: None)
    with sched:
        yield sched, clock


def run_batches(sched: Scheduler, clock: FakeClock, sizes: range) -> None:
    """For each size: submit that many tasks at once, run them all (one claim, one group
    commit), then let retention delete them (one prune batch)."""
    for size in sizes:
        sched.submit_many([("bulk.noop", None)] * size)
        sched.run_until_idle()
        clock.advance(MIN_AGE + 1)
        sched.step()
        assert sched.store.counts().get("bulk", {}).get(SUCCEEDED, 0) == 0


def test_batches_of_every_size_reuse_a_few_prepared_statements(
    node: tuple[Scheduler, FakeClock],
) -> None:
    sched, clock = node
    # Given a node on a SQLite file that has run batches of one and two tasks, and its
    # once-a-minute work (the history's write and prune) a few times
    run_batches(sched, clock, range(1, 3))
    for _ in range(3):
        clock.advance(61)
        sched.step()
    before = prepared_statements()
    # When it runs batches of every size from 3 to 40 (inserted, claimed, finished, pruned)
    run_batches(sched, clock, range(3, 41))
    # Then every task is gone, and the four kinds of batch statement added a handful of
    # size classes each (4, 8, 16, 32, 64), not one statement per size (38 each)
    assert sched.retention.deleted == sum(range(1, 41))
    added = prepared_statements() - before
    print(f"prepared statements added: {added}")
    assert added <= 4 * 5
    # And the node keeps nothing per finished task: no claim, no waiter
    assert len(sched.claims) == 0 and sched.waiters.waited() == frozenset()


def test_size_classes_are_powers_of_two_and_padding_repeats_the_last_value() -> None:
    assert [size_class(n) for n in (0, 1, 2, 3, 4, 5, 255, 256, 257)] == [
        1, 1, 2, 4, 4, 8, 256, 256, 512,
    ]  # fmt: skip
    assert padded([7, 8, 9]) == [7, 8, 9, 9] and padded([]) == []
    runs = in_size_classes(list(range(300)), 128)
    assert [len(r) for r in runs] == [128, 128, 32, 8, 4]
    assert [x for r in runs for x in r] == list(range(300))
