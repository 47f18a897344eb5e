"""The contract every TaskStore keeps (the rules in ``core/store.py``), as one suite.

A test module runs it against a store by subclassing :class:`StoreContract` and giving
a ``store`` fixture that yields an opened store:

    class TestMemoryStore(StoreContract):
        @pytest.fixture
        def store(self):
            ...
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from jobsched.core.counters import NodeCounters
from jobsched.core.progress import TaskProgress
from jobsched.core.query import Page, TaskQuery, parse
from jobsched.core.retention import PruneRule
from jobsched.core.store import (
    CANCEL_DONE,
    CANCEL_MISSING,
    CANCEL_REQUESTED,
    CANCEL_TERMINAL,
    TaskStore,
)
from jobsched.core.task import (
    ATTEMPTS_KEPT,
    CANCELLED,
    FAILED,
    ORPHANED_ATTEMPT_ERROR,
    QUEUED,
    REASON_CANCELLED,
    REASON_ERROR,
    REASON_ORPHANED,
    RUNNING,
    SCHEDULED,
    STATES,
    SUCCEEDED,
    AttemptError,
    CategorySettings,
    NewTask,
    NodeInfo,
    Outcome,
    TaskRecord,
    attempt_history,
)

from tests.history_contract import HistoryContract
from tests.schedule_contract import ScheduleContract

T0 = 1_700_000_000.0  # "now" at the start of every test
NODE = "node-a"
OTHER = "node-b"


def new(
    handler: str = "demo.echo",
    category: str = "email",
    payload: str = '{"n": 1}',
    run_at: float = T0,
    max_attempts: int = 3,
    timeout: float | None = None,
    key: str | None = None,
    priority: int = 0,
) -> NewTask:
    return NewTask(handler, category, payload, run_at, max_attempts, timeout, key, priority)


def done(task: TaskRecord, state: str = SUCCEEDED, at: float = T0 + 5, **fields: object) -> Outcome:
    """The outcome of ``task``'s current attempt (as claimed)."""
    return Outcome(task.id, task.owner or NODE, task.attempts, state, at, **fields)  # type: ignore[arg-type]


class StoreContract(ScheduleContract, HistoryContract):
    """Every method of :class:`core.store.TaskStore`, behaviour by behaviour (those of
    recurring schedules in :class:`tests.schedule_contract.ScheduleContract`, of the
    history in :class:`tests.history_contract.HistoryContract`)."""

    # --- helpers ---------------------------------------------------------------------
    def running(self, store: TaskStore, count: int = 1, **options: object) -> list[TaskRecord]:
        """Given ``count`` tasks inserted, claimed by NODE, and their handlers started."""
        category = str(options.get("category", "email"))
        store.insert([new(**options) for _ in range(count)], T0)  # type: ignore[arg-type]
        tasks = store.claim(category, count, NODE, T0 + 1)
        for task in tasks:
            assert store.record_start(task)
        return tasks

    # --- protocol ----------------------------------------------------------------------
    def test_implements_the_protocol(self, store: TaskStore) -> None:
        assert isinstance(store, TaskStore)
        assert isinstance(store.shared, bool)
        assert isinstance(store.location, str) and store.location

    # --- insert ------------------------------------------------------------------------
    def test_insert_returns_increasing_ids_and_stores_every_field(self, store: TaskStore) -> None:
        ids = store.insert(
            [new(), new(handler="web.fetch", category="web", payload="[1, 2]", max_attempts=5,
                        timeout=2.5, key="k1")],
            T0,
        )  # fmt: skip
        assert len(ids) == 2 and ids[0] < ids[1]
        row = store.get(ids[1])
        assert row == TaskRecord(
            id=ids[1], handler="web.fetch", category="web", state=QUEUED, payload="[1, 2]",
            run_at=T0, created_at=T0, max_attempts=5, attempts=0, timeout=2.5, dedup_key="k1",
        )  # fmt: skip

    def test_ids_keep_increasing_across_batches(self, store: TaskStore) -> None:
        first = store.insert([new(), new()], T0)
        second = store.insert([new()], T0)
        assert first[1] < second[0]

    def test_empty_batch_inserts_nothing(self, store: TaskStore) -> None:
        assert store.insert([], T0) == []
        assert store.counts() == {}

    def test_future_run_at_is_scheduled_and_due_is_queued(self, store: TaskStore) -> None:
        later, now, past = store.insert(
            [new(run_at=T0 + 60), new(run_at=T0), new(run_at=T0 - 60)], T0
        )
        assert store.get(later).state == SCHEDULED  # type: ignore[union-attr]
        assert store.get(now).state == QUEUED  # type: ignore[union-attr]
        assert store.get(past).state == QUEUED  # type: ignore[union-attr]

    def test_batch_of_many_is_all_visible_in_order(self, store: TaskStore) -> None:
        ids = store.insert([new(payload=f'{{"i": {i}}}') for i in range(250)], T0)
        assert ids == sorted(ids) and len(set(ids)) == 250
        assert store.counts()["email"][QUEUED] == 250
        assert store.get(ids[137]).payload == '{"i": 137}'  # type: ignore[union-attr]

    def test_dedup_key_of_a_live_task_returns_its_id(self, store: TaskStore) -> None:
        [first] = store.insert([new(key="report")], T0)
        [again] = store.insert([new(key="report", payload='{"other": true}')], T0 + 1)
        assert again == first
        assert store.counts()["email"][QUEUED] == 1
        assert store.get(first).payload == '{"n": 1}'  # type: ignore[union-attr]

    def test_dedup_within_one_batch(self, store: TaskStore) -> None:
        ids = store.insert([new(key="a"), new(key="b"), new(key="a"), new()], T0)
        assert ids[0] == ids[2] and len(set(ids)) == 3

    def test_dedup_holds_while_scheduled_and_running(self, store: TaskStore) -> None:
        [later] = store.insert([new(key="s", run_at=T0 + 60)], T0)
        assert store.insert([new(key="s")], T0) == [later]
        [task] = self.running(store, key="r")
        assert store.insert([new(key="r")], T0) == [task.id]

    def test_a_finished_task_frees_its_dedup_key(self, store: TaskStore) -> None:
        [task] = self.running(store, key="k")
        store.finish([done(task)])
        [fresh] = store.insert([new(key="k")], T0)
        assert fresh != task.id
        assert store.get(fresh).state == QUEUED  # type: ignore[union-attr]

    def test_get_of_an_unknown_id_is_none(self, store: TaskStore) -> None:
        assert store.get(424242) is None

    def test_records_are_copies(self, store: TaskStore) -> None:
        [task_id] = store.insert([new()], T0)
        store.get(task_id).state = FAILED  # type: ignore[union-attr]
        assert store.get(task_id).state == QUEUED  # type: ignore[union-attr]

    # --- scheduled tasks -----------------------------------------------------------------
    def test_next_run_at_is_the_earliest_scheduled(self, store: TaskStore) -> None:
        assert store.next_run_at() is None
        store.insert([new(run_at=T0 + 30), new(run_at=T0 + 10), new(run_at=T0)], T0)
        assert store.next_run_at() == T0 + 10

    def test_promote_due_moves_only_due_tasks(self, store: TaskStore) -> None:
        soon, late = store.insert([new(run_at=T0 + 10), new(run_at=T0 + 20)], T0)
        assert store.promote_due(T0 + 5) == 0
        assert store.promote_due(T0 + 10) == 1
        assert store.get(soon).state == QUEUED  # type: ignore[union-attr]
        assert store.get(late).state == SCHEDULED  # type: ignore[union-attr]
        assert store.next_run_at() == T0 + 20
        assert store.promote_due(T0 + 10) == 0

    def test_scheduled_tasks_are_not_claimed_until_promoted(self, store: TaskStore) -> None:
        [task_id] = store.insert([new(run_at=T0 + 10)], T0)
        assert store.claim("email", 10, NODE, T0 + 11) == []
        store.promote_due(T0 + 11)
        assert [t.id for t in store.claim("email", 10, NODE, T0 + 11)] == [task_id]

    def test_cancelled_scheduled_task_leaves_the_timer(self, store: TaskStore) -> None:
        [task_id] = store.insert([new(run_at=T0 + 10)], T0)
        store.cancel([task_id], T0)
        assert store.next_run_at() is None
        assert store.promote_due(T0 + 20) == 0

    # --- claim ---------------------------------------------------------------------------
    def test_claim_takes_lowest_ids_first_up_to_the_limit(self, store: TaskStore) -> None:
        ids = store.insert([new() for _ in range(5)], T0)
        claimed = store.claim("email", 3, NODE, T0 + 1)
        assert [t.id for t in claimed] == ids[:3]
        assert [t.id for t in store.claim("email", 10, NODE, T0 + 2)] == ids[3:]
        assert store.claim("email", 10, NODE, T0 + 3) == []

    def test_claim_marks_running_with_owner_attempt_and_start(self, store: TaskStore) -> None:
        [task_id] = store.insert([new()], T0)
        [task] = store.claim("email", 1, NODE, T0 + 1)
        assert (task.state, task.owner, task.attempts, task.started_at) == (
            RUNNING, NODE, 1, T0 + 1,
        )  # fmt: skip
        assert store.get(task_id) == task

    def test_claim_stays_in_its_category(self, store: TaskStore) -> None:
        email, web = store.insert([new(category="email"), new(category="web")], T0)
        assert [t.id for t in store.claim("web", 10, NODE, T0)] == [web]
        assert [t.id for t in store.claim("email", 10, NODE, T0)] == [email]
        assert store.claim("nosuch", 10, NODE, T0) == []

    def test_claim_with_no_room_takes_nothing(self, store: TaskStore) -> None:
        store.insert([new()], T0)
        assert store.claim("email", 0, NODE, T0) == []
        assert store.counts()["email"][QUEUED] == 1

    def test_claim_returns_records_in_id_order(self, store: TaskStore) -> None:
        store.insert([new() for _ in range(20)], T0)
        ids = [t.id for t in store.claim("email", 20, NODE, T0)]
        assert ids == sorted(ids)

    # --- priority within a category -----------------------------------------------------
    def test_claim_takes_higher_priorities_first_and_fifo_among_equals(
        self, store: TaskStore
    ) -> None:
        # Given a batch of mixed priorities, then a single urgent task
        ids = store.insert([new(priority=p) for p in (0, 5, 0, 5, 9, 0)], T0)
        [urgent] = store.insert([new(priority=9)], T0)
        # When they are claimed a few at a time
        first = store.claim("email", 3, NODE, T0 + 1)
        rest = store.claim("email", 10, NODE, T0 + 2)
        # Then 9s, then 5s, then 0s, each level in id order, and records carry the priority
        assert [t.id for t in first + rest] == [ids[4], urgent, ids[1], ids[3], ids[0],
                                                ids[2], ids[5]]  # fmt: skip
        assert [t.priority for t in first] == [9, 9, 5]
        assert store.queue_heads(["email"]) == {}

    def test_queue_heads_follow_the_claim_order(self, store: TaskStore) -> None:
        store.insert([new(run_at=T0 - 30), new(run_at=T0 - 10, priority=3)], T0)
        assert store.queue_heads(["email"]) == {"email": T0 - 10}

    def test_priority_is_kept_by_retries_releases_and_delays(self, store: TaskStore) -> None:
        # Given an urgent task that fails once and is retried at once, and a delayed one
        [plain] = store.insert([new()], T0)
        [urgent] = self.running(store, priority=7)
        store.finish([done(urgent, SCHEDULED, at=T0 + 5, error="e", run_at=T0 + 5)])
        [later] = store.insert([new(run_at=T0 + 10, priority=7)], T0)
        # When the delayed one comes due
        assert store.promote_due(T0 + 10) == 1
        # Then both join priority 7, ahead of the older plain task, in id order
        claimed = store.claim("email", 3, NODE, T0 + 11)
        assert [t.id for t in claimed] == [urgent.id, later, plain]
        # And a released (given back) task, and one retried by the operator, keep it too
        assert store.release([urgent.id], NODE) == 1
        store.finish([done(claimed[1], FAILED, error="e")])
        assert store.retry([later], T0 + 12) == [later]
        again = store.claim("email", 2, NODE, T0 + 13)
        assert [(t.id, t.priority) for t in again] == [(urgent.id, 7), (later, 7)]

    def test_insert_claimed_keeps_the_priority(self, store: TaskStore) -> None:
        [task] = store.insert_claimed([new(priority=4)], T0, NODE)
        assert task.priority == 4 and store.get(task.id) == task

    # --- claim_limited (rate limits) ------------------------------------------------------
    def test_claim_limited_takes_only_what_the_bucket_pays_for(self, store: TaskStore) -> None:
        from jobsched.core.claim_plan import ClaimLimits
        from jobsched.core.limits import RateLimit

        rate = RateLimit(1 / 3600, 3, "1/h")  # refills a token an hour: none during the test
        slow = ClaimLimits(("category:email", rate))
        # Given one queued task and a full bucket of 3
        store.insert([new()], T0)
        first = store.claim_limited("email", 10, NODE, T0, slow)
        # Then it is claimed, nothing is held back, and the unused tokens are kept
        assert [t.state for t in first.tasks] == [RUNNING] and first.wait is None
        ids = store.insert([new(priority=p) for p in (0, 0, 5, 0)], T0)
        second = store.claim_limited("email", 10, NODE, T0, slow)
        assert [t.id for t in second.tasks] == [ids[2], ids[0]]
        # And with the bucket empty the rest are held, with the wait for the next token
        assert second.wait is not None and 3500 < second.wait <= 3600
        third = store.claim_limited("email", 10, NODE, T0, slow)
        assert third.tasks == [] and third.wait is not None
        assert store.counts()["email"][QUEUED] == 2
        # While another bucket, and a plain claim, are not touched by this one
        other = store.claim_limited("email", 1, NODE, T0, ClaimLimits(("category:x", rate)))
        assert len(other.tasks) == 1 and len(store.claim("email", 10, NODE, T0)) == 1

    def test_claim_limited_skips_a_handler_whose_bucket_is_empty(self, store: TaskStore) -> None:
        from jobsched.core.claim_plan import ClaimLimits
        from jobsched.core.limits import RateLimit

        # Given "slow" handler tasks at the head of the queue, its bucket holding 2 tokens,
        # and "fast" (unlimited) tasks behind them
        rate = RateLimit(1 / 3600, 2, "1/h")
        limits = ClaimLimits(None, {"slow.job": ("handler:slow.job", rate)})
        slow = store.insert([new(handler="slow.job") for _ in range(5)], T0)
        fast = store.insert([new(handler="fast.job") for _ in range(3)], T0)
        # When a claim of up to 6 goes through the buckets
        claimed = store.claim_limited("email", 6, NODE, T0, limits)
        # Then two slow tasks are claimed, the rest held back, and the fast ones pass them
        assert [t.id for t in claimed.tasks] == slow[:2] + fast
        assert claimed.wait is not None and claimed.wait > 3000
        again = store.claim_limited("email", 6, NODE, T0, limits)
        assert again.tasks == [] and again.wait is not None
        assert store.counts()["email"][QUEUED] == 3

    # --- insert_claimed (the direct hand-off) -------------------------------------------
    def test_insert_claimed_stores_what_a_claim_would_return(self, store: TaskStore) -> None:
        [older] = store.insert([new()], T0)
        claimed = store.insert_claimed(
            [new(payload="[1]", timeout=2.5), new(handler="web.fetch", category="web")],
            T0 + 1,
            NODE,
        )
        assert [t.id for t in claimed] == sorted(t.id for t in claimed)
        assert claimed[0].id > older
        for task in claimed:
            assert store.get(task.id) == task
            assert (task.state, task.owner, task.attempts, task.started_at, task.created_at) == (
                RUNNING, NODE, 1, T0 + 1, T0 + 1,
            )  # fmt: skip
        assert (claimed[0].payload, claimed[0].timeout, claimed[1].category) == ("[1]", 2.5, "web")
        # Then the rows are not claimed again, and the older queued one is still there
        assert [t.id for t in store.claim("email", 10, NODE, T0 + 2)] == [older]
        assert store.insert_claimed([], T0, NODE) == []

    def test_an_insert_claimed_task_finishes_and_recovers_like_a_claimed_one(
        self, store: TaskStore
    ) -> None:
        began, waiting, done_ = store.insert_claimed([new(), new(), new()], T0, OTHER)
        assert store.record_start(began)
        assert store.record_start(done_)
        assert store.finish([done(done_)]) == [True]
        # When the node that inserted them dies: only the run that began counts
        report = store.recover(NODE, T0 + 2)
        assert sorted(report.requeued) == [began.id, waiting.id]
        assert (store.get(began.id).attempts, store.get(waiting.id).attempts) == (1, 0)  # type: ignore[union-attr]
        assert store.get(done_.id).state == SUCCEEDED  # type: ignore[union-attr]

    # --- finish --------------------------------------------------------------------------
    def test_finish_succeeded_writes_the_result(self, store: TaskStore) -> None:
        [task] = self.running(store)
        assert store.finish([done(task, result='{"ok": true}')]) == [True]
        row = store.get(task.id)
        assert row is not None
        assert (row.state, row.result, row.finished_at, row.owner) == (
            SUCCEEDED, '{"ok": true}', T0 + 5, None,
        )  # fmt: skip
        assert row.attempts == 1

    def test_finish_failed_keeps_error_and_reason(self, store: TaskStore) -> None:
        [task] = self.running(store)
        assert store.finish([done(task, FAILED, error="Traceback...", reason=REASON_ERROR)]) == [
            True
        ]
        row = store.get(task.id)
        assert row is not None
        assert (row.state, row.error, row.reason) == (FAILED, "Traceback...", REASON_ERROR)

    def test_finish_is_fenced_by_owner_attempt_and_state(self, store: TaskStore) -> None:
        [task] = self.running(store)
        wrong_owner = replace(done(task), owner=OTHER)
        wrong_attempt = replace(done(task), attempt=task.attempts + 1)
        missing = replace(done(task), id=999_999)
        assert store.finish([wrong_owner, wrong_attempt, missing]) == [False, False, False]
        assert store.get(task.id) == task
        assert store.finish([done(task)]) == [True]
        assert store.finish([done(task, FAILED)]) == [False]  # already finished
        assert store.get(task.id).state == SUCCEEDED  # type: ignore[union-attr]

    def test_finish_answers_each_outcome_of_a_batch(self, store: TaskStore) -> None:
        a, b, c = self.running(store, 3)
        answers = store.finish([done(a), replace(done(b), owner=OTHER), done(c, FAILED), done(a)])
        assert answers == [True, False, True, False]

    def test_a_fenced_outcome_in_a_batch_of_different_tasks_changes_only_itself(
        self, store: TaskStore
    ) -> None:
        a, b, c = self.running(store, 3)
        answers = store.finish([done(a), replace(done(b), owner=OTHER), done(c, FAILED)])
        assert answers == [True, False, True]
        rows = [store.get(t.id) for t in (a, b, c)]
        assert [r.state for r in rows if r] == [SUCCEEDED, RUNNING, FAILED]
        assert store.finish([done(b)]) == [True]

    def test_a_batch_larger_than_one_statement_is_written_whole(self, store: TaskStore) -> None:
        tasks = self.running(store, 1000)
        assert store.finish([done(t, result=f"{t.id}") for t in tasks]) == [True] * 1000
        assert store.counts()["email"][SUCCEEDED] == 1000
        assert store.get(tasks[-1].id).result == f"{tasks[-1].id}"  # type: ignore[union-attr]

    def test_a_stale_attempt_cannot_overwrite_a_newer_one(self, store: TaskStore) -> None:
        [first] = self.running(store)
        store.finish([done(first, SCHEDULED, error="boom", run_at=None)])
        [second] = store.claim("email", 1, NODE, T0 + 6)
        assert second.attempts == 2
        assert store.finish([done(first)]) == [False]
        assert store.finish([done(second)]) == [True]

    def test_finish_retry_with_backoff_is_scheduled_and_keeps_the_error(
        self, store: TaskStore
    ) -> None:
        [task] = self.running(store, key="k")
        outcome = done(task, SCHEDULED, error="timeout", reason=REASON_ERROR, run_at=T0 + 60)
        assert store.finish([outcome]) == [True]
        row = store.get(task.id)
        assert row is not None
        assert (row.state, row.run_at, row.error, row.attempts, row.owner) == (
            SCHEDULED, T0 + 60, "timeout", 1, None,
        )  # fmt: skip
        assert store.next_run_at() == T0 + 60
        assert store.insert([new(key="k")], T0) == [task.id]  # still live
        assert store.promote_due(T0 + 60) == 1
        [again] = store.claim("email", 1, NODE, T0 + 61)
        assert (again.id, again.attempts) == (task.id, 2)

    @pytest.mark.parametrize("run_at", [None, T0 + 5, T0 + 1])
    def test_finish_retry_due_at_once_is_queued(
        self, store: TaskStore, run_at: float | None
    ) -> None:
        [task] = self.running(store)
        store.finish([done(task, SCHEDULED, at=T0 + 5, error="e", run_at=run_at)])
        row = store.get(task.id)
        assert row is not None
        assert row.state == QUEUED and row.run_at == (T0 + 5 if run_at is None else run_at)
        assert [t.id for t in store.claim("email", 1, NODE, T0 + 6)] == [task.id]

    def test_finish_retry_clears_a_cancel_request(self, store: TaskStore) -> None:
        [task] = self.running(store)
        store.cancel([task.id], T0 + 2)
        store.finish([done(task, SCHEDULED, run_at=T0 + 60)])
        assert store.get(task.id).cancel_requested is False  # type: ignore[union-attr]

    # --- earlier attempts ------------------------------------------------------------------
    def retried(self, store: TaskStore, task: TaskRecord, error: str, at: float) -> TaskRecord:
        """``task``'s attempt fails with ``error`` at ``at`` and is retried at once; the
        next attempt is claimed and started."""
        outcome = done(task, SCHEDULED, at=at, error=error, reason=REASON_ERROR, run_at=at)
        assert store.finish([outcome]) == [True]
        [again] = store.claim(task.category, 1, NODE, at + 1)
        assert again.id == task.id and store.record_start(again)
        return again

    def test_each_retried_attempt_keeps_its_error_in_order(self, store: TaskStore) -> None:
        # Given a task that fails twice, then succeeds
        [task] = self.running(store)
        task = self.retried(store, task, "smtp timed out", T0 + 5)
        task = self.retried(store, task, "connection refused", T0 + 10)
        assert store.finish([done(task, at=T0 + 15, result="1")]) == [True]
        # Then both failed attempts are kept, oldest first, with their reason and end
        earlier = store.attempt_errors(task.id)
        assert earlier == [
            AttemptError(1, "smtp timed out", REASON_ERROR, T0 + 5),
            AttemptError(2, "connection refused", REASON_ERROR, T0 + 10),
        ]
        # And the succeeded attempt adds nothing to them
        row = store.get(task.id)
        assert row is not None and attempt_history(row, earlier) == earlier

    def test_the_final_error_is_the_tasks_own_and_adds_no_attempt_row(
        self, store: TaskStore
    ) -> None:
        # Given a task that fails once with a retry, then fails for good
        [task] = self.running(store, max_attempts=2)
        task = self.retried(store, task, "first", T0 + 5)
        assert store.finish([done(task, FAILED, at=T0 + 9, error="last", reason=REASON_ERROR)])
        # Then the store keeps the first attempt only; the last is the task's error
        earlier = store.attempt_errors(task.id)
        assert earlier == [AttemptError(1, "first", REASON_ERROR, T0 + 5)]
        row = store.get(task.id)
        assert row is not None and row.error == "last"
        assert attempt_history(row, earlier) == [
            AttemptError(1, "first", REASON_ERROR, T0 + 5),
            AttemptError(2, "last", REASON_ERROR, T0 + 9),
        ]
        # And a task that never retried has none
        [plain] = self.running(store, category="web")
        store.finish([done(plain, FAILED, error="boom", reason=REASON_ERROR)])
        assert store.attempt_errors(plain.id) == []
        assert store.attempt_errors(999_999) == [] and store.attempt_errors(2**70) == []

    def test_a_waiting_tasks_latest_attempt_is_among_the_earlier_ones(
        self, store: TaskStore
    ) -> None:
        [task] = self.running(store)
        store.finish([done(task, SCHEDULED, error="e1", reason=REASON_ERROR, run_at=T0 + 60)])
        row = store.get(task.id)
        assert row is not None and row.error == "e1"
        assert attempt_history(row, store.attempt_errors(task.id)) == [
            AttemptError(1, "e1", REASON_ERROR, T0 + 5)
        ]
        # Cancelled while waiting: still one attempt, the one that failed
        store.cancel([task.id], T0 + 7)
        row = store.get(task.id)
        assert row is not None and row.reason == REASON_CANCELLED
        assert [a.error for a in attempt_history(row, store.attempt_errors(task.id))] == ["e1"]

    def test_only_the_newest_attempts_are_kept(self, store: TaskStore) -> None:
        [task] = self.running(store, max_attempts=ATTEMPTS_KEPT + 10)
        for n in range(1, ATTEMPTS_KEPT + 6):
            task = self.retried(store, task, f"error {n}", T0 + 10 * n)
        numbers = [a.number for a in store.attempt_errors(task.id)]
        assert numbers == list(range(6, ATTEMPTS_KEPT + 6))

    def test_a_retry_outcome_fenced_out_keeps_no_attempt(self, store: TaskStore) -> None:
        [task] = self.running(store)
        retry = done(task, SCHEDULED, error="e", run_at=T0 + 60)
        # The same outcome twice in one batch: the second is fenced out
        assert store.finish([retry, retry]) == [True, False]
        assert store.finish([retry]) == [False]
        assert [a.number for a in store.attempt_errors(task.id)] == [1]

    def test_a_batch_of_retries_and_terminal_outcomes_keeps_the_retries(
        self, store: TaskStore
    ) -> None:
        a, b, c = self.running(store, 3)
        applied = store.finish([
            done(a, SCHEDULED, error="ea", reason=REASON_ERROR, run_at=T0 + 60),
            done(b, FAILED, error="eb", reason=REASON_ERROR),
            done(c, SCHEDULED, error="ec", reason=REASON_ERROR, run_at=T0 + 60),
        ])  # fmt: skip
        assert applied == [True, True, True]
        assert [x.error for x in store.attempt_errors(a.id)] == ["ea"]
        assert store.attempt_errors(b.id) == []
        assert [x.error for x in store.attempt_errors(c.id)] == ["ec"]

    def test_recover_keeps_the_interrupted_attempt_of_a_run_that_began(
        self, store: TaskStore
    ) -> None:
        # Given a run that began and one only claimed, on a node that died
        [begun, waiting] = store.insert([new(), new()], T0)
        claimed = {t.id: t for t in store.claim("email", 2, OTHER, T0 + 1)}
        assert store.record_start(claimed[begun])
        # When it is recovered
        store.recover(NODE, T0 + 50)
        # Then the begun run is an attempt, interrupted; the other was never one
        assert store.attempt_errors(begun) == [
            AttemptError(1, ORPHANED_ATTEMPT_ERROR, REASON_ORPHANED, T0 + 50)
        ]
        assert store.attempt_errors(waiting) == []

    def test_a_task_orphaned_for_good_shows_every_interrupted_attempt(
        self, store: TaskStore
    ) -> None:
        [task_id] = store.insert([new(max_attempts=2)], T0)
        for crash in range(2):
            [task] = store.claim("email", 1, f"node-{crash}", T0 + crash)
            assert store.record_start(task)
            store.recover(f"node-{crash + 1}", T0 + crash + 0.5)
        row = store.get(task_id)
        assert row is not None and row.reason == REASON_ORPHANED
        history = attempt_history(row, store.attempt_errors(task_id))
        assert [(a.number, a.reason) for a in history] == [
            (1, REASON_ORPHANED), (2, REASON_ORPHANED),
        ]  # fmt: skip
        assert history[1].error == row.error

    def test_delete_prune_and_retry_leave_no_attempts_behind(self, store: TaskStore) -> None:
        # Given three tasks that each failed after a retry
        tasks = self.running(store, 3, max_attempts=2)
        ids = [t.id for t in tasks]
        for task in tasks:
            task = self.retried(store, task, "first", T0 + 5)
            store.finish([done(task, FAILED, at=T0 + 9, error="last", reason=REASON_ERROR)])
        assert all(store.attempt_errors(i) for i in ids)
        # When one is deleted, one pruned, and one retried by the operator
        assert store.delete([ids[0]]) == 1
        assert store.prune(PruneRule(FAILED, T0 + 100, keep=1), 500) == 1
        assert store.retry([ids[2]], T0 + 20) == [ids[2]]
        # Then none of them has an earlier attempt left
        assert [store.attempt_errors(i) for i in ids] == [[], [], []]

    # --- release -------------------------------------------------------------------------
    def test_release_gives_running_tasks_back_with_the_attempt_undone(
        self, store: TaskStore
    ) -> None:
        a, b = self.running(store, 2)
        assert store.release([a.id, b.id], NODE) == 2
        row = store.get(a.id)
        assert row is not None
        assert (row.state, row.owner, row.attempts) == (QUEUED, None, 0)
        [again, _] = store.claim("email", 2, NODE, T0 + 2)
        assert (again.id, again.attempts) == (a.id, 1)

    def test_release_ignores_other_owners_and_tasks_not_running(self, store: TaskStore) -> None:
        [task] = self.running(store)
        [waiting] = store.insert([new()], T0)
        assert store.release([task.id], OTHER) == 0
        assert store.release([waiting, 999_999], NODE) == 0
        assert store.get(task.id) == task
        store.finish([done(task)])
        assert store.release([task.id], NODE) == 0

    def test_a_released_attempt_is_fenced_out(self, store: TaskStore) -> None:
        [task] = self.running(store)
        store.release([task.id], NODE)
        assert store.finish([done(task)]) == [False]
        assert store.get(task.id).state == QUEUED  # type: ignore[union-attr]

    # --- cancel --------------------------------------------------------------------------
    def test_cancel_answers_for_every_id(self, store: TaskStore) -> None:
        queued, scheduled = store.insert([new(), new(run_at=T0 + 60)], T0)
        [running] = self.running(store, category="web")
        [finished] = self.running(store, category="sms")
        store.finish([done(finished)])
        answers = store.cancel([queued, scheduled, running.id, finished.id, 999_999], T0 + 7)
        assert answers == {
            queued: CANCEL_DONE,
            scheduled: CANCEL_DONE,
            running.id: CANCEL_REQUESTED,
            finished.id: CANCEL_TERMINAL,
            999_999: CANCEL_MISSING,
        }

    def test_cancel_of_a_waiting_task_ends_it(self, store: TaskStore) -> None:
        [task_id] = store.insert([new(key="k")], T0)
        store.cancel([task_id], T0 + 7)
        row = store.get(task_id)
        assert row is not None
        assert (row.state, row.reason, row.finished_at) == (CANCELLED, REASON_CANCELLED, T0 + 7)
        assert store.claim("email", 10, NODE, T0 + 8) == []
        assert store.insert([new(key="k")], T0 + 8) != [task_id]  # key freed

    def test_cancel_of_a_running_task_flags_it_for_its_owner(self, store: TaskStore) -> None:
        [task] = self.running(store)
        version = store.settings_version()
        store.cancel([task.id], T0 + 2)
        row = store.get(task.id)
        assert row is not None
        assert (row.state, row.cancel_requested) == (RUNNING, True)
        assert store.cancel_requests(NODE) == {task.id}
        assert store.cancel_requests(OTHER) == set()
        assert store.settings_version() != version  # wakes the owner's poll
        store.finish([done(task, CANCELLED, reason=REASON_CANCELLED)])
        assert store.get(task.id).state == CANCELLED  # type: ignore[union-attr]
        assert store.cancel_requests(NODE) == set()

    def test_cancel_requests_are_empty_without_requests(self, store: TaskStore) -> None:
        self.running(store, 2)
        assert store.cancel_requests(NODE) == set()

    # --- retry ---------------------------------------------------------------------------
    def test_retry_queues_a_failed_task_with_fresh_attempts(self, store: TaskStore) -> None:
        [task] = self.running(store)
        store.finish([done(task, FAILED, error="boom", reason=REASON_ERROR)])
        assert store.retry([task.id], T0 + 100) == [task.id]
        row = store.get(task.id)
        assert row is not None
        assert (row.state, row.attempts, row.run_at) == (QUEUED, 0, T0 + 100)
        assert (row.error, row.reason, row.result, row.finished_at) == (None, None, None, None)
        assert [t.id for t in store.claim("email", 1, NODE, T0 + 101)] == [task.id]

    def test_retry_by_id_takes_cancelled_but_not_live_or_succeeded(self, store: TaskStore) -> None:
        cancelled, queued = store.insert([new(), new()], T0)
        store.cancel([cancelled], T0)
        [ok] = self.running(store, category="web")
        store.finish([done(ok)])
        assert store.retry([cancelled, queued, ok.id, 999_999], T0 + 1) == [cancelled]
        assert store.get(ok.id).state == SUCCEEDED  # type: ignore[union-attr]

    def test_retry_all_takes_every_failed_and_no_cancelled(self, store: TaskStore) -> None:
        a, b, c = self.running(store, 3)
        store.finish([done(a, FAILED), done(b, CANCELLED), done(c, FAILED)])
        assert sorted(store.retry(None, T0 + 1)) == [a.id, c.id]
        assert store.get(b.id).state == CANCELLED  # type: ignore[union-attr]
        assert store.retry(None, T0 + 2) == []

    def test_retry_skips_a_task_whose_dedup_key_is_taken_again(self, store: TaskStore) -> None:
        [old] = self.running(store, key="k")
        store.finish([done(old, FAILED)])
        [newer] = store.insert([new(key="k")], T0 + 1)
        assert store.retry([old.id], T0 + 2) == []
        store.cancel([newer], T0 + 3)
        assert store.retry([old.id], T0 + 4) == [old.id]
        assert store.insert([new(key="k")], T0 + 5) == [old.id]  # the key is live again

    # --- delete and the bulk actions built on the store ------------------------------------
    def test_delete_removes_finished_tasks_only(self, store: TaskStore) -> None:
        ok, bad, gone = self.running(store, 3)
        store.finish([done(ok), done(bad, FAILED), done(gone, CANCELLED)])
        waiting = store.insert([new(), new(run_at=T0 + 60)], T0)
        [running] = self.running(store, category="web")
        everything = [ok.id, bad.id, gone.id, *waiting, running.id, 999_999, ok.id]
        assert store.delete(everything) == 3
        assert [store.get(i) for i in (ok.id, bad.id, gone.id)] == [None, None, None]
        assert all(store.get(i) is not None for i in (*waiting, running.id))
        assert store.delete([]) == 0

    # --- progress ----------------------------------------------------------------------
    def test_progress_keeps_each_tasks_latest_report(self, store: TaskStore) -> None:
        first, second = self.running(store, 2)
        store.set_progress(first.id, TaskProgress(1, 0.25, at=T0 + 2))
        store.set_progress(first.id, TaskProgress(1, 0.4, 40, 100, "pages", T0 + 3))
        store.set_progress(second.id, TaskProgress(1, None, 7, None, "rows", T0 + 3))
        assert store.get_progress([first.id, second.id, 999_999, 2**70]) == {
            first.id: TaskProgress(1, 0.4, 40, 100, "pages", T0 + 3),
            second.id: TaskProgress(1, None, 7, None, "rows", T0 + 3),
        }
        assert store.get_progress([]) == {}

    def test_progress_of_a_missing_task_is_not_kept(self, store: TaskStore) -> None:
        store.set_progress(424_242, TaskProgress(1, 0.5, at=T0))
        assert store.get_progress([424_242]) == {}

    def test_a_deleted_task_takes_its_progress_along(self, store: TaskStore) -> None:
        ok, live = self.running(store, 2)
        for task in (ok, live):
            store.set_progress(task.id, TaskProgress(1, 1.0, at=T0 + 2))
        store.finish([done(ok)])
        assert store.delete([ok.id, live.id]) == 1
        assert list(store.get_progress([ok.id, live.id])) == [live.id]
        # A new task never inherits a report (ids are not reused).
        [again] = store.insert([new()], T0)
        assert store.get_progress([again]) == {}

    def test_queue_heads_give_the_next_claims_run_at_per_category(self, store: TaskStore) -> None:
        store.insert([new(run_at=T0 - 30), new(run_at=T0 - 10)], T0)
        store.insert([new(category="web", run_at=T0 + 60)], T0)  # scheduled: not waiting
        assert store.queue_heads(["email", "web", "nope"]) == {"email": T0 - 30}
        store.claim("email", 1, NODE, T0)
        assert store.queue_heads(["email"]) == {"email": T0 - 10}

    def test_bulk_actions_touch_exactly_the_matching_eligible_tasks(self, store: TaskStore) -> None:
        from jobsched.core import bulk

        failed = self.running(store, 3)
        store.finish([done(t, FAILED, error="smtp timed out") for t in failed])
        queued = store.insert([new() for _ in range(4)], T0)
        [running] = self.running(store, category="web")
        query = parse("cat:email", T0)

        def retry(ids: list[int]) -> list[int]:
            return store.retry(ids, T0 + 1)

        assert bulk.retry_matching(store, query, retry, dry_run=True).touched == 3
        result = bulk.retry_matching(store, parse("error:timed", T0), retry)
        assert (result.touched, result.skipped) == (3, 0)
        assert {store.get(t.id).state for t in failed} == {QUEUED}  # type: ignore[union-attr]
        result = bulk.cancel_matching(
            store, parse("state:queued,running", T0), lambda ids: store.cancel(ids, T0 + 2)
        )
        assert (result.touched, result.requested) == (7, 1)
        assert store.cancel_requests(NODE) == {running.id}
        result = bulk.delete_matching(store, TaskQuery())
        assert (result.touched, result.skipped) == (7, 1)  # the running one stays
        assert [t.id for t in store.find_tasks(Page(TaskQuery()))] == [running.id]
        assert queued  # the queued ones were cancelled, then deleted

    def test_bulk_actions_page_past_one_batch(self, store: TaskStore) -> None:
        from jobsched.core import bulk

        store.insert([new() for _ in range(bulk.BATCH + 7)], T0)
        result = bulk.cancel_matching(store, TaskQuery(), lambda ids: store.cancel(ids, T0))
        assert result.touched == bulk.BATCH + 7
        assert bulk.delete_matching(store, parse("state:cancelled", T0)).touched == bulk.BATCH + 7
        assert store.count_tasks(TaskQuery()) == 0

    # --- recover -------------------------------------------------------------------------
    def test_recover_requeues_running_tasks_of_dead_owners(self, store: TaskStore) -> None:
        a, b = self.running(store, 2)
        [waiting] = store.insert([new()], T0)
        report = store.recover(OTHER, T0 + 50)
        assert sorted(report.requeued) == [a.id, b.id] and report.orphaned == []
        row = store.get(a.id)
        assert row is not None
        assert (row.state, row.owner, row.attempts) == (QUEUED, None, 1)  # attempt counted
        assert store.get(waiting).state == QUEUED  # type: ignore[union-attr]
        assert store.finish([done(a)]) == [False]  # the dead owner's outcome is fenced out

    def test_recover_fails_tasks_that_used_every_attempt_as_orphaned(
        self, store: TaskStore
    ) -> None:
        [poison] = self.running(store, max_attempts=1)
        [fine] = self.running(store, category="web", max_attempts=2)
        report = store.recover(OTHER, T0 + 50)
        assert (report.requeued, report.orphaned) == ([fine.id], [poison.id])
        row = store.get(poison.id)
        assert row is not None
        assert (row.state, row.reason, row.finished_at, row.owner) == (
            FAILED, REASON_ORPHANED, T0 + 50, None,
        )  # fmt: skip
        assert row.error and "1" in row.error

    def test_a_task_interrupted_max_attempts_times_ends(self, store: TaskStore) -> None:
        store.insert([new(max_attempts=3)], T0)
        for crash in range(3):
            [task] = store.claim("email", 1, f"node-{crash}", T0 + crash)
            assert task.attempts == crash + 1
            assert store.record_start(task)
            store.recover(f"node-{crash + 1}", T0 + crash + 0.5)
        row = store.get(task.id)
        assert row is not None and (row.state, row.reason) == (FAILED, REASON_ORPHANED)

    def test_recover_gives_back_the_attempt_of_a_task_that_never_started(
        self, store: TaskStore
    ) -> None:
        # Given a task claimed into a FIFO whose handler never began, and one that began
        [waiting, begun] = store.insert([new(max_attempts=1), new(max_attempts=1)], T0)
        claimed = {t.id: t for t in store.claim("email", 2, OTHER, T0 + 1)}
        assert store.record_start(claimed[begun])
        # When the node that claimed them is recovered
        report = store.recover(NODE, T0 + 2)
        # Then only the run that began counts: the waiting task is queued with attempt 0
        assert (report.requeued, report.orphaned) == ([waiting], [begun])
        row = store.get(waiting)
        assert row is not None and (row.state, row.attempts) == (QUEUED, 0)

    def test_recover_leaves_the_callers_own_tasks(self, store: TaskStore) -> None:
        [task] = self.running(store)
        report = store.recover(NODE, T0 + 50)
        assert (report.requeued, report.orphaned) == ([], [])
        assert store.get(task.id) == task

    def test_recover_frees_the_key_of_an_orphaned_task(self, store: TaskStore) -> None:
        [task] = self.running(store, max_attempts=1, key="k")
        store.recover(OTHER, T0 + 50)
        assert store.insert([new(key="k")], T0 + 51) != [task.id]

    # --- reading ---------------------------------------------------------------------------
    def test_list_tasks_newest_first_with_filters_and_limit(self, store: TaskStore) -> None:
        e1, w1, e2, w2 = store.insert(
            [new(category="email"), new(category="web"), new(category="email"),
             new(category="web", run_at=T0 + 9)],
            T0,
        )  # fmt: skip
        assert [t.id for t in store.list_tasks()] == [w2, e2, w1, e1]
        assert [t.id for t in store.list_tasks(limit=2)] == [w2, e2]
        assert [t.id for t in store.list_tasks(category="web")] == [w2, w1]
        assert [t.id for t in store.list_tasks(state=SCHEDULED)] == [w2]
        assert [t.id for t in store.list_tasks(state=QUEUED, category="email")] == [e2, e1]
        assert store.list_tasks(state=FAILED) == []
        assert store.list_tasks(limit=0) == []

    # --- the filter language, evaluated by the store -------------------------------------
    def filtered_rows(self, store: TaskStore) -> list[TaskRecord]:
        """Given a mixed store: states, categories, handlers, keys, errors, payloads and
        creation times; returns every task, newest first."""
        store.insert(
            [new(handler="email.send", payload='{"to": "Alice@example.org"}', key="order-17"),
             new(handler="email.digest", payload='{"to": "bob\\\\x"}'),
             new(handler="web.fetch", category="web", payload='{"url": "100%_sure"}'),
             new(handler="web.fetch", category="web", run_at=T0 + 99)],
            T0,
        )  # fmt: skip
        store.insert([new(handler="email.send", payload='{"to": "carol"}')], T0 + 600)
        [first, second] = store.claim("email", 2, NODE, T0 + 601)
        for task in (first, second):
            assert store.record_start(task)
        store.finish(
            [done(first, FAILED, reason=REASON_ERROR, error="SMTP 550: mailbox Unavailable"),
             done(second)]
        )  # fmt: skip
        return store.find_tasks(Page(limit=100))

    def test_find_tasks_evaluates_every_field_like_matches(self, store: TaskStore) -> None:
        rows = self.filtered_rows(store)
        texts = [
            "", "state:failed", "state:queued,scheduled", "cat:web", "category:email",
            "handler:email.send", "handler:email.*", "handler:web.* handler:email.digest",
            "key:order-17", "id:2", "id:2-4", "id:>3", "id:<=2", "id:1 id:5",
            "error:mailbox", "error:UNAVAILABLE", "error:nothing-like-it", "payload:alice",
            'payload:"100%_"', "payload:%", "since:5m", "before:5m", "smtp", "EMAIL order",
            "state:succeeded cat:email", "cat:web payload:url state:scheduled",
            "state:queued,failed,queued", "cat:web,email,web", "state:failed,scheduled cat:web,email",
            "state:queued,scheduled cat:email id:2-5", "payload:\\\\x", "payload:\\\\", "error:550:", "smtp state:failed",
        ]  # fmt: skip
        now = T0 + 700
        for text in texts:
            query = parse(text, now)
            expected = [t.id for t in rows if query.matches(t)]
            assert [t.id for t in store.find_tasks(Page(query, limit=100))] == expected, text
            assert store.count_tasks(query) == len(expected), text
        [failed] = store.find_tasks(Page(parse("error:mailbox", now)))
        assert failed.state == FAILED and failed.handler == "email.send"

    def test_find_tasks_pages_both_ways_from_any_id(self, store: TaskStore) -> None:
        ids = store.insert([new() for _ in range(7)], T0)
        newest = store.find_tasks(Page(limit=3))
        assert [t.id for t in newest] == ids[::-1][:3]
        after = store.find_tasks(Page(limit=3).next(newest[-1].id))
        assert [t.id for t in after] == ids[::-1][3:6]
        oldest = store.find_tasks(Page(order="oldest", limit=4, after=ids[1]))
        assert [t.id for t in oldest] == ids[2:6]
        assert store.find_tasks(Page(limit=0)) == []
        only = parse(f"id:{ids[4]}", T0)
        assert [t.id for t in store.find_tasks(Page(only))] == [ids[4]]

    # --- paging the task list ------------------------------------------------------------
    def mixed_rows(self, store: TaskStore) -> list[TaskRecord]:
        """Given 24 tasks alike but for their ids (equal in every other key), in two
        categories, some finished (failed or succeeded), some scheduled; every task,
        newest first."""
        ids = store.insert([new(category=("email", "web")[n % 2]) for n in range(20)], T0)
        store.insert([new(run_at=T0 + 60), new(category="web", run_at=T0 + 60)] * 2, T0)
        for category in ("email", "web"):
            claimed = store.claim(category, 4, NODE, T0 + 1)
            store.finish([done(t, (SUCCEEDED, FAILED)[t.id % 2]) for t in claimed])
        assert len(ids) == 20
        return store.find_tasks(Page(limit=100))

    @staticmethod
    def page_through(store: TaskStore, page: Page) -> list[list[int]]:
        """Every page of ``page``'s window, following each page's last id; then back
        again from the last page to the first, as the console's `[` does (each earlier
        page starts after the id it started after), checking each page reads the same."""
        pages: list[list[int]] = []
        starts: list[int | None] = []
        while True:
            starts.append(page.after)
            ids = [t.id for t in store.find_tasks(page)]
            if not ids:
                break
            pages.append(ids)
            page = page.next(ids[-1])
        for start, ids in zip(reversed(starts[:-1]), reversed(pages), strict=True):
            assert [t.id for t in store.find_tasks(replace(page, after=start))] == ids
        return pages

    def test_find_tasks_pages_through_several_states_and_categories(self, store: TaskStore) -> None:
        rows = self.mixed_rows(store)
        texts = ["", "state:queued,failed", "cat:web,email", "state:succeeded,queued cat:web",
                 "state:failed,scheduled,succeeded cat:email,web", "state:queued,queued"]  # fmt: skip
        for text in texts:
            query = parse(text, T0)
            expected = [t.id for t in rows if query.matches(t)]
            assert expected, text
            for order, wanted in (("newest", expected), ("oldest", expected[::-1])):
                pages = self.page_through(store, Page(query, order, limit=3))  # type: ignore[arg-type]
                # Then every matching task once, in order, in full pages but the last
                assert [i for ids in pages for i in ids] == wanted, (text, order)
                assert all(len(ids) == 3 for ids in pages[:-1]), (text, order)

    def test_paging_on_across_tasks_added_changed_and_removed_meanwhile(
        self, store: TaskStore
    ) -> None:
        # Given a window of queued and scheduled tasks, newest first, three to a page
        rows = self.mixed_rows(store)
        query = parse("state:queued,scheduled", T0)
        first = [t.id for t in store.find_tasks(Page(query, limit=3))]
        wanted = [t.id for t in rows if query.matches(t)]
        assert first == wanted[:3]
        # When, before the next page: of the next page's tasks one is cancelled and
        # deleted, one cancelled (it leaves the filter's states); the oldest queued are
        # claimed (they leave it too); and tasks are added
        gone, cancelled = wanted[3], wanted[4]
        store.cancel([gone, cancelled], T0 + 2)
        assert store.delete([gone]) == 1
        claimed = store.claim("email", 2, NODE, T0 + 3) + store.claim("web", 2, NODE, T0 + 3)
        assert len(claimed) == 4 and max(t.id for t in claimed) < first[-1]
        added = store.insert([new(), new(category="web")], T0 + 4)
        now = {i: store.get(i) for i in wanted}
        left = [i for i, t in now.items() if t is not None and t.state in (QUEUED, SCHEDULED)]
        # Then the next pages go on after the first page's last id: no task twice, none
        # skipped, the removed and changed ones left out, the new ones (above) not shown
        rest = self.page_through(store, Page(query, limit=3).next(first[-1]))
        assert [i for ids in rest for i in ids] == [i for i in left if i < first[-1]]
        assert not set(added) & {i for ids in rest for i in ids}
        # And the first page, read again, starts with the new tasks
        again = [t.id for t in store.find_tasks(Page(query, limit=3))]
        assert again[:2] == sorted(added, reverse=True)
        # And oldest first, the new tasks come last
        oldest = self.page_through(store, Page(query, "oldest", limit=3))
        assert [i for ids in oldest for i in ids][-2:] == sorted(added)

    def test_find_tasks_returns_full_records(self, store: TaskStore) -> None:
        [task] = self.running(store)
        assert store.find_tasks(Page(TaskQuery(states=(RUNNING,)))) == [task]

    def test_list_tasks_returns_full_records(self, store: TaskStore) -> None:
        [task] = self.running(store)
        assert store.list_tasks(state=RUNNING) == [task]

    def test_counts_per_category_and_state_with_zeros(self, store: TaskStore) -> None:
        store.insert([new(), new(), new(run_at=T0 + 5), new(category="web")], T0)
        [task] = store.claim("email", 1, NODE, T0)
        store.finish([done(task)])
        counts = store.counts()
        assert set(counts) == {"email", "web"}
        assert counts["email"] == dict.fromkeys(STATES, 0) | {
            QUEUED: 1, SCHEDULED: 1, SUCCEEDED: 1,
        }  # fmt: skip
        assert counts["web"] == dict.fromkeys(STATES, 0) | {QUEUED: 1}

    def test_counts_follow_every_kind_of_write_and_agree_with_a_full_count(
        self, store: TaskStore
    ) -> None:
        # Given tasks moved through every transition: insert (due, scheduled, claimed),
        # promote, claim, finish (terminal and retry), release, cancel, retry, recover
        store.insert([new() for _ in range(6)] + [new(run_at=T0 + 5), new(category="web")], T0)
        store.insert_claimed([new(category="web")], T0, NODE)
        store.promote_due(T0 + 10)
        tasks = store.claim("email", 5, NODE, T0 + 10)
        store.finish([done(tasks[0]), done(tasks[1], FAILED, error="x", reason=REASON_ERROR)])
        store.finish([done(tasks[2], SCHEDULED, run_at=T0 + 60, error="x", reason=REASON_ERROR)])
        store.release([tasks[3].id], NODE)
        store.cancel([tasks[3].id], T0 + 11)
        store.retry([tasks[1].id], T0 + 12)
        store.recover(OTHER, T0 + 13)
        # Then counts() is exactly what the rows say, and the check finds nothing
        tally: dict[str, dict[str, int]] = {}
        for row in store.list_tasks(limit=100):
            tally.setdefault(row.category, dict.fromkeys(STATES, 0))[row.state] += 1
        assert store.counts() == tally
        assert store.check_counts() == []
        store.compact_counts()
        assert store.counts() == tally

    def test_counts_stay_exact_through_random_writes(self, store: TaskStore) -> None:
        # Given a seeded mix of every kind of write the store has, on two categories:
        # single and batch inserts (some delayed, some keyed), direct hand-offs,
        # promotions, claims, finishes (terminal, retries, and stale outcomes the fence
        # refuses), releases, cancels, retries, recoveries, deletes and prunes
        rng = random.Random(20261130)
        at = T0
        for step in range(150):
            at += 1
            self.random_write(store, rng, at)
            # Then after every write counts() is exactly what the rows say
            if step % 5 == 4:
                self.assert_counts_exact(store)
        self.assert_counts_exact(store)

    def assert_counts_exact(self, store: TaskStore) -> None:
        tally: dict[str, dict[str, int]] = {}
        for row in store.list_tasks(limit=100_000):
            tally.setdefault(row.category, dict.fromkeys(STATES, 0))[row.state] += 1
        assert store.counts() == tally
        assert store.check_counts() == []

    def random_write(self, store: TaskStore, rng: random.Random, at: float) -> None:
        category = rng.choice(("email", "web"))
        ids = [row.id for row in store.list_tasks(limit=100_000)]
        some = rng.sample(ids, min(len(ids), rng.randint(1, 4))) + [10**9]
        running = store.list_tasks(state=RUNNING, limit=100_000)
        op = rng.randrange(12)
        if op in (0, 1):
            batch = [
                new(category=category, run_at=at + rng.choice((0, 0, 3)),
                    key=rng.choice((None, None, f"k{rng.randrange(6)}")))
                for _ in range(1 if op == 0 else rng.randint(2, 6))
            ]  # fmt: skip
            store.insert(batch, at)
        elif op == 2:
            store.insert_claimed([new(category=category)] * rng.choice((1, 3)), at, NODE)
        elif op == 3:
            store.promote_due(at)
        elif op == 4:
            store.claim(category, rng.randint(1, 5), NODE, at)
        elif op == 5 and running:
            self.finish_some(store, rng, running, at)
        elif op == 6:
            store.release([t.id for t in running[: rng.randint(0, 3)]] + [10**9], NODE)
        elif op == 7:
            store.cancel(some, at)
        elif op == 8:
            store.retry(some if rng.random() < 0.7 else None, at)
        elif op == 9:
            store.recover(OTHER, at)
        elif op == 10:
            store.delete(some)
        elif op == 11:
            state = rng.choice((SUCCEEDED, FAILED, CANCELLED))
            store.prune(PruneRule(state, at - rng.choice((0, 5)), rng.choice((None, 1))), 3)

    def finish_some(
        self, store: TaskStore, rng: random.Random, running: list[TaskRecord], at: float
    ) -> None:
        outcomes = []
        for task in rng.sample(running, rng.randint(1, len(running))):
            state = rng.choice((SUCCEEDED, FAILED, CANCELLED, SCHEDULED))
            run_at = at + rng.choice((0, 2)) if state == SCHEDULED else None
            outcomes.append(done(task, state, at, run_at=run_at))
        if rng.random() < 0.3:  # a stale attempt: the fence refuses it
            outcomes.append(replace(outcomes[0], attempt=outcomes[0].attempt + 7))
        store.finish(outcomes)

    # --- retention ---------------------------------------------------------------------
    def finished(self, store: TaskStore, ats: list[float], state: str = SUCCEEDED) -> list[int]:
        """Given one task per time in ``ats``, finished in ``state`` at that time."""
        tasks = self.running(store, len(ats))
        store.finish([done(t, state, at) for t, at in zip(tasks, ats, strict=True)])
        return [t.id for t in tasks]

    def test_prune_deletes_tasks_finished_before_the_cutoff_oldest_first(
        self, store: TaskStore
    ) -> None:
        ids = self.finished(store, [T0 + 30, T0 + 10, T0 + 20, T0 + 40])
        rule = PruneRule(SUCCEEDED, finished_before=T0 + 35)
        assert store.count_prunable(rule) == 3
        assert store.prune(rule, limit=2) == 2
        assert [store.get(i) is None for i in ids] == [False, True, True, False]
        assert store.prune(rule, limit=2) == 1
        assert store.get(ids[0]) is None and store.get(ids[3]) is not None
        assert store.prune(rule, limit=2) == 0
        assert store.counts()["email"][SUCCEEDED] == 1
        assert store.check_counts() == []

    def test_prune_keeps_the_newest_n(self, store: TaskStore) -> None:
        ids = self.finished(store, [T0 + 10, T0 + 40, T0 + 20, T0 + 30, T0 + 30])
        rule = PruneRule(SUCCEEDED, finished_before=T0 + 100, keep=3)
        assert store.count_prunable(rule) == 2
        assert store.prune(rule, limit=500) == 2
        assert [store.get(i) is None for i in ids] == [True, False, True, False, False]
        assert store.prune(rule, limit=500) == 0
        assert store.prune(PruneRule(SUCCEEDED, T0 + 100, keep=10), limit=500) == 0

    def test_prune_takes_only_its_state_and_never_a_live_task(self, store: TaskStore) -> None:
        failed = self.finished(store, [T0 + 1], FAILED)
        [live] = self.running(store)
        store.insert([new(), new(run_at=T0 + 500)], T0)
        assert store.prune(PruneRule(SUCCEEDED, T0 + 1000), limit=500) == 0
        for state in (QUEUED, SCHEDULED, RUNNING):
            assert store.count_prunable(PruneRule(state, T0 + 1000)) == 0
            assert store.prune(PruneRule(state, T0 + 1000, keep=0), limit=500) == 0
        assert store.get(live.id) is not None
        assert store.prune(PruneRule(FAILED, T0 + 1000, keep=0), limit=500) == 1
        assert store.get(failed[0]) is None

    def test_prune_takes_the_progress_reports_of_what_it_deletes(self, store: TaskStore) -> None:
        ids = self.finished(store, [T0 + 1, T0 + 2])
        for task_id in ids:
            store.set_progress(task_id, TaskProgress(1, 0.5, at=T0 + 1))
        assert store.prune(PruneRule(SUCCEEDED, T0 + 2), 500) == 1
        assert list(store.get_progress(ids)) == [ids[1]]

    def test_prune_leaves_the_spared_ids(self, store: TaskStore) -> None:
        ids = self.finished(store, [T0 + 1, T0 + 2, T0 + 3])
        assert store.prune(PruneRule(SUCCEEDED, T0 + 100), 500, spare={ids[1], 10**6}) == 2
        assert [store.get(i) is None for i in ids] == [True, False, True]

    # --- settings ----------------------------------------------------------------------------
    def test_settings_round_trip_and_bump_the_version(self, store: TaskStore) -> None:
        assert store.load_settings() == {}
        version = store.settings_version()
        email = CategorySettings(priority=2.5, paused=True, pinned=3, min_workers=1, max_workers=4)
        store.save_settings("email", email)
        assert store.settings_version() > version
        store.save_settings("web", CategorySettings())
        assert store.load_settings() == {"email": email, "web": CategorySettings()}

    def test_saving_settings_again_replaces_them(self, store: TaskStore) -> None:
        store.save_settings("email", CategorySettings(priority=2.0, pinned=3))
        version = store.settings_version()
        store.save_settings("email", CategorySettings(priority=1.0))
        assert store.load_settings() == {"email": CategorySettings(priority=1.0)}
        assert store.settings_version() > version

    def test_a_handlers_limit_is_a_row_of_settings_beside_its_category(
        self, store: TaskStore
    ) -> None:
        # The operator's handler limit is stored under "handler:NAME" (core/limits.py)
        version = store.settings_version()
        store.save_settings("web", CategorySettings(rate="20/s"))
        store.save_settings("handler:web.fetch", CategorySettings(rate="5/s", burst=3))
        assert store.settings_version() > version
        assert store.load_settings() == {
            "web": CategorySettings(rate="20/s"),
            "handler:web.fetch": CategorySettings(rate="5/s", burst=3),
        }
        store.save_settings("handler:web.fetch", CategorySettings())
        assert store.load_settings()["handler:web.fetch"] == CategorySettings()

    def test_loaded_settings_are_copies(self, store: TaskStore) -> None:
        store.save_settings("email", CategorySettings(priority=2.0))
        store.load_settings()["email"].priority = 9.0
        assert store.load_settings()["email"].priority == 2.0

    def test_request_rebalance_changes_the_version_only(self, store: TaskStore) -> None:
        version = store.settings_version()
        store.request_rebalance()
        assert store.settings_version() > version
        assert store.load_settings() == {}

    # --- decisions ---------------------------------------------------------------------------
    def test_recent_decisions_newest_first_with_their_time(self, store: TaskStore) -> None:
        assert store.recent_decisions() == []
        for i in range(30):
            store.add_decision(T0 + i, {"trigger": "interval", "targets": {"email": i}})
        recent = store.recent_decisions(3)
        assert recent == [
            {"trigger": "interval", "targets": {"email": i}, "at": T0 + i} for i in (29, 28, 27)
        ]
        assert len(store.recent_decisions()) == 20
        assert store.recent_decisions(0) == []

    def test_recent_decisions_are_copies(self, store: TaskStore) -> None:
        store.add_decision(T0, {"changes": ["web 2->5"]})
        store.recent_decisions()[0]["changes"].append("x")
        assert store.recent_decisions()[0]["changes"] == ["web 2->5"]

    # --- nodes -------------------------------------------------------------------------------
    def test_heartbeat_records_and_updates_a_node(self, store: TaskStore) -> None:
        assert store.nodes() == []
        node = NodeInfo(
            node_id=NODE, host="box", pid=123, started_at=T0, heartbeat_at=T0 + 1, budget=8,
            workers=[{"category": "email", "busy": True, "task": 7}],
            counters=NodeCounters(by_category={"email": {"started": 3}}, fifo={"email": 2}),
        )  # fmt: skip
        store.heartbeat(node)
        assert store.nodes() == [node]
        later = replace(node, heartbeat_at=T0 + 2, workers=[], stopped=True)
        store.heartbeat(later)
        store.heartbeat(replace(node, node_id=OTHER, pid=456))
        nodes = {n.node_id: n for n in store.nodes()}
        assert nodes == {NODE: later, OTHER: replace(node, node_id=OTHER, pid=456)}
