"""The tasks this node has claimed and not yet finished, with their cancel flags.

The dispatcher adds what it claims (and what the direct hand-off inserts claimed), a worker
reads the flag of the task it runs, a cancel sets it, and the completer forgets a task
once the outcome of that attempt is written (a worker, once the store refused its start).
Plain dict operations, atomic under the GIL: no lock on the hot path. Also how many
tasks a category holds claimed per worker (:func:`prefetch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .handlers import CancelFlag
from .task import Outcome, TaskRecord


@dataclass(slots=True)
class Claim:
    task: TaskRecord
    cancel: CancelFlag


class Claims:
    def __init__(self) -> None:
        self._by_id: dict[int, Claim] = {}

    def add(self, tasks: Iterable[TaskRecord]) -> None:
        by_id = self._by_id
        for task in tasks:
            by_id[task.id] = Claim(task, CancelFlag())

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def cancel_flag(self, task: TaskRecord) -> CancelFlag:
        """The flag a worker hands to the handler (a fresh one if the claim is unknown)."""
        claim = self._by_id.get(task.id)
        return claim.cancel if claim is not None else CancelFlag()

    def request_cancel(self, task_ids: Iterable[int]) -> None:
        """Ask the handlers of these claimed tasks to stop (ids not claimed are ignored)."""
        for task_id in task_ids:
            claim = self._by_id.get(task_id)
            if claim is not None:
                claim.cancel.set()

    def finished(self, outcome: Outcome) -> str:
        """Forget the claim the outcome ends and return its category; "" if the outcome
        is not of the claimed attempt (a retry may already be claimed anew)."""
        claim = self._by_id.get(outcome.id)
        if claim is None or claim.task.attempts != outcome.attempt:
            return ""
        del self._by_id[outcome.id]
        return claim.task.category

    def superseded(self, task: TaskRecord) -> bool:
        """True if this node has claimed the task again since it claimed this record of
        it (given back meanwhile): only the newest record may run."""
        claim = self._by_id.get(task.id)
        return claim is not None and claim.task is not task

    def drop(self, task: TaskRecord) -> None:
        """Forget this claim of the task (a start the store refused: the claim was given
        back); a newer claim of the same task, made since, is kept."""
        claim = self._by_id.get(task.id)
        if claim is not None and claim.task is task:
            del self._by_id[task.id]

    def forget(self, task_ids: Iterable[int]) -> None:
        for task_id in task_ids:
            self._by_id.pop(task_id, None)


#: A category's FIFO holds about this many seconds of its work per worker (see prefetch).
PREFETCH_SPAN = 0.01


def prefetch(avg_run: float | None, cap: int) -> int:
    """Tasks to hold waiting per worker: about PREFETCH_SPAN seconds of a category's work
    (by the running average ``avg_run`` of its run times), at least one (until a task of
    it has run, one), at most ``cap``. Short tasks get a deep FIFO, so the workers do not
    run dry while the next claim waits for the database; long ones a shallow one, so a
    node does not sit on work another node or a freed worker could start now."""
    if avg_run is None or cap <= 1:
        return min(cap, 1)
    if avg_run <= PREFETCH_SPAN / cap:
        return cap
    return max(1, int(PREFETCH_SPAN / avg_run))
