"""Many threads on one SQLite file: no "database is locked", nothing lost."""

from __future__ import annotations

import threading
from collections.abc import Callable

from jobsched.core.task import STATES, SUCCEEDED, Outcome
from jobsched.storage import SqliteStore

from tests.store_contract import T0, new

THREADS = 8
PER_THREAD = 200
BATCH = 20


def test_eight_threads_insert_claim_and_finish_without_errors(
    make_store: Callable[..., SqliteStore],
) -> None:
    # Given one store shared by 8 threads, two threads per category
    store = make_store()
    store.open("node-a")
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    finished: list[int] = []

    def finish_all(owner: str, category: str, limit: int) -> int:
        tasks = store.claim(category, limit, owner, T0 + 1)
        outcomes = [Outcome(t.id, owner, t.attempts, SUCCEEDED, T0 + 2, result="1") for t in tasks]
        applied = store.finish(outcomes)
        assert all(applied), applied
        finished.extend(t.id for t in tasks)
        return len(tasks)

    def work(n: int) -> None:
        owner, category = f"node-a/{n}", f"cat{n % 4}"
        try:
            start.wait(timeout=10)
            # When each inserts batches and claims and finishes as it goes
            for _ in range(PER_THREAD // BATCH):
                store.insert([new(category=category) for _ in range(BATCH)], T0)
                finish_all(owner, category, BATCH // 2)
                store.counts()
            while finish_all(owner, category, BATCH):
                pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    # Then no thread failed, every task ran exactly once, and all rows are terminal
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    total = THREADS * PER_THREAD
    assert sorted(finished) == list(range(1, total + 1))
    counts = store.counts()
    assert sum(per[SUCCEEDED] for per in counts.values()) == total
    assert all(per[s] == 0 for per in counts.values() for s in STATES if s != SUCCEEDED)
