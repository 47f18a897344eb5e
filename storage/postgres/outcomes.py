"""The outcome batch: the engine's group commit of finished attempts, each applied only
if its fence (id, owner, attempt, running) still holds. :class:`PostgresOutcomes` is a
part of :class:`storage.postgres.store.PostgresStore`, which provides its connections
(``_conn``, ``_write``, ``_errors``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jobsched.core.task import QUEUED, SCHEDULED, AttemptError, Outcome

from .. import rows as shapes
from . import queries


class PostgresOutcomes:
    """The store's outcome writes (see the module's docstring)."""

    def finish(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Write a batch of outcomes in one transaction (the engine's group commit); each
        applies only if its fence (id, owner, attempt, running) still holds."""
        if not outcomes:
            return []
        if len({out.id for out in outcomes}) < len(outcomes):
            return self._finish_in_order(outcomes)
        terminal = [out for out in outcomes if out.state != SCHEDULED]
        retries = [out for out in outcomes if out.state == SCHEDULED]
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if terminal:
            columns = _columns(terminal, _terminal_values)
            statements.append((queries.FINISH_TERMINAL, (*columns, columns[0])))
        if retries:
            columns = _columns(retries, _retry_values)
            statements.append((queries.FINISH_RETRY, (*columns, columns[0])))
        applied: set[int] = set()
        with self._errors:
            conn = self._conn()
            # Planned each time (prepare=False), like the claim: see queries._FENCE.
            if len(statements) == 1:  # one statement is its own transaction
                query, params = statements[0]
                applied.update(r[0] for r in conn.execute(query, params, prepare=False))
            else:
                with conn.transaction():
                    for query, params in statements:
                        applied.update(r[0] for r in conn.execute(query, params, prepare=False))
        return [out.id in applied for out in outcomes]

    def _finish_in_order(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """A batch naming a task twice: apply one by one, so the first that fits wins."""
        applied: list[bool] = []
        with self._write() as conn:
            for out in outcomes:
                fence = (out.id, out.owner, out.attempt)
                if out.state == SCHEDULED:
                    query, values = queries.FINISH_RETRY_ONE, _retry_values(out)[3:7]
                else:
                    query, values = queries.FINISH_TERMINAL_ONE, _terminal_values(out)[3:]
                done = conn.execute(query, (*values, *fence)).rowcount == 1
                if done and out.state == SCHEDULED:
                    ended = AttemptError(out.attempt, out.error, out.reason, out.finished_at)
                    shapes.keep_attempts(conn, [(out.id, ended)], self._mark)
                applied.append(done)
            conn.execute(queries.NOTIFY_DONE)
        return applied


def _terminal_values(out: Outcome) -> tuple[Any, ...]:
    return (out.id, out.owner, out.attempt, out.state, out.finished_at, out.result, out.error,
            out.reason)  # fmt: skip


def _retry_values(out: Outcome) -> tuple[Any, ...]:
    run_at = out.run_at if out.run_at is not None else out.finished_at
    state = QUEUED if run_at <= out.finished_at else SCHEDULED
    return (out.id, out.owner, out.attempt, state, run_at, out.error, out.reason,
            out.finished_at)  # fmt: skip


def _columns(
    outcomes: Sequence[Outcome], values: Callable[[Outcome], tuple[Any, ...]]
) -> tuple[list[Any], ...]:
    """Outcomes as one list per column, for ``unnest``."""
    rows = [values(out) for out in outcomes]
    return tuple(list(column) for column in zip(*rows, strict=True))
