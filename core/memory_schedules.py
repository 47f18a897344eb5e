"""The memory store's recurring-schedule rows: pause flags and claimed ticks
(:class:`~.memory_store.MemoryStore` inherits it). A tick is claimed once per schedule,
under the store's lock, together with the task it inserts; a clock tick at or before the
newest one claimed is refused, so a pruned tick can never be claimed again."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .memory_book import MemoryBook
from .schedule_spec import ScheduleState
from .task import NewTask, TaskRecord


@dataclass(frozen=True, slots=True)
class _Tick:
    task_id: int | None
    claimed_at: float


class MemorySchedules(MemoryBook):
    def __init__(self) -> None:
        super().__init__()
        self._schedules: dict[str, tuple[bool, float]] = {}  # name -> (paused, since)
        self._ticks: dict[str, dict[tuple[float, bool], _Tick]] = {}
        self._newest: dict[str, float] = {}  # name -> its newest clock tick (never pruned)

    def _insert_locked(self, tasks: Sequence[NewTask], now: float) -> list[int]:
        raise NotImplementedError

    def _task_row(self, task_id: int) -> TaskRecord | None:
        raise NotImplementedError

    def ensure_schedules(self, names: Sequence[str], now: float) -> None:
        with self._lock:
            for name in names:
                self._schedules.setdefault(name, (False, now))

    def set_schedule_paused(self, name: str, paused: bool, now: float) -> None:
        with self._lock:
            since = self._schedules.get(name, (False, now))[1]
            self._schedules[name] = (bool(paused), since if paused else now)

    def claim_tick(
        self, name: str, tick: float, task: NewTask | None, now: float, *, manual: bool = False,
        skip_from: float | None = None,
    ) -> int | None:  # fmt: skip
        with self._lock:
            ticks = self._ticks.setdefault(name, {})
            if (tick, manual) in ticks:
                return None
            if not manual and tick <= self._newest.get(name, -math.inf):
                return None  # at or before the newest clock tick: claimed, or pruned
            task_id = self._insert_locked([task], now)[0] if task is not None else None
            ticks[(tick, manual)] = _Tick(task_id, now)
            if not manual:
                self._newest[name] = tick
            return task_id or 0

    def prune_ticks(self, before: float, limit: int) -> int:
        """Delete the oldest tick rows claimed and ticking before ``before``, except each
        schedule's newest clock tick and newest run (see TaskStore.prune_ticks)."""
        deleted = 0
        with self._lock:
            for ticks in self._ticks.values():
                if deleted >= limit:
                    break
                cutoff = self._tick_cutoff(ticks, before)
                old = sorted(
                    k for k, row in ticks.items() if k[0] < cutoff and row.claimed_at < before
                )
                for key in old[: limit - deleted]:
                    del ticks[key]
                    deleted += 1
        return deleted

    @staticmethod
    def _tick_cutoff(ticks: dict[tuple[float, bool], _Tick], before: float) -> float:
        """Rows at or after the newest clock tick, or the newest run, are kept."""
        clock = [t for t, manual in ticks if not manual]
        runs = [t for (t, _), row in ticks.items() if row.task_id]
        return min([before, *(max(found) for found in (clock, runs) if found)])

    def schedule_states(self, names: Iterable[str] | None = None) -> dict[str, ScheduleState]:
        with self._lock:
            wanted = list(self._schedules) if names is None else list(names)
            return {n: self._state(n) for n in wanted if n in self._schedules}

    def _state(self, name: str) -> ScheduleState:
        paused, since = self._schedules[name]
        ticks = self._ticks.get(name, {})
        clock_ticks = [t for t, manual in ticks if not manual]
        # The newest run by its tick, as the SQL stores order it.
        runs = [(t, row.claimed_at, row.task_id) for (t, _), row in ticks.items() if row.task_id]
        last_run = max(runs, default=None)
        record = self._task_row(last_run[2]) if last_run and last_run[2] else None
        return ScheduleState(
            name=name,
            paused=paused,
            since=since,
            last_tick=max(clock_ticks, default=None),
            last_run_at=last_run[0] if last_run else None,
            last_task_id=last_run[2] if last_run else None,
            last_state=record.state if record else None,
        )
