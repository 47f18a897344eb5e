"""The store interface the engine runs on, and the in-memory store.

The store is the source of truth for tasks; the engine's FIFOs only hold a bounded window
of claimed tasks. ``storage/`` implements this protocol with Peewee (SQLite, PostgreSQL);
one contract suite (``tests/store_contract.py``) runs against every implementation, the
in-memory one (:mod:`.memory_store`) included.

Rules every store keeps:
- ``insert`` returns only after the rows are durable; a batch is one transaction; a dedup
  key that matches a non-terminal task returns that task's id instead of inserting.
- ``claim`` moves due ``queued`` rows of one category, highest ``priority`` first and
  lowest id first among equals (:func:`.task.claim_order`), to ``running`` with
  ``owner`` set and ``attempts`` incremented, and returns them in that order.
- ``finish`` applies an outcome only while ``id``, ``owner``, ``attempts`` and
  ``state = 'running'`` still match (the fence) and returns which ones applied.
- ``record_start`` notes, before a handler runs, that an attempt really began; it must
  survive the process being killed (not necessarily a power loss). It is fenced like an
  outcome, by the claim (id, owner, attempt, claim time): it returns False, and the
  handler must not run, when that claim is no longer the task's (given back). A start
  that could not be written (an error) is unknown: on a store shared by several nodes
  the task must not run until a later try answers.
- ``recover`` re-queues the running rows of dead owners. An attempt that really began
  stays counted, and a task that has used all its attempts that way fails with reason
  ``orphaned`` (the poison rule); a task that was only claimed into a FIFO gets its
  attempt back, so a poison task cannot take its innocent neighbours down with it.
  A store that cannot know which attempts began counts every claim. A store shared by
  several nodes also gives back, without charging an attempt, the claims a live but
  silent node has not begun once its heartbeat is older than its ``claim_lease``: the
  fenced start keeps that node from running them if it comes back.
- ``claim_tick`` claims one tick of a recurring schedule at most once, ever, across every
  process on the store: the tick's row and its task go in in one transaction, so two
  nodes, a restart or a clock that steps back never run a tick twice. A clock tick at or
  before the newest one claimed for its schedule is refused too, which is what lets
  ``prune_ticks`` delete old tick rows (never the newest) without a tick coming back.
- ``finish`` of a retry (an outcome back to ``scheduled``) and ``recover`` of a run that
  began and is queued again keep that attempt's number, error, reason and end time
  (``attempt_errors``), at most :data:`.task.ATTEMPTS_KEPT` per task, oldest dropped; a
  terminal outcome writes nothing more than the task row. Deleting or pruning a task
  deletes them; an operator's ``retry`` (fresh attempts) clears them.
- ``add_history`` keeps one row per (minute, category, node): nodes sharing a store
  never write over each other, and ``history`` adds them up (see :mod:`.history`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .claim_plan import ClaimLimits
from .history import MinuteStats
from .limits import Claimed
from .progress import TaskProgress
from .query import Page, TaskQuery
from .retention import PruneRule
from .schedule_spec import ScheduleState
from .task import (
    AttemptError,
    CategorySettings,
    NewTask,
    NodeInfo,
    Outcome,
    RecoveryReport,
    TaskRecord,
)

if TYPE_CHECKING:
    from .commits import CommitWatch

#: ``(category, state, kept, actual)``: a counter that disagrees with a full count.
CountDifference = tuple[str, str, int, int]

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

    def record_start(self, task: TaskRecord) -> bool:
        """Note durably (against a process crash) that the handler of this claim of the
        task (as the claim returned it) starts now. False: the claim was given back, so
        the handler must not run; a store no other node writes to may always say True."""

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

    def claim_limited(
        self, category: str, limit: int, owner: str, now: float, limits: ClaimLimits
    ) -> Claimed:
        """``claim``, but only the tasks the token buckets of ``limits`` pay for (the
        category's, and each limited handler's), taking the tokens in the claim's own
        transaction (so every node of a shared store draws on the same buckets; a missing
        bucket starts full): a :class:`~.claim_plan.ClaimPlan`. ``Claimed.wait`` is the
        seconds until the next token when queued tasks were held back for want of one."""

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

    def set_progress(self, task_id: int, progress: TaskProgress) -> None:
        """Keep ``progress`` as the task's latest report (replacing any earlier one).
        Called by the worker running the task, throttled (see core/progress)."""

    def get_progress(self, ids: Iterable[int]) -> dict[int, TaskProgress]:
        """id -> the latest progress report of each of ``ids`` that made one. A deleted
        task's report goes with it."""

    def attempt_errors(self, task_id: int) -> list[AttemptError]:
        """How the task's earlier attempts ended (each one retried, or interrupted by a
        crash and queued again), oldest first, at most :data:`.task.ATTEMPTS_KEPT`: the
        final attempt's error is the task's own (see :func:`.task.attempt_history`)."""

    def queue_heads(self, categories: Iterable[str]) -> dict[str, float]:
        """category -> ``run_at`` of the queued task it claims next (in claim order),
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
        """category -> state -> number of tasks. SQL stores read it from counters kept
        with every write (no scan of the task table), so its cost does not grow with
        history; :meth:`check_counts` compares them with a full count."""

    def check_counts(self, repair: bool = False) -> list[CountDifference]:
        """Where :meth:`counts` differs from a full count of the task table, as
        ``(category, state, kept, actual)``; with ``repair``, rebuild the counters from
        the full count (in one transaction). ``jobsched check`` calls it."""

    def compact_counts(self) -> None:
        """Fold the counters' pending changes into their totals, keeping :meth:`counts`
        cheap (a no-op where writes update the totals directly). The retention unit
        calls it every pass."""

    def prune(self, rule: PruneRule, limit: int, spare: Collection[int] = ()) -> int:
        """Delete at most ``limit`` tasks that ``rule`` matches (only ever terminal
        ones), oldest finished first, except the ids in ``spare``, in one transaction;
        return how many were deleted."""

    def count_prunable(self, rule: PruneRule) -> int:
        """How many tasks ``rule`` matches (what ``jobsched prune --dry-run`` reports)."""

    # --- history by the minute (core/history.py) -----------------------------------------
    def add_history(self, node_id: str, rows: Sequence[MinuteStats]) -> None:
        """Keep ``node_id``'s figures of each row's (minute, category), in one
        transaction. Writing a (minute, category, node) again replaces that row: a retry
        after a commit reported as failed counts nothing twice."""

    def history(self, since: int) -> list[MinuteStats]:
        """The rows of minutes from ``since`` on, one per (category, minute), summed over
        the nodes that wrote it (counts added up, ``queued`` and ``latency`` the largest),
        ordered by minute, then category."""

    def prune_history(self, before: int, limit: int) -> int:
        """Delete at most ``limit`` rows of minutes before ``before``, oldest first, in one
        transaction; return how many."""

    def load_settings(self) -> dict[str, CategorySettings]: ...

    def save_settings(self, category: str, settings: CategorySettings) -> None: ...

    def settings_version(self) -> int:
        """A number that changes whenever settings change or a rebalance is requested."""

    def request_rebalance(self) -> None: ...

    def add_decision(self, at: float, decision: dict[str, Any]) -> None: ...

    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first."""

    def heartbeat(self, node: NodeInfo) -> None: ...

    def watch_commits(self) -> CommitWatch:
        """A new watch, on a connection of its own, for signs that another connection
        committed outcomes or cancellations: what wakes a waiting client with no node in
        its process. The store closes it when it closes."""

    def nodes(self) -> list[NodeInfo]: ...

    # --- recurring schedules ------------------------------------------------------------
    def ensure_schedules(self, names: Sequence[str], now: float) -> None:
        """Note each schedule the store has not seen, not paused, since ``now`` (ticks
        before that are never due); leave known ones alone."""

    def set_schedule_paused(self, name: str, paused: bool, now: float) -> None:
        """Pause or resume a schedule, for every node on the store. Resuming moves its
        ``since`` to ``now``: ticks that passed while it was paused never run."""

    def claim_tick(
        self, name: str, tick: float, task: NewTask | None, now: float, *, manual: bool = False,
        skip_from: float | None = None,
    ) -> int | None:  # fmt: skip
        """Claim tick ``tick`` of schedule ``name`` and insert ``task`` in the same
        transaction. Returns the task's id (0 when ``task`` is None: the ticks from
        ``skip_from`` to ``tick`` are marked skipped), or None when the tick was already
        claimed, by anyone, or when it is a clock tick (not ``manual``) at or before the
        newest clock tick claimed for ``name``: then nothing is written. ``manual`` claims
        are run-now requests, kept apart from the clock's ticks."""

    def prune_ticks(self, before: float, limit: int) -> int:
        """Delete at most ``limit`` claimed-tick rows whose tick and claim time are both
        before ``before``, oldest first, in one transaction; never the newest clock tick
        of a schedule nor its newest run (what :meth:`schedule_states` reads and
        :meth:`claim_tick` refuses older clock ticks by). Returns how many were deleted."""

    def schedule_states(self, names: Iterable[str] | None = None) -> dict[str, ScheduleState]:
        """name -> what the store knows of each known schedule among ``names`` (None:
        all): paused, since, the newest clock tick claimed, the newest run and its task's
        state."""
