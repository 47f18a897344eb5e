"""The store contract for recurring schedules (``claim_tick`` and the schedule rows), part
of :class:`tests.store_contract.StoreContract`, so it runs against every store."""

from __future__ import annotations

import threading

from jobsched.core.store import TaskStore
from jobsched.core.task import SUCCEEDED, NewTask, Outcome

T0 = 1_700_000_000.0
NODE = "node-a"


def _task(key: str | None = None) -> NewTask:
    return NewTask("demo.echo", "email", '{"n": 1}', T0, 3, None, key)


class ScheduleContract:
    def test_a_new_schedule_is_known_unpaused_since_its_first_sight(self, store: TaskStore) -> None:
        # Given a schedule ensured twice, at two times
        store.ensure_schedules(["report"], T0)
        store.ensure_schedules(["report"], T0 + 50)
        # Then it keeps the first time, unpaused, with no tick yet
        state = store.schedule_states(["report"])["report"]
        assert (state.paused, state.since, state.last_tick, state.last_task_id) == (
            False, T0, None, None,
        )  # fmt: skip
        assert store.schedule_states(["other"]) == {}
        assert set(store.schedule_states()) == {"report"}

    def test_a_tick_is_claimed_once_with_its_task(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        # When a tick is claimed twice
        first = store.claim_tick("report", T0 + 60, _task(), T0 + 60)
        second = store.claim_tick("report", T0 + 60, _task(), T0 + 61)
        # Then the first inserted a task and the second wrote nothing
        assert first is not None and first > 0
        assert second is None
        assert sum(store.counts().get("email", {}).values()) == 1
        state = store.schedule_states(["report"])["report"]
        assert (state.last_tick, state.last_run_at, state.last_task_id) == (T0 + 60, T0 + 60, first)
        assert state.last_state == "queued"

    def test_the_last_run_reports_its_tasks_outcome(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        task_id = store.claim_tick("report", T0 + 60, _task(), T0 + 60)
        [claimed] = store.claim("email", 1, NODE, T0 + 60)
        assert claimed.id == task_id
        store.finish([Outcome(claimed.id, NODE, claimed.attempts, SUCCEEDED, T0 + 61)])
        assert store.schedule_states(["report"])["report"].last_state == SUCCEEDED

    def test_a_skip_mark_claims_its_tick_without_a_task(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        assert store.claim_tick("report", T0 + 120, None, T0 + 500, skip_from=T0 + 60) == 0
        assert store.claim_tick("report", T0 + 120, _task(), T0 + 500) is None
        state = store.schedule_states(["report"])["report"]
        assert state.last_tick == T0 + 120 and state.last_task_id is None
        assert store.counts().get("email", {}).get("queued", 0) == 0

    def test_run_now_claims_are_kept_apart_from_the_clocks_ticks(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        manual = store.claim_tick("report", T0 + 60, _task(), T0 + 60, manual=True)
        tick = store.claim_tick("report", T0 + 60, _task(), T0 + 60)
        assert manual and tick and manual != tick
        state = store.schedule_states(["report"])["report"]
        assert state.last_tick == T0 + 60

    def test_a_run_now_is_the_last_run_but_not_the_last_tick(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        store.claim_tick("report", T0 + 60, _task(), T0 + 60)
        manual = store.claim_tick("report", T0 + 90, _task(), T0 + 90, manual=True)
        state = store.schedule_states(["report"])["report"]
        assert (state.last_tick, state.last_task_id, state.last_run_at) == (
            T0 + 60,
            manual,
            T0 + 90,
        )

    def test_pause_and_resume_reach_the_store_and_resume_moves_since(
        self, store: TaskStore
    ) -> None:
        store.ensure_schedules(["report"], T0)
        store.set_schedule_paused("report", True, T0 + 10)
        assert store.schedule_states()["report"].paused is True
        store.set_schedule_paused("report", False, T0 + 20)
        state = store.schedule_states()["report"]
        assert (state.paused, state.since) == (False, T0 + 20)

    def test_pausing_an_unknown_schedule_makes_it_known(self, store: TaskStore) -> None:
        store.set_schedule_paused("fresh", True, T0)
        assert store.schedule_states(["fresh"])["fresh"].paused is True

    def test_a_tick_with_a_live_dedup_key_joins_the_live_task(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        first = store.claim_tick("report", T0 + 60, _task("rep"), T0 + 60)
        joined = store.claim_tick("report", T0 + 120, _task("rep"), T0 + 120)
        assert first == joined
        assert sum(store.counts().get("email", {}).values()) == 1

    def test_threads_racing_for_one_tick_make_one_task(self, store: TaskStore) -> None:
        store.ensure_schedules(["report"], T0)
        results: list[int | None] = []
        gate = threading.Barrier(4, timeout=10)

        def race() -> None:
            gate.wait()
            results.append(store.claim_tick("report", T0 + 60, _task(), T0 + 60))

        threads = [threading.Thread(target=race) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert len(results) == 4
        assert len([r for r in results if r]) == 1
        assert sum(store.counts().get("email", {}).values()) == 1

    # --- old tick rows: pruned, never claimed again -----------------------------------------
    def test_a_clock_tick_at_or_before_the_newest_claimed_is_refused(
        self, store: TaskStore
    ) -> None:
        store.ensure_schedules(["report"], T0)
        assert store.claim_tick("report", T0 + 120, _task(), T0 + 120)
        # A clock tick older than the newest claimed one is refused, task and all
        assert store.claim_tick("report", T0 + 60, _task(), T0 + 121) is None
        assert store.claim_tick("report", T0 + 60, None, T0 + 121, skip_from=T0 + 30) is None
        assert sum(store.counts().get("email", {}).values()) == 1
        # A run-now at that time is not a clock tick: it goes in
        assert store.claim_tick("report", T0 + 60, _task(), T0 + 121, manual=True)
        # And another schedule's ticks are its own
        store.ensure_schedules(["other"], T0)
        assert store.claim_tick("other", T0 + 60, _task(), T0 + 121)

    def test_pruning_keeps_the_newest_tick_the_newest_run_and_young_rows(
        self, store: TaskStore
    ) -> None:
        # Given ten claimed clock ticks a minute apart (the 5th a skip mark), and a run-now
        store.ensure_schedules(["report"], T0)
        manual = store.claim_tick("report", T0 + 30, _task(), T0 + 30, manual=True)
        for k in range(1, 11):
            task = None if k == 5 else _task()
            skip = T0 + 240 if k == 5 else None
            assert (
                store.claim_tick("report", T0 + 60 * k, task, T0 + 60 * k, skip_from=skip)
                is not None
            )
        before = store.schedule_states(["report"])["report"]
        # When rows older than T0 + 481 are pruned, three at a time
        batches = []
        while deleted := store.prune_ticks(T0 + 481, 3):
            batches.append(deleted)
        # Then the run-now and ticks 1-8 went (oldest first), ticks 9 and 10 stay
        assert batches == [3, 3, 3]
        assert store.prune_ticks(T0 + 481, 100) == 0
        assert store.schedule_states(["report"])["report"] == before
        assert store.claim_tick("report", T0 + 30, _task(), T0 + 600, manual=True) not in (
            None,
            manual,
        )
        # And however far the horizon moves, the newest clock tick is kept (the run-now
        # claimed again just now and tick 9 go)
        assert store.prune_ticks(T0 + 10**6, 100) == 2
        assert store.schedule_states(["report"])["report"] == before
        assert store.prune_ticks(T0 + 10**6, 100) == 0

    def test_pruning_keeps_a_newer_run_now_and_rows_claimed_recently(
        self, store: TaskStore
    ) -> None:
        # Given a clock tick, a skip mark claimed late for a tick long past, the newest
        # clock tick, and a run-now newer than it
        store.ensure_schedules(["report"], T0)
        store.claim_tick("report", T0 + 60, _task(), T0 + 60)
        store.claim_tick("report", T0 + 120, None, T0 + 5000, skip_from=T0 + 120)
        store.claim_tick("report", T0 + 180, _task(), T0 + 5000)
        manual = store.claim_tick("report", T0 + 300, _task(), T0 + 300, manual=True)
        # When rows before T0 + 1000 are pruned, then only the first tick goes: the skip
        # mark was claimed after the cutoff
        assert store.prune_ticks(T0 + 1000, 100) == 1
        # With every row old, the skip mark goes too, but not the newest clock tick nor
        # the newest run
        assert store.prune_ticks(T0 + 10**6, 100) == 1
        assert store.prune_ticks(T0 + 10**6, 100) == 0
        state = store.schedule_states(["report"])["report"]
        assert (state.last_tick, state.last_run_at, state.last_task_id) == (
            T0 + 180, T0 + 300, manual,
        )  # fmt: skip
        assert store.claim_tick("report", T0 + 300, _task(), T0 + 10**6, manual=True) is None

    def test_a_pruned_tick_is_never_claimed_again(self, store: TaskStore) -> None:
        # Given ticks 1-5 claimed, then every row but the newest pruned
        store.ensure_schedules(["report"], T0)
        ids = [store.claim_tick("report", T0 + 60 * k, _task(), T0 + 60 * k) for k in range(1, 6)]
        assert store.prune_ticks(T0 + 10**6, 100) == 4
        # When a node whose plan is stale (or whose clock stepped back) claims them again
        again = [store.claim_tick("report", T0 + 60 * k, _task(), T0 + 400) for k in range(1, 6)]
        marks = store.claim_tick("report", T0 + 240, None, T0 + 400, skip_from=T0 + 60)
        # Then every claim is refused and no task was added
        assert again == [None] * 5 and marks is None
        assert sum(store.counts().get("email", {}).values()) == len(ids) == 5
        # And the next tick still goes in
        assert store.claim_tick("report", T0 + 360, _task(), T0 + 400)

    def test_claims_racing_a_pruner_make_one_task_per_tick(self, store: TaskStore) -> None:
        # Given three claimers walking the same 40 ticks, and a pruner deleting all it may
        store.ensure_schedules(["report"], T0)
        won: list[float] = []
        gate = threading.Barrier(4, timeout=10)
        done = threading.Event()

        def claimer() -> None:
            gate.wait()
            for k in range(1, 41):
                if store.claim_tick("report", T0 + k, _task(), T0 + k):
                    won.append(T0 + k)

        def pruner() -> None:
            gate.wait()
            while not done.is_set():
                store.prune_ticks(T0 + 10**6, 5)

        threads = [threading.Thread(target=claimer) for _ in range(3)]
        prune = threading.Thread(target=pruner)
        for t in [*threads, prune]:
            t.start()
        for t in threads:
            t.join(timeout=30)
        done.set()
        prune.join(timeout=30)
        # Then no tick was won twice, and every task belongs to one won tick
        assert sorted(won) == sorted(set(won)), sorted(won)
        assert sum(store.counts().get("email", {}).values()) == len(won)
        assert max(won) == T0 + 40
