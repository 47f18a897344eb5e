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
