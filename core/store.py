"""The store interface the engine runs on, and the in-memory store.

The store is the source of truth for tasks; the engine's FIFOs only hold a bounded window
of claimed tasks. ``storage/`` implements this protocol with Peewee (SQLite, PostgreSQL);
one contract suite (``tests/store_contract.py``) runs against every implementation.

Rules every store keeps:
- ``insert`` returns only after the rows are durable; a batch is one transaction; a dedup
  key that matches a non-terminal task returns that task's id instead of inserting.
- ``claim`` moves due ``queued`` rows of one category, lowest id first, to ``running``
  with ``owner`` set and ``attempts`` incremented, and returns them.
- ``finish`` applies an outcome only while ``id``, ``owner``, ``attempts`` and
  ``state = 'running'`` still match (the fence) and returns which ones applied.
- ``record_start`` notes, before a handler runs, that an attempt really began; it must
  survive the process being killed (not necessarily a power loss).
- ``recover`` re-queues the running rows of dead owners. An attempt that really began
  stays counted, and a task that has used all its attempts that way fails with reason
  ``orphaned`` (the poison rule); a task that was only claimed into a FIFO gets its
  attempt back, so a poison task cannot take its innocent neighbours down with it.
  A store that cannot know which attempts began counts every claim.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from .query import Page, TaskQuery
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
    CategorySettings,
    NewTask,
    NodeInfo,
    Outcome,
    RecoveryReport,
    TaskRecord,
)

# Answers of ``cancel`` per id.
CANCEL_DONE = "cancelled"
CANCEL_REQUESTED = "requested"
CANCEL_TERMINAL = "terminal"
CANCEL_MISSING = "missing"


@runtime_checkable
class TaskStore(Protocol):
    """Where tasks live. Every method is thread-safe."""

    #: True when other processes may write to this store, so the node polls for rows it
    #: did not write itself (new submits, operator changes).
    shared: bool
    #: A short human description (path or URL without password) for messages.
    location: str
    #: True when several nodes share this store (PostgreSQL): then every node calls
    #: ``recover`` after each heartbeat, and the store decides whose rows are orphans
    #: (nodes with a stale heartbeat), electing one recoverer at a time.
    multi_node: bool

    def open(self, node_id: str | None = None) -> None:
        """Connect and check the schema. With ``node_id``, also take the node lock."""

    def close(self) -> None: ...

    def recover(self, node_id: str, now: float) -> RecoveryReport:
        """Re-queue running rows of dead owners; fail the exhausted ones as ``orphaned``."""

    def record_start(self, task_id: int, attempt: int) -> None:
        """Note durably (against a process crash) that this attempt's handler starts now."""

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread, quickly) when another process may have
        written work, e.g. on a PostgreSQL NOTIFY. A hint only: the node still polls."""

    def insert(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        """Insert in one transaction; return ids (an existing id for a live dedup key)."""

    def insert_claimed(self, tasks: Sequence[NewTask], now: float, owner: str) -> list[TaskRecord]:
        """Insert due tasks without dedup keys already claimed by ``owner``, in one
        transaction: the rows ``claim`` would have returned for them (``running``, attempt
        1, started ``now``), in order. The node's direct hand-off: a submit that finds
        nothing older waiting skips the separate claim transaction."""

    def promote_due(self, now: float) -> int:
        """Move ``scheduled`` rows with ``run_at <= now`` to ``queued``; return how many."""

    def next_run_at(self) -> float | None:
        """The earliest ``run_at`` of a ``scheduled`` row, or None."""

    def claim(self, category: str, limit: int, owner: str, now: float) -> list[TaskRecord]: ...

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]: ...

    def release(self, ids: Iterable[int], owner: str) -> int:
        """Give claimed or running tasks back (graceful stop): ``queued``, attempt undone."""

    def cancel(self, ids: Iterable[int], now: float) -> dict[int, str]: ...

    def cancel_requests(self, owner: str) -> set[int]:
        """Ids of this owner's running tasks that someone asked to cancel."""

    def retry(self, ids: Iterable[int] | None, now: float) -> list[int]:
        """Queue failed or cancelled tasks again with fresh attempts (None: every failed)."""

    def delete(self, ids: Iterable[int]) -> int:
        """Delete the finished (succeeded, failed, cancelled) tasks among ``ids`` in one
        transaction and return how many; a live task among them is left alone."""

    def get(self, task_id: int) -> TaskRecord | None: ...

    def queue_heads(self, categories: Iterable[str]) -> dict[str, float]:
        """category -> ``run_at`` of the queued task it claims next (the lowest queued id),
        for the console's "oldest waiting" age; categories with nothing queued are left
        out. An index walk per category, however long the queue."""

    def list_tasks(
        self, state: str | None = None, category: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Newest first."""

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        """The tasks ``page.query`` matches, in ``page.order`` by id, at most ``page.limit``,
        after the id ``page.after`` (exclusive) in that order: a window onto the whole store,
        however many tasks it holds (the console's task list, ``jobsched tasks --filter``)."""

    def count_tasks(self, query: TaskQuery) -> int:
        """How many tasks ``query`` matches (what a bulk action would touch)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """category -> state -> number of tasks."""

    def load_settings(self) -> dict[str, CategorySettings]: ...

    def save_settings(self, category: str, settings: CategorySettings) -> None: ...

    def settings_version(self) -> int:
        """A number that changes whenever settings change or a rebalance is requested."""

    def request_rebalance(self) -> None: ...

    def add_decision(self, at: float, decision: dict[str, Any]) -> None: ...

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first."""

    def heartbeat(self, node: NodeInfo) -> None: ...

    def nodes(self) -> list[NodeInfo]: ...


class MemoryStore:
    """A store in a dict, for tests and for embedding without persistence.

    Keeps nothing across processes; ``shared`` is False so the node does not poll it.
    """

    shared = False
    multi_node = False
    location = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, TaskRecord] = {}
        self._ids = itertools.count(1)
        self._queued: dict[str, list[int]] = defaultdict(list)  # heap of ids per category
        self._scheduled: list[tuple[float, int]] = []  # heap of (run_at, id)
        self._dedup: dict[str, int] = {}
        self._settings: dict[str, CategorySettings] = {}
        self._version = 0
        self._decisions: list[dict[str, Any]] = []
        self._nodes: dict[str, NodeInfo] = {}
        self._started: set[tuple[int, int]] = set()
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
                    if (row.id, row.attempts) in self._started:
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
                        row.state = QUEUED
                        heapq.heappush(self._queued[row.category], row.id)
                        report.requeued.append(row.id)
        return report

    def record_start(self, task_id: int, attempt: int) -> None:
        with self._lock:
            self._started.add((task_id, attempt))

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Nothing to do: only this process writes to a memory store."""

    # --- write path --------------------------------------------------------------
    def insert(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        ids: list[int] = []
        with self._lock:
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

    def _enqueue(self, row: TaskRecord) -> None:
        if row.state == QUEUED:
            heapq.heappush(self._queued[row.category], row.id)
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
                heapq.heappush(self._queued[row.category], row.id)
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
                row = self._rows.get(heapq.heappop(heap))
                if row is None or row.state != QUEUED:
                    continue
                row.state = RUNNING
                row.owner = owner
                row.attempts += 1
                row.started_at = now
                claimed.append(replace(row))
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
                heapq.heappush(self._queued[row.category], row.id)
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
                heapq.heappush(self._queued[row.category], row.id)
                done.append(row.id)
        return done

    def delete(self, ids: Iterable[int]) -> int:
        deleted = 0
        with self._lock:
            for task_id in dict.fromkeys(ids):
                row = self._rows.get(task_id)
                if row is not None and row.state in TERMINAL:
                    del self._rows[task_id]
                    deleted += 1
        return deleted

    # --- reading -----------------------------------------------------------------
    def queue_heads(self, categories: Iterable[str]) -> dict[str, float]:
        heads: dict[str, float] = {}
        with self._lock:
            for category in categories:
                heap = self._queued.get(category, [])
                while heap:  # drop stale entries, as claim would
                    row = self._rows.get(heap[0])
                    if row is not None and row.state == QUEUED:
                        heads[category] = row.run_at
                        break
                    heapq.heappop(heap)
        return heads

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

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        with self._lock:
            for row in self._rows.values():
                per = result.setdefault(row.category, dict.fromkeys(STATES, 0))
                per[row.state] += 1
        return result

    # --- settings, decisions, nodes ------------------------------------------------
    def load_settings(self) -> dict[str, CategorySettings]:
        with self._lock:
            return {k: replace(v) for k, v in self._settings.items()}

    def save_settings(self, category: str, settings: CategorySettings) -> None:
        with self._lock:
            self._settings[category] = replace(settings)
            self._version += 1

    def settings_version(self) -> int:
        with self._lock:
            return self._version

    def request_rebalance(self) -> None:
        with self._lock:
            self._version += 1

    def add_decision(self, at: float, decision: dict[str, Any]) -> None:
        with self._lock:
            self._decisions.append(copy.deepcopy(dict(decision, at=at)))
            del self._decisions[:-500]

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        with self._lock:
            return [copy.deepcopy(d) for d in reversed(self._decisions[-limit:])]

    def heartbeat(self, node: NodeInfo) -> None:
        with self._lock:
            self._nodes[node.node_id] = replace(node)

    def nodes(self) -> list[NodeInfo]:
        with self._lock:
            return [replace(n) for n in self._nodes.values()]
