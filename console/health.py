"""The health numbers the console adds to a snapshot, per category: the age of the oldest
waiting task, tasks that succeeded and failed over the last minute and the last hour, and
an estimate to drain.

The last minute comes from successive snapshots (their counts are the store's, so they
agree between a local node and an attached view); the last hour from the history the
nodes keep in the store (``core/history.py``: its full minutes, every node, across
restarts); the oldest waiting age from the store's queue heads, read with the task list,
and from the heads of a node's FIFOs that its snapshot reports.
Pure bookkeeping: the app feeds it and reads it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from jobsched.core import CategorySnapshot, Snapshot
from jobsched.core.history import History

from .widgets.categories import Health

WINDOW = 60.0  # seconds: "last minute"
HOUR = 60  # minutes of history: "last hour"


class HealthTracker:
    """Remembers ``(monotonic time, succeeded, failed)`` per category over :data:`WINDOW`,
    and the latest history read."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, dict[str, tuple[int, int]]]] = deque()
        self.heads: dict[str, float] = {}  # category -> run_at of its next queued task
        self.history: History | None = None

    def add(self, mono: float, snap: Snapshot) -> None:
        self._samples.append((mono, {c.name: (c.succeeded, c.failed) for c in snap.categories}))
        while len(self._samples) > 2 and mono - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def set_heads(self, heads: Mapping[str, float]) -> None:
        self.heads = dict(heads)

    def set_history(self, history: History) -> None:
        self.history = history

    def waiting(self, now: float, cat: CategorySnapshot) -> float | None:
        """Seconds the longest-waiting due task of ``cat`` has waited: the older of the
        store's queue head and what the snapshot saw (a node's own snapshot also counts
        the head of its FIFO: claimed tasks that no worker has started, which ``queued``
        counts too); None when nothing waits."""
        head = self.heads.get(cat.name)
        ages = [age for age in (None if head is None else max(0.0, now - head), cat.latency)
                if age is not None]  # fmt: skip
        return max(ages) if ages else None

    def health(self, snap: Snapshot) -> dict[str, Health]:
        first = self._samples[0][1] if len(self._samples) > 1 else None
        last = self._samples[-1][1] if self._samples else {}
        out: dict[str, Health] = {}
        for c in snap.categories:
            finished = failed = None
            if first is not None and c.name in first and c.name in last:
                finished = max(0, last[c.name][0] - first[c.name][0])
                failed = max(0, last[c.name][1] - first[c.name][1])
            hour = self.history.totals(c.name, HOUR) if self.history is not None else None
            out[c.name] = Health(
                waiting=self.waiting(snap.at, c),
                finished_minute=finished,
                failed_minute=failed,
                drain=c.queued / c.rate if c.rate > 0 else None,
                finished_hour=None if hour is None else hour[0],
                failed_hour=None if hour is None else hour[1],
            )
        return out
