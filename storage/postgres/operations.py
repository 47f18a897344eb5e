"""The operator's actions on tasks: cancel (waiting tasks at once, running ones by a flag
their node reads with ``cancel_requests`` (shared, in ``storage.rows``), woken by a
notification) and retry. :class:`PostgresOperations` is a part of
:class:`storage.postgres.store.PostgresStore`, which provides its transactions
(``_read``, ``_write``)."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from jobsched.core.store import (
    CANCEL_DONE,
    CANCEL_MISSING,
    CANCEL_REQUESTED,
    CANCEL_TERMINAL,
)
from jobsched.core.task import CANCELLED, FAILED, RUNNING, TERMINAL

from . import queries
from .upkeep import task_ids as _ids


class PostgresOperations:
    """The store's operator actions (see the module's docstring)."""

    def cancel(self, ids: Iterable[int], now: float) -> dict[int, str]:
        """Cancel waiting tasks; flag running ones (their node sees the flag on its next
        poll, woken by the settings version, which a flag bumps, and a notification)."""
        wanted = list(ids)
        answers: dict[int, str] = {}
        with self._write() as conn:
            states = {r[0]: r[1] for r in conn.execute(queries.LOCK_STATES, (_ids(wanted),))}
            waiting: list[int] = []
            running: list[int] = []
            for task_id in wanted:
                state = states.get(task_id)
                if state is None:
                    answers[task_id] = CANCEL_MISSING
                elif state in TERMINAL:
                    answers[task_id] = CANCEL_TERMINAL
                elif state == RUNNING:
                    answers[task_id] = CANCEL_REQUESTED
                    running.append(task_id)
                else:
                    answers[task_id] = CANCEL_DONE
                    states[task_id] = CANCELLED
                    waiting.append(task_id)
            if waiting:
                conn.execute(queries.CANCEL_WAITING, (now, waiting))
                conn.execute(queries.NOTIFY_DONE)
            if running:
                conn.execute(queries.REQUEST_CANCEL, (running,))
                conn.execute(queries.BUMP_SETTINGS_VERSION)
                conn.execute(queries.NOTIFY)
        return answers

    def retry(self, ids: Iterable[int] | None, now: float) -> list[int]:
        """Queue failed (or, by id, cancelled) tasks again with fresh attempts; a task
        whose dedup key a newer live task holds is skipped."""
        allowed = (FAILED,) if ids is None else (FAILED, CANCELLED)
        done: set[int] = set()
        with self._write() as conn:
            if ids is None:
                rows = conn.execute(queries.LOCK_FAILED).fetchall()
                order = [row[0] for row in rows]
            else:
                order = list(dict.fromkeys(ids))
                rows = conn.execute(queries.LOCK_STATES, (_ids(order),)).fetchall()
            found = {row[0]: (row[1], row[2]) for row in rows}
            plain: list[int] = []
            keyed: list[tuple[int, str]] = []
            for task_id in order:
                state, key = found.get(task_id, (None, None))
                if state not in allowed:
                    continue
                if key is None:
                    plain.append(task_id)
                else:
                    keyed.append((task_id, key))
            if plain:
                conn.execute(queries.RETRY_TASKS, (now, plain))
                done.update(plain)
            for task_id, key in keyed:
                if conn.execute(queries.KEY_IS_LIVE, (key,)).fetchone():
                    continue  # a newer live task owns the key
                try:
                    with conn.transaction():  # a savepoint: another process took the key
                        conn.execute(queries.RETRY_TASKS, (now, [task_id]))
                except psycopg.errors.UniqueViolation:
                    continue
                done.add(task_id)
            if done:
                conn.execute(queries.CLEAR_ATTEMPTS, (sorted(done),))
                conn.execute(queries.NOTIFY)
        return [task_id for task_id in order if task_id in done]
