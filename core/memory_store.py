"""The in-memory store: the :class:`~.store.TaskStore` rules in a dict, for tests and for
embedding without persistence (``Scheduler(config)`` with no store uses it)."""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from .history import MinuteStats
from .memory_history import MemoryHistory
from .memory_limits import MemoryLimits
from .memory_notes import MemoryNotes
from .memory_prune import MemoryPrune
from .memory_schedules import MemorySchedules
from .progress import TaskProgress
from .query import Page, TaskQuery
from .store import CANCEL_DONE, CANCEL_MISSING, CANCEL_REQUESTED, CANCEL_TERMINAL
from .task import (
    CANCELLED,
    FAILED,
    QUEUED,
    REASON_CANCELLED,
    REASON_ORPHANED,
    RUNNING,
    SCHEDULED,
    STATES,
    TERMINAL,
    AttemptError,
    NewTask,
    Outcome,
    RecoveryReport,
    TaskRecord,
    same_claim,
)


class MemoryStore(MemorySchedules, MemoryPrune, MemoryLimits, MemoryHistory, MemoryNotes):
    """A store in a dict, for tests and for embedding without persistence.

    Keeps nothing across processes; ``shared`` is False so the node does not poll it.
    """

    shared = False
    multi_node = False
    location = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[int, TaskRecord] = {}
        self._progress: dict[int, TaskProgress] = {}
        self._attempts: dict[int, list[AttemptError]] = {}  # earlier attempts per task
        self._ids = itertools.count(1)
        # heap of (-priority, id) per category: the claim order
        self._queued: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._scheduled: list[tuple[float, int]] = []  # heap of (run_at, id)
        self._dedup: dict[str, int] = {}
        self._started: set[tuple[int, int]] = set()
        self._buckets: dict[str, tuple[float, float]] = {}  # token buckets by key
        self._history: dict[tuple[int, str, str], MinuteStats] = {}  # see MemoryHistory
        self.opened = False

    # --- lifecycle ---------------------------------------------------------------
    def open(self, node_id: str | None = None) -> None:
        self.opened = True

    def close(self) -> None:
        self.opened = False

    def recover(self, node_id: str, now: float) -> RecoveryReport:
        report = RecoveryReport()
        with self._lock:
            for row in self._rows.values():
                if row.state == RUNNING and row.owner != node_id:
                    row.owner = None
                    began = (row.id, row.attempts) in self._started
                    if began:
                        self._started.discard((row.id, row.attempts))
                    else:
                        row.attempts -= 1  # claimed, never started: not an interrupted run
                    if row.attempts >= row.max_attempts:
                        self._terminate(
                            row,
                            FAILED,
                            now,
                            reason=REASON_ORPHANED,
                            error=f"interrupted {row.attempts} times by a crash",
                        )
                        report.orphaned.append(row.id)
                    else:
                        if began:
                            self._keep_interrupted(row.id, row.attempts, now)
                        row.state = QUEUED
                        self._queue(row)
                        report.requeued.append(row.id)
        return report

    def record_start(self, task: TaskRecord) -> bool:
        with self._lock:
            row = self._rows.get(task.id)
            if row is None or row.state != RUNNING or not same_claim(row, task):
                return False
            self._started.add((task.id, task.attempts))
            return True

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Nothing to do: only this process writes to a memory store."""

    # --- write path --------------------------------------------------------------
    def insert(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        with self._lock:
            return self._insert_locked(tasks, now)

    def _task_row(self, task_id: int) -> TaskRecord | None:
        return self._rows.get(task_id)

    def _insert_locked(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        ids: list[int] = []
        for new in tasks:
            if new.dedup_key is not None and new.dedup_key in self._dedup:
                ids.append(self._dedup[new.dedup_key])
                continue
            row = TaskRecord(
                id=next(self._ids),
                handler=new.handler,
                category=new.category,
                state=SCHEDULED if new.run_at > now else QUEUED,
                payload=new.payload,
                run_at=new.run_at,
                created_at=now,
                max_attempts=new.max_attempts,
                timeout=new.timeout,
                dedup_key=new.dedup_key,
                priority=new.priority,
            )
            self._rows[row.id] = row
            self._enqueue(row)
            if new.dedup_key is not None:
                self._dedup[new.dedup_key] = row.id
            ids.append(row.id)
        return ids

    def insert_claimed(self, tasks: Sequence[NewTask], now: float, owner: str) -> list[TaskRecord]:
        claimed: list[TaskRecord] = []
        with self._lock:
            for new in tasks:
                row = new.claimed(next(self._ids), now, owner)
                self._rows[row.id] = row
                claimed.append(replace(row))
        return claimed

    def _queue(self, row: TaskRecord) -> None:
        heapq.heappush(self._queued[row.category], (-row.priority, row.id))

    def _enqueue(self, row: TaskRecord) -> None:
        if row.state == QUEUED:
            self._queue(row)
        else:
            heapq.heappush(self._scheduled, (row.run_at, row.id))

    def promote_due(self, now: float) -> int:
        moved = 0
        with self._lock:
            while self._scheduled and self._scheduled[0][0] <= now:
                run_at, task_id = heapq.heappop(self._scheduled)
                row = self._rows.get(task_id)
                if row is None or row.state != SCHEDULED or row.run_at != run_at:
                    continue  # stale heap entry
                row.state = QUEUED
                self._queue(row)
                moved += 1
        return moved

    def next_run_at(self) -> float | None:
        with self._lock:
            while self._scheduled:
                run_at, task_id = self._scheduled[0]
                row = self._rows.get(task_id)
                if row is not None and row.state == SCHEDULED and row.run_at == run_at:
                    return run_at
                heapq.heappop(self._scheduled)
            return None

    def claim(self, category: str, limit: int, owner: str, now: float) -> list[TaskRecord]:
        claimed: list[TaskRecord] = []
        with self._lock:
            heap = self._queued.get(category)
            while heap and len(claimed) < limit:
                row = self._rows.get(heapq.heappop(heap)[1])
                if row is not None and row.state == QUEUED:
                    claimed += self._claim(owner, now, [row.id])
        return claimed

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        applied: list[bool] = []
        with self._lock:
            for out in outcomes:
                row = self._rows.get(out.id)
                if (
                    row is None
                    or row.state != RUNNING
                    or row.owner != out.owner
                    or row.attempts != out.attempt
                ):
                    applied.append(False)
                    continue
                self._started.discard((row.id, row.attempts))
                row.owner = None
                row.error = out.error
                row.reason = out.reason
                if out.state == SCHEDULED:
                    ended = AttemptError(out.attempt, out.error, out.reason, out.finished_at)
                    self._keep_attempt(row.id, ended)
                    row.state = SCHEDULED
                    row.run_at = out.run_at if out.run_at is not None else out.finished_at
                    row.cancel_requested = False
                    if row.run_at <= out.finished_at:
                        row.state = QUEUED
                    self._enqueue(row)
                else:
                    self._terminate(
                        row,
                        out.state,
                        out.finished_at,
                        result=out.result,
                        error=out.error,
                        reason=out.reason,
                    )
                applied.append(True)
        self._commits.committed()
        return applied

    def _terminate(
        self,
        row: TaskRecord,
        state: str,
        now: float,
        result: str | None = None,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        row.state = state
        row.finished_at = now
        row.result = result
        row.error = error
        row.reason = reason
        row.owner = None
        if row.dedup_key is not None and self._dedup.get(row.dedup_key) == row.id:
            del self._dedup[row.dedup_key]

    def release(self, ids: Iterable[int], owner: str) -> int:
        released = 0
        with self._lock:
            for task_id in ids:
                row = self._rows.get(task_id)
                if row is None or row.state != RUNNING or row.owner != owner:
                    continue
                self._started.discard((row.id, row.attempts))
                row.state = QUEUED
                row.owner = None
                row.attempts = max(0, row.attempts - 1)
                self._queue(row)
                released += 1
        return released

    def cancel(self, ids: Iterable[int], now: float) -> dict[int, str]:
        answers: dict[int, str] = {}
        with self._lock:
            for task_id in ids:
                row = self._rows.get(task_id)
                if row is None:
                    answers[task_id] = CANCEL_MISSING
                elif row.state in TERMINAL:
                    answers[task_id] = CANCEL_TERMINAL
                elif row.state == RUNNING:
                    row.cancel_requested = True
                    answers[task_id] = CANCEL_REQUESTED
                else:
                    self._terminate(row, CANCELLED, now, reason=REASON_CANCELLED)
                    answers[task_id] = CANCEL_DONE
            if any(a == CANCEL_REQUESTED for a in answers.values()):
                self._version += 1
        self._commits.committed()
        return answers

    def cancel_requests(self, owner: str) -> set[int]:
        with self._lock:
            return {
                r.id
                for r in self._rows.values()
                if r.state == RUNNING and r.owner == owner and r.cancel_requested
            }

    def retry(self, ids: Iterable[int] | None, now: float) -> list[int]:
        done: list[int] = []
        with self._lock:
            rows = (
                self._rows.values()
                if ids is None
                else [self._rows[i] for i in ids if i in self._rows]
            )
            for row in list(rows):
                if row.state not in (FAILED, CANCELLED) or (ids is None and row.state != FAILED):
                    continue
                if row.dedup_key is not None:
                    if row.dedup_key in self._dedup:
                        continue  # a newer live task owns the key
                    self._dedup[row.dedup_key] = row.id
                row.state = QUEUED
                row.attempts = 0
                row.run_at = now
                row.finished_at = None
                row.result = row.error = row.reason = None
                row.cancel_requested = False
                self._attempts.pop(row.id, None)  # fresh attempts, fresh history
                self._queue(row)
                done.append(row.id)
        return done

    # --- reading -----------------------------------------------------------------
    def get(self, task_id: int) -> TaskRecord | None:
        with self._lock:
            row = self._rows.get(task_id)
            return None if row is None else replace(row)

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        out: list[TaskRecord] = []
        if limit <= 0:
            return out
        with self._lock:
            for task_id in sorted(self._rows, reverse=True):
                row = self._rows[task_id]
                if (state is None or row.state == state) and (
                    category is None or row.category == category
                ):
                    out.append(replace(row))
                    if len(out) >= limit:
                        break
        return out

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        out: list[TaskRecord] = []
        if page.limit <= 0:
            return out
        newest = page.order == "newest"
        with self._lock:
            for task_id in sorted(self._rows, reverse=newest):
                if page.after is not None and (
                    task_id >= page.after if newest else task_id <= page.after
                ):
                    continue
                row = self._rows[task_id]
                if page.query.matches(row):
                    out.append(replace(row))
                    if len(out) >= page.limit:
                        break
        return out

    def count_tasks(self, query: TaskQuery) -> int:
        with self._lock:
            return sum(1 for row in self._rows.values() if query.matches(row))

    def delete(self, ids: Iterable[int]) -> int:
        deleted = 0
        with self._lock:
            for task_id in dict.fromkeys(ids):
                row = self._rows.get(task_id)
                if row is not None and row.state in TERMINAL:
                    del self._rows[task_id]
                    self._forget_notes(task_id)
                    deleted += 1
        return deleted

    def queue_heads(self, categories: Iterable[str]) -> dict[str, float]:
        heads: dict[str, float] = {}
        with self._lock:
            for category in categories:
                heap = self._queued.get(category, [])
                while heap:  # drop stale entries, as claim would
                    row = self._rows.get(heap[0][1])
                    if row is not None and row.state == QUEUED:
                        heads[category] = row.run_at
                        break
                    heapq.heappop(heap)
        return heads

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        with self._lock:
            for row in self._rows.values():
                per = result.setdefault(row.category, dict.fromkeys(STATES, 0))
                per[row.state] += 1
        return result
