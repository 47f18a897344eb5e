"""The operator's actions on tasks: cancel (waiting tasks at once, running ones by a flag
their node reads with ``cancel_requests`` (shared, in ``storage.rows``)) and retry.
:class:`SqliteOperations` is a part of :class:`storage.sqlite.store.SqliteStore`, which
provides its transactions (``_read``, ``_write``)."""

from __future__ import annotations

from collections.abc import Iterable

from jobsched.core.store import (
    CANCEL_DONE,
    CANCEL_MISSING,
    CANCEL_REQUESTED,
    CANCEL_TERMINAL,
)
from jobsched.core.task import CANCELLED, FAILED, QUEUED, RUNNING, TERMINAL

from .. import query_sql
from . import queries
from .tally import Tally


class SqliteOperations:
    """The store's operator actions (see the module's docstring)."""

    _mark = "?"

    def cancel(self, ids: Iterable[int], now: float) -> dict[int, str]:
        """Cancel waiting tasks; flag running ones. Either bumps the settings version, so
        the node sees the flag, and wakes its waiters, on its next poll."""
        answers: dict[int, str] = {}
        tally = Tally()
        with self._write() as conn:
            for task_id in ids:
                row = conn.execute(queries.STATE_OF, (task_id,)).fetchone()
                if row is None:
                    answers[task_id] = CANCEL_MISSING
                elif row[0] in TERMINAL:
                    answers[task_id] = CANCEL_TERMINAL
                elif row[0] == RUNNING:
                    conn.execute(queries.REQUEST_CANCEL, (task_id,))
                    answers[task_id] = CANCEL_REQUESTED
                else:
                    conn.execute(queries.CANCEL_WAITING, (now, task_id))
                    tally.move(row[2], row[0], CANCELLED)
                    answers[task_id] = CANCEL_DONE
            tally.write(conn)
            if CANCEL_REQUESTED in answers.values() or CANCEL_DONE in answers.values():
                conn.execute(queries.BUMP_SETTINGS_VERSION)
        return answers

    def retry(self, ids: Iterable[int] | None, now: float) -> list[int]:
        """Queue failed (or, by id, cancelled) tasks again with fresh attempts; a task
        whose dedup key a newer live task holds is skipped."""
        allowed = (FAILED,) if ids is None else (FAILED, CANCELLED)
        done: list[int] = []
        tally = Tally()
        clear_attempts = query_sql.clear_attempts_sql(self._mark)
        with self._write() as conn:
            todo = [r[0] for r in conn.execute(queries.FAILED_IDS)] if ids is None else ids
            for task_id in todo:
                row = conn.execute(queries.STATE_OF, (task_id,)).fetchone()
                if row is None or row[0] not in allowed:
                    continue
                key = row[1]
                if key is not None and conn.execute(queries.LIVE_ID_FOR_KEY, (key,)).fetchone():
                    continue
                conn.execute(queries.RETRY_TASK, (now, task_id))
                conn.execute(clear_attempts, (task_id,))
                tally.move(row[2], row[0], QUEUED)
                done.append(task_id)
            tally.write(conn)
        return done
