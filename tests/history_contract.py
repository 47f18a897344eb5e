"""The store contract for the history by the minute (``add_history``, ``history``,
``prune_history``), part of :class:`tests.store_contract.StoreContract`, so it runs
against every store: memory, SQLite and PostgreSQL."""

from __future__ import annotations

from jobsched.core.history import MINUTE, MinuteStats
from jobsched.core.store import TaskStore

M0 = 1_700_000_040  # a minute's start (epoch seconds)


def row(minute: int, category: str = "email", *figures: object) -> MinuteStats:
    return MinuteStats(category, M0 + minute * MINUTE, *figures)  # type: ignore[arg-type]


class HistoryContract:
    def test_history_reads_back_what_a_node_wrote_by_minute_then_category(
        self, store: TaskStore
    ) -> None:
        store.add_history("node-a", [row(1, "web", 4, 1, 7, 2.5), row(0, "email", 3, 0, 0, None),
                                     row(1, "email", 5, 2, 1, 0.25)])  # fmt: skip
        assert store.history(M0) == [
            row(0, "email", 3, 0, 0, None),
            row(1, "email", 5, 2, 1, 0.25),
            row(1, "web", 4, 1, 7, 2.5),
        ]
        store.add_history("node-a", [row(0, "web", 1)])
        assert [(r.minute - M0, r.category) for r in store.history(M0)] == [
            (0, "email"), (0, "web"), (60, "email"), (60, "web")
        ]  # fmt: skip

    def test_history_adds_up_the_nodes_and_takes_the_deepest_queue_and_latency(
        self, store: TaskStore
    ) -> None:
        # Given two nodes that each wrote the same category and minute
        store.add_history("node-a", [row(0, "email", 10, 1, 40, 3.0)])
        store.add_history("node-b", [row(0, "email", 5, 2, 25, None)])
        store.add_history("node-c", [row(0, "email", 1, 0, 45, 1.0)])
        # Then neither overwrote the other: counts add up, the queue and latency are the most
        assert store.history(M0) == [row(0, "email", 16, 3, 45, 3.0)]

    def test_a_node_writing_its_row_again_replaces_it(self, store: TaskStore) -> None:
        # Given a write that is retried (its commit was reported as failed, but held)
        store.add_history("node-a", [row(0, "email", 10, 1, 4, None)])
        store.add_history("node-a", [row(0, "email", 10, 1, 4, None)])
        store.add_history("node-b", [row(0, "email", 2, 0, 0, None)])
        # Then nothing is counted twice
        assert store.history(M0) == [row(0, "email", 12, 1, 4, None)]

    def test_history_reads_only_the_window_asked_for(self, store: TaskStore) -> None:
        store.add_history("node-a", [row(n, "email", n + 1) for n in range(5)])
        assert [r.minute for r in store.history(M0 + 3 * MINUTE)] == [M0 + 180, M0 + 240]
        assert store.history(M0 + 5 * MINUTE) == []
        store.add_history("node-a", [])  # nothing to write is no write
        assert len(store.history(0)) == 5

    def test_prune_history_deletes_the_oldest_minutes_a_batch_at_a_time(
        self, store: TaskStore
    ) -> None:
        # Given four minutes of two nodes and two categories
        for node in ("node-a", "node-b"):
            store.add_history(node, [row(n, c, 1) for n in range(4) for c in ("email", "web")])
        # When minutes before the third are pruned, three rows at a time
        cutoff = M0 + 2 * MINUTE
        assert store.prune_history(cutoff, 3) == 3
        assert store.prune_history(cutoff, 3) == 3
        assert store.prune_history(cutoff, 3) == 2
        assert store.prune_history(cutoff, 3) == 0
        assert store.prune_history(cutoff, 0) == 0
        # Then the newer minutes are all there, still summed over both nodes
        assert store.history(0) == [
            row(2, "email", 2),
            row(2, "web", 2),
            row(3, "email", 2),
            row(3, "web", 2),
        ]
