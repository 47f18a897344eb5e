"""Recurring schedules in SQL, the same for both stores: pause flags and claimed ticks.

A tick is claimed by inserting its ``schedule_ticks`` row with ``ON CONFLICT DO NOTHING``
(SQLite and PostgreSQL spell it alike): the primary key (schedule, tick, manual) lets one
insert win, ever. The tick's task goes in in the same transaction, only when the row was
inserted, so a tick has one task or none. On PostgreSQL a second transaction inserting
the same key waits for the first to commit and then inserts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from jobsched.core.schedule_spec import ScheduleState
from jobsched.core.task import NewTask


def _sql(text: str, mark: str) -> str:
    return text.replace("?", mark)


ENSURE = (
    "INSERT INTO schedules (name, paused, since) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING"
)
SET_PAUSED = (
    "INSERT INTO schedules (name, paused, since) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused"
)
# Resuming moves ``since`` to now: ticks that passed while paused are never due.
RESUME = "UPDATE schedules SET since = ? WHERE name = ?"
CLAIM = (
    "INSERT INTO schedule_ticks (schedule, tick, manual, task_id, skip_from, claimed_at)"
    " VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING"
)
SET_TASK = "UPDATE schedule_ticks SET task_id = ? WHERE schedule = ? AND tick = ? AND manual = ?"
STATE = "SELECT paused, since FROM schedules WHERE name = ?"
LAST_TICK = "SELECT max(tick) FROM schedule_ticks WHERE schedule = ? AND manual = ?"
LAST_RUN = (
    "SELECT k.tick, k.task_id, t.state FROM schedule_ticks k"
    " LEFT JOIN tasks t ON t.id = k.task_id"
    " WHERE k.schedule = ? AND k.task_id IS NOT NULL ORDER BY k.tick DESC LIMIT 1"
)
NAMES = "SELECT name FROM schedules ORDER BY name"


class ScheduleRows:
    """The schedule methods of the :class:`~jobsched.core.store.TaskStore` protocol, for a
    SQL store that provides ``_mark``, ``_read``, ``_write`` and ``_insert_in``."""

    _mark: ClassVar[str]

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _insert_in(self, conn: Any, tasks: Sequence[NewTask], now: float) -> list[int]:
        raise NotImplementedError

    def ensure_schedules(self, names: Sequence[str], now: float) -> None:
        if not names:
            return
        sql = _sql(ENSURE, self._mark)
        with self._write() as conn:
            for name in names:
                conn.execute(sql, (name, False, now))

    def set_schedule_paused(self, name: str, paused: bool, now: float) -> None:
        with self._write() as conn:
            conn.execute(_sql(SET_PAUSED, self._mark), (name, bool(paused), now))
            if not paused:
                conn.execute(_sql(RESUME, self._mark), (now, name))

    def claim_tick(
        self, name: str, tick: float, task: NewTask | None, now: float, *, manual: bool = False,
        skip_from: float | None = None,
    ) -> int | None:  # fmt: skip
        mark = self._mark
        with self._write() as conn:
            won = conn.execute(_sql(CLAIM, mark), (name, tick, manual, skip_from, now)).rowcount
            if won != 1:
                return None
            if task is None:
                return 0
            task_id = self._insert_in(conn, [task], now)[0]
            conn.execute(_sql(SET_TASK, mark), (task_id, name, tick, manual))
            return task_id

    def schedule_states(self, names: Iterable[str] | None = None) -> dict[str, ScheduleState]:
        mark = self._mark
        wanted = [r[0] for r in self._read(NAMES)] if names is None else list(names)
        states: dict[str, ScheduleState] = {}
        for name in wanted:
            row = self._read(_sql(STATE, mark), (name,))
            if not row:
                continue
            last = self._read(_sql(LAST_TICK, mark), (name, False))[0][0]
            run = self._read(_sql(LAST_RUN, mark), (name,))
            tick, task_id, state = run[0] if run else (None, None, None)
            states[name] = ScheduleState(
                name=name, paused=bool(row[0][0]), since=float(row[0][1]),
                last_tick=None if last is None else float(last),
                last_run_at=None if tick is None else float(tick),
                last_task_id=task_id, last_state=state,
            )  # fmt: skip
        return states
