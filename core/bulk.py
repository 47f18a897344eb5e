"""Actions on every task a filter matches: retry, cancel and delete.

The CLI's ``retry|cancel|delete --filter`` and the console's bulk keys call these through
:class:`~core.client.Client`. Each walks the matching ids oldest first in keyset pages of
:data:`BATCH` and hands every page to a per-batch action that takes the store's write lock
for that batch only: a node that shares the store keeps claiming and finishing between
batches, and every batch re-checks each row's state under the lock, so a task that moved
on meanwhile is left alone. The per-batch retry and cancel are the client's own
``retry(ids)`` and ``cancel(ids)``, so a running scheduler wakes its dispatcher and its
waiters exactly as it does for a single task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from .query import Page, TaskQuery
from .store import CANCEL_DONE, CANCEL_REQUESTED, TaskStore
from .task import CANCELLED, FAILED, QUEUED, RUNNING, SCHEDULED, STATES, TERMINAL

BATCH = 500
RETRYABLE = (FAILED, CANCELLED)
CANCELLABLE = (SCHEDULED, QUEUED, RUNNING)
DELETABLE = tuple(s for s in STATES if s in TERMINAL)
LIVE = tuple(s for s in STATES if s not in TERMINAL)


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk action did: ``touched`` tasks changed (retried, cancelled, deleted),
    ``requested`` running tasks flagged for their worker to cancel, ``skipped`` tasks that
    matched but were not eligible (live tasks for delete; tasks that were neither failed
    nor cancelled for retry; finished ones for cancel)."""

    action: str
    touched: int = 0
    requested: int = 0
    skipped: int = 0
    dry_run: bool = False

    def describe(self) -> str:
        """One line for the CLI and the console's notification."""
        verb = {"retry": "retried", "cancel": "cancelled", "delete": "deleted"}[self.action]
        would = "would be " if self.dry_run else ""
        parts = [f"{self.touched:,} {would}{verb}"]
        if self.requested:
            parts.append(f"{self.requested:,} running {would}asked to stop")
        if self.skipped:
            parts.append(f"{self.skipped:,} skipped ({SKIPPED[self.action]})")
        return ", ".join(parts)


SKIPPED = {
    "retry": "neither failed nor cancelled, or its dedup key is taken",
    "cancel": "already finished",
    "delete": "not finished: only succeeded, failed or cancelled tasks are deleted",
}


def restrict(query: TaskQuery, allowed: Iterable[str]) -> TaskQuery | None:
    """``query`` narrowed to ``allowed`` states, or None when it can match none of them."""
    allowed = tuple(allowed)
    states = tuple(s for s in query.states if s in allowed) if query.states else allowed
    return replace(query, states=states) if states else None


def matching_ids(store: TaskStore, query: TaskQuery | None) -> Iterator[list[int]]:
    """The ids ``query`` matches, oldest first, a page of at most :data:`BATCH` at a time.
    Keyset paging on the id: rows that a batch changes never shift the next page."""
    if query is None:
        return
    page = Page(query, "oldest", BATCH)
    while True:
        rows = store.find_tasks(page)
        if not rows:
            return
        yield [t.id for t in rows]
        if len(rows) < BATCH:
            return
        page = page.next(rows[-1].id)


def _count(store: TaskStore, query: TaskQuery | None) -> int:
    return 0 if query is None else store.count_tasks(query)


def retry_matching(
    store: TaskStore,
    query: TaskQuery,
    retry: Callable[[list[int]], list[int]],
    dry_run: bool = False,
) -> BulkResult:
    """Queue again every failed or cancelled task ``query`` matches, through ``retry``."""
    eligible = restrict(query, RETRYABLE)
    if dry_run:
        count = _count(store, eligible)
        return BulkResult("retry", count, skipped=store.count_tasks(query) - count, dry_run=True)
    matched = store.count_tasks(query)
    touched = sum(len(retry(batch)) for batch in matching_ids(store, eligible))
    return BulkResult("retry", touched, skipped=max(0, matched - touched))


def cancel_matching(
    store: TaskStore,
    query: TaskQuery,
    cancel: Callable[[list[int]], dict[int, str]],
    dry_run: bool = False,
) -> BulkResult:
    """Cancel every scheduled or queued task ``query`` matches and flag the running ones,
    through ``cancel``."""
    waiting = restrict(query, (SCHEDULED, QUEUED))
    running = restrict(query, (RUNNING,))
    finished = _count(store, restrict(query, TERMINAL))
    if dry_run:
        return BulkResult(
            "cancel", _count(store, waiting), _count(store, running), finished, dry_run=True
        )
    touched = requested = 0
    for batch in matching_ids(store, restrict(query, CANCELLABLE)):
        answers = cancel(batch).values()
        touched += sum(1 for a in answers if a == CANCEL_DONE)
        requested += sum(1 for a in answers if a == CANCEL_REQUESTED)
    return BulkResult("cancel", touched, requested, finished)


def delete_matching(store: TaskStore, query: TaskQuery, dry_run: bool = False) -> BulkResult:
    """Delete every finished task ``query`` matches; never a live one (counted as skipped)."""
    live = _count(store, restrict(query, LIVE))
    done = restrict(query, DELETABLE)
    if dry_run:
        return BulkResult("delete", _count(store, done), skipped=live, dry_run=True)
    touched = sum(store.delete(batch) for batch in matching_ids(store, done))
    return BulkResult("delete", touched, skipped=live)
