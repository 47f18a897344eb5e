"""A hypothesis state machine over the stepped engine on a fake clock.

Rules: submit (now or delayed, failing some attempts), advance time, step, change a
priority, resize the budget, crash-and-restart (the node vanishes between steps), and a
graceful restart. After every rule the engine must keep these invariants:

- the pools sum to the budget, and min <= size <= max for every unpinned category;
- after a balance, no category with work has zero workers (the budget allows it here);
- within a category, first runs start in submit order among tasks due at the same time;
- no (task, attempt) runs twice, and no task succeeds twice;
- no task runs before its run_at;
- the store matches the model: every submitted task exists, a successful run means
  ``succeeded``, terminal states never change, and after a restart no row is left
  ``running`` for a dead node.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from jobsched.core import (
    CategoryConfig,
    FakeClock,
    MemoryStore,
    Scheduler,
    SchedulerConfig,
    current_task,
)
from jobsched.core.task import TERMINAL

CATEGORIES = {
    "a": CategoryConfig(priority=1, min_workers=1),
    "b": CategoryConfig(priority=2, max_workers=3),
    "c": CategoryConfig(priority=4, max_attempts=2),
}


class EngineMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.clock = FakeClock()
        self.store = MemoryStore()
        self.runs: list[tuple[int, int, str, bool, float]] = []  # id, attempt, category, ok, at
        self.submitted: dict[int, dict[str, Any]] = {}
        self.terminal_seen: dict[int, str] = {}
        self.budget = 6
        self.sched = self._new_scheduler()
        self.crashes = 0

    def _new_scheduler(self) -> Scheduler:
        config = SchedulerConfig(
            workers=6, categories=CATEGORIES, balance_interval=2.0, cooldown=4.0
        )
        sched = Scheduler(config, self.store, clock=self.clock, threaded=False)

        def job(payload: dict[str, Any]) -> int:
            task = current_task()
            ok = task.attempt > payload["fail_until"]
            self.runs.append((task.id, task.attempt, task.category, ok, self.clock.now()))
            if not ok:
                raise RuntimeError(f"attempt {task.attempt} fails on purpose")
            return task.attempt

        for cat in CATEGORIES:
            sched.handler(f"{cat}.job")(job)
        sched.start()
        if self.budget != config.workers:
            sched.set_workers(self.budget)
            sched.step()
        return sched

    # ------------------------------------------------------------------ rules
    @rule(
        cat=st.sampled_from(sorted(CATEGORIES)),
        delay=st.sampled_from([0, 0, 0.5, 3.0]),
        fail_until=st.sampled_from([0, 0, 1, 5]),
        max_attempts=st.integers(1, 3),
        count=st.integers(1, 4),
    )
    def submit(
        self, cat: str, delay: float, fail_until: int, max_attempts: int, count: int
    ) -> None:
        for _ in range(count):
            handle = self.sched.submit(
                f"{cat}.job", {"fail_until": fail_until}, delay=delay, max_attempts=max_attempts
            )
            self.submitted[handle.id] = {"cat": cat, "run_at": self.sched.get(handle.id).run_at}

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 2.5]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def step(self) -> None:
        self.sched.step()

    @rule()
    def balance_and_step(self) -> None:
        self.clock.advance(self.sched.config.balance_interval + self.sched.config.cooldown)
        self.sched.step()
        snap = self.sched.snapshot()
        for cat in snap.categories:
            if cat.queued + cat.running > 0 and not cat.paused:
                assert cat.workers >= 1, f"category {cat.name} starves: {snap.categories}"

    @rule(cat=st.sampled_from(sorted(CATEGORIES)), weight=st.sampled_from([0.5, 1, 3, 10, 1e308]))
    def change_priority(self, cat: str, weight: float) -> None:
        self.sched.set_priority(cat, weight)

    @rule(budget=st.integers(3, 10))
    def resize_budget(self, budget: int) -> None:
        self.sched.set_workers(budget)
        self.budget = budget
        self.sched.step()

    @precondition(lambda self: self.crashes < 3)
    @rule()
    def crash_and_restart(self) -> None:
        # The node vanishes between steps: no stop(), its claims stay `running`.
        self.crashes += 1
        self.sched = self._new_scheduler()
        running = [r for r in self.store.list_tasks(state="running", limit=10_000)]
        assert all(r.owner == self.sched.node_id for r in running)

    @rule()
    def graceful_restart(self) -> None:
        self.sched.stop()
        assert self.store.list_tasks(state="running", limit=10_000) == []
        self.sched = self._new_scheduler()

    # ------------------------------------------------------------------ invariants
    @invariant()
    def pools_sum_to_the_budget_within_bounds(self) -> None:
        snap = self.sched.snapshot()
        assert snap.pool_total == self.budget
        for cat in snap.categories:
            if cat.pinned is None:
                cap = self.budget if cat.max_workers is None else min(cat.max_workers, self.budget)
                assert cat.min_workers <= cat.workers <= cap, cat

    @invariant()
    def no_attempt_runs_twice_and_nothing_succeeds_twice(self) -> None:
        pairs = [(i, a) for i, a, *_ in self.runs]
        assert len(pairs) == len(set(pairs))
        successes = [i for i, _, _, ok, _ in self.runs if ok]
        assert len(successes) == len(set(successes))

    @invariant()
    def nothing_runs_early(self) -> None:
        for task_id, attempt, _, _, at in self.runs:
            if attempt == 1:
                assert at >= self.submitted[task_id]["run_at"]

    @invariant()
    def first_runs_keep_submit_order_among_tasks_due_together(self) -> None:
        first: dict[int, int] = {}
        for index, (task_id, *_rest) in enumerate(self.runs):
            first.setdefault(task_id, index)
        by_cat: dict[str, list[int]] = {}
        for task_id in first:
            by_cat.setdefault(self.submitted[task_id]["cat"], []).append(task_id)
        for ids in by_cat.values():
            for earlier, later in zip(ids, ids[1:], strict=False):
                if later < earlier:
                    # a lower id started later: only allowed if it was due later
                    assert self.submitted[later]["run_at"] > self.submitted[earlier]["run_at"], (
                        f"task {later} was due first but started after {earlier}"
                    )

    @invariant()
    def store_matches_the_model(self) -> None:
        rows = {r.id: r for r in self.store.list_tasks(limit=100_000)}
        assert set(self.submitted) <= set(rows), "a submitted task is missing from the store"
        succeeded = {i for i, _, _, ok, _ in self.runs if ok}
        for task_id in succeeded:
            assert rows[task_id].state == "succeeded"
        for task_id, row in rows.items():
            if row.state in TERMINAL:
                assert self.terminal_seen.setdefault(task_id, row.state) == row.state
            if row.state == "running":
                assert row.owner == self.sched.node_id
            if row.state == "failed" and row.reason == "error":
                assert row.attempts == row.max_attempts


TestEngineMachine = EngineMachine.TestCase
TestEngineMachine.settings = settings(
    max_examples=int(__import__("os").environ.get("MODEL_EXAMPLES", "60")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
