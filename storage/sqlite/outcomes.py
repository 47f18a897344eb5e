"""The outcome batch: the engine's group commit of finished attempts, each applied only
if its fence (id, owner, attempt, running) still holds. :class:`SqliteOutcomes` is a part
of :class:`storage.sqlite.store.SqliteStore`, which provides its transactions
(``_write``) and its start journal (``_journal``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from jobsched.core.task import QUEUED, RUNNING, SCHEDULED, AttemptError, Outcome

from .. import query_sql
from .. import rows as shapes
from . import queries
from .tally import Tally


class _FenceFailed(Exception):
    """A batched finish changed fewer rows than it had outcomes: roll it back."""


class SqliteOutcomes:
    """The store's outcome writes (see the module's docstring)."""

    _mark = "?"

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Write a batch of outcomes in one transaction (the engine's group commit);
        each applies only if its fence (id, owner, attempt, running) still holds."""
        if not outcomes:
            return []
        applied = self._finish_all_terminal(outcomes)
        if applied is None:
            applied = self._finish_each(outcomes)
        if self._journal is not None:
            self._journal.forget([out.id for out in outcomes], [out.attempt for out in outcomes])
        return applied

    def _finish_all_terminal(self, outcomes: Sequence[Outcome]) -> list[bool] | None:
        """The common batch, every outcome terminal and for a different task, in one
        statement per chunk; None (nothing written) when the batch is not that, or when
        a fence did not hold and each outcome's answer is needed."""
        if any(out.state == SCHEDULED for out in outcomes):
            return None
        if len({out.id for out in outcomes}) < len(outcomes):
            return None
        try:
            with self._write() as conn:
                before = conn.total_changes
                tally = Tally()
                for start in range(0, len(outcomes), queries.FINISH_CHUNK):
                    chunk = outcomes[start : start + queries.FINISH_CHUNK]
                    params = [
                        value
                        for out in chunk
                        for value in (out.id, out.owner, out.attempt, out.state,
                                      out.finished_at, out.result, out.error, out.reason)
                    ]  # fmt: skip
                    size = query_sql.size_class(len(chunk))
                    params.extend([None] * 8 * (size - len(chunk)))  # rows that match nothing
                    finished = conn.execute(queries.finish_many(size), params).fetchall()
                    for (category, state), n in Counter(finished).items():
                        tally.move(category, RUNNING, state, n)
                if conn.total_changes - before != len(outcomes):
                    raise _FenceFailed
                tally.write(conn)
        except _FenceFailed:
            return None  # rolled back: the outcomes are written one by one instead
        return [True] * len(outcomes)

    def _finish_each(self, outcomes: Sequence[Outcome]) -> list[bool]:
        applied: list[bool] = []
        with self._write() as conn:
            tally = Tally()
            for out in outcomes:
                fence = (out.id, out.owner, out.attempt)
                if out.state == SCHEDULED:
                    run_at = out.run_at if out.run_at is not None else out.finished_at
                    state = QUEUED if run_at <= out.finished_at else SCHEDULED
                    row = conn.execute(
                        queries.FINISH_RETRY, (state, run_at, out.error, out.reason, *fence)
                    ).fetchone()
                    if row is not None:
                        ended = AttemptError(out.attempt, out.error, out.reason, out.finished_at)
                        shapes.keep_attempts(conn, [(out.id, ended)], self._mark)
                else:
                    state = out.state
                    row = conn.execute(
                        queries.FINISH_TERMINAL,
                        (out.state, out.finished_at, out.result, out.error, out.reason, *fence),
                    ).fetchone()
                if row is not None:
                    tally.move(row[0], RUNNING, state)
                applied.append(row is not None)
            tally.write(conn)
        return applied
