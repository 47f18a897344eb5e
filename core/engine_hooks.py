"""What a :class:`~.client.Client` tells the engine it writes for.

A node's client tells its :class:`~.link.EngineLink`; a client of a store no node of this
process runs (the CLI, a producer process) gets :class:`Detached`, whose waiters poll.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from .task import NewTask


class EngineHooks(Protocol):
    """What a :class:`Client` tells the engine it writes for, after validating.

    A client of a store no node of this process runs gets :class:`Detached`.
    """

    def insert_direct(self, rows: Sequence[NewTask]) -> list[int] | None:
        """Insert ``rows`` the engine's own way (the direct hand-off), or None to say
        "insert them into the store as usual"."""

    def insert_queued(
        self, rows: Sequence[NewTask], now: float, write: Callable[[], list[int]]
    ) -> list[int]:
        """Commit ``rows`` through ``write()`` (the store's insert, with ``now`` as its
        time) and return their ids; the engine tells its hooks they were submitted."""

    def tasks_inserted(self, rows: Sequence[NewTask], now: float) -> None:
        """``rows`` were committed, with ``now`` as the store's time."""

    def tasks_requeued(self) -> None:
        """``retry`` queued tasks again."""

    def cancel_answered(self, answers: Mapping[int, str]) -> None:
        """``cancel`` answered, per id (see the store's CANCEL_* answers)."""

    def settings_changed(self) -> None:
        """An operator change to a category was saved: reload and rebalance."""

    def wait_poll(self) -> float | None:
        """Seconds between reads of the store while waiting for a task; None when the
        engine wakes waiters itself (it runs every task of the store)."""


class Detached:
    """The hooks of a client no engine listens to: waiters poll the store."""

    def __init__(self, poll_interval: float) -> None:
        self._poll = poll_interval

    def insert_direct(self, rows: Sequence[NewTask]) -> list[int] | None:
        return None

    def insert_queued(
        self, rows: Sequence[NewTask], now: float, write: Callable[[], list[int]]
    ) -> list[int]:
        return write()

    def tasks_inserted(self, rows: Sequence[NewTask], now: float) -> None:
        pass

    def tasks_requeued(self) -> None:
        pass

    def cancel_answered(self, answers: Mapping[int, str]) -> None:
        pass

    def settings_changed(self) -> None:
        pass

    def wait_poll(self) -> float | None:
        return self._poll
