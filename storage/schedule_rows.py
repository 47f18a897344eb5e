"""Recurring schedules in SQL, the same for both stores: pause flags and claimed ticks.

A tick is claimed by inserting its ``schedule_ticks`` row with ``ON CONFLICT DO NOTHING``
(SQLite and PostgreSQL spell it alike): the primary key (schedule, tick, manual) lets one
insert win, ever. The tick's task goes in in the same transaction, only when the row was
inserted, so a tick has one task or none. On PostgreSQL a second transaction inserting
the same key waits for the first to commit and then inserts nothing. A clock tick at or
before the newest clock tick of its schedule is refused as well (the ``NOT EXISTS`` of
``CLAIM_CLOCK``): ticks are claimed in order, so such a tick was claimed, marked skipped
or pruned already.

``prune_ticks`` deletes old rows a batch at a time (the retention unit calls it), per
schedule below a cutoff: the oldest of ``before``, the schedule's newest clock tick and
its newest run, so the rows ``schedule_states`` reads and the guard above relies on stay.
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
# A clock tick: also refused at or before the newest clock tick claimed (or kept by a prune).
CLAIM_CLOCK = (
    "INSERT INTO schedule_ticks (schedule, tick, manual, task_id, skip_from, claimed_at)"
    " SELECT ?, ?, ?, NULL, ?, ? WHERE NOT EXISTS (SELECT 1 FROM schedule_ticks"
    " WHERE schedule = ? AND manual = ? AND tick >= ?) ON CONFLICT DO NOTHING"
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
# prune_ticks: each a walk down the primary key (schedule, tick, manual) from the newest.
NEWEST_CLOCK = (
    "SELECT tick FROM schedule_ticks WHERE schedule = ? AND manual = ? ORDER BY tick DESC LIMIT 1"
)
NEWEST_RUN = (
    "SELECT tick FROM schedule_ticks WHERE schedule = ? AND task_id IS NOT NULL"
    " ORDER BY tick DESC LIMIT 1"
)
# Whether a schedule has rows to prune, as of one snapshot (one statement); what goes is
# worked out again in the deleting transaction.
ANY_OLD_TICK = (
    "SELECT 1 FROM schedule_ticks k WHERE k.schedule = ? AND k.tick < ? AND k.claimed_at < ?"
    f" AND k.tick < COALESCE(({NEWEST_CLOCK}), ?) AND k.tick < COALESCE(({NEWEST_RUN}), ?)"
    " LIMIT 1"
)
PRUNE_TICKS = (
    "DELETE FROM schedule_ticks WHERE (schedule, tick, manual) IN ("
    "SELECT schedule, tick, manual FROM schedule_ticks"
    " WHERE schedule = ? AND tick < ? AND claimed_at < ? ORDER BY tick LIMIT ?)"
)


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

    def _lock_ticks(self, conn: Any, name: str) -> None:
        """Hold off other claims and prunes of ``name``'s ticks until the caller's
        transaction ends, so that the guard of ``CLAIM_CLOCK`` and a prune's cutoff read
        what the others committed (a store whose write transactions already exclude each
        other, SQLite, does nothing)."""

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
        row = (name, tick, manual, skip_from, now)
        with self._write() as conn:
            self._lock_ticks(conn, name)
            if manual:
                won = conn.execute(_sql(CLAIM, mark), row).rowcount
            else:
                won = conn.execute(_sql(CLAIM_CLOCK, mark), (*row, name, False, tick)).rowcount
            if won != 1:
                return None
            if task is None:
                return 0
            task_id = self._insert_in(conn, [task], now)[0]
            conn.execute(_sql(SET_TASK, mark), (task_id, name, tick, manual))
            return task_id

    def prune_ticks(self, before: float, limit: int) -> int:
        """Delete at most ``limit`` tick rows claimed and ticking before ``before``, oldest
        first, never a schedule's newest clock tick nor its newest run; one transaction,
        taken only when a read found something that may go."""
        if limit <= 0:
            return 0
        mark = self._mark
        names = [row[0] for row in self._read(NAMES)]
        old = _sql(ANY_OLD_TICK, mark)
        found = [
            n for n in names if self._read(old, (n, before, before, n, False, before, n, before))
        ]
        if not found:
            return 0
        deleted = 0
        with self._write() as conn:
            for name in found:
                self._lock_ticks(conn, name)
                cutoff = before  # read under the lock: no claim of this schedule commits now
                for query, params in ((NEWEST_CLOCK, (name, False)), (NEWEST_RUN, (name,))):
                    newest = conn.execute(_sql(query, mark), params).fetchone()
                    if newest is not None:
                        cutoff = min(cutoff, float(newest[0]))
                params = (name, cutoff, before, limit - deleted)
                deleted += conn.execute(_sql(PRUNE_TICKS, mark), params).rowcount
                if deleted >= limit:
                    break
        return deleted

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
