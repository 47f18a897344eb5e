"""The dispatcher: moves due tasks from the store into the FIFOs.

One step (:meth:`Dispatcher.run_once`) promotes due delayed tasks, picks up other
processes' writes (on a shared store, every poll interval), gives up on workers past
their deadline, and claims tasks of every category that wants some, up to its window.
The thread sleeps on the :class:`~.timer.Timer` between steps: woken by the earliest
delayed task, a worker that wants its FIFO refilled, a submit, or a store notification.

It also owns the direct hand-off (:meth:`insert_direct`): a submit that finds nothing
older of its category waiting inserts its task already claimed, straight into the FIFO.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from .claims import Claims, prefetch
from .clock import Clock
from .config import SchedulerConfig
from .errors import StorageError
from .hooks import Hooks
from .live_settings import LiveSettings
from .outage import OutageTracker
from .pool import WorkerPool
from .rate_gate import RateGate
from .signals import TaskSignals
from .store import TaskStore
from .task import RUNNING, NewTask
from .timer import Timer
from .waiters import Waiters
from .workers import WorkerPools

log = logging.getLogger("jobsched")

STORE_RETRY_WAIT = 0.5


class Dispatcher:
    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        config: SchedulerConfig,
        node_id: str,
        pools: WorkerPools,
        claims: Claims,
        settings: LiveSettings,
        waiters: Waiters,
        timer: Timer,
        request_rebalance: Callable[[str], None],
        *,
        signals: TaskSignals | None = None,
        outage: OutageTracker | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._poll_interval = config.poll_interval
        self._prefetch_cap = config.prefetch
        self._node_id = node_id
        self._pools = pools
        self._claims = claims
        self._settings = settings
        self._waiters = waiters
        self._request_rebalance = request_rebalance
        self._signals = signals or TaskSignals(Hooks(threaded=False))
        #: logs a store outage once per change of state
        self.outage = outage or OutageTracker("dispatcher", "the store", monotonic=clock.monotonic)
        #: what the thread sleeps on: the earliest delayed task, task deadlines, wake-ups
        self.timer = timer
        #: rate limits: claims of a limited category go through the store's token bucket
        self.gate = RateGate(settings, clock.monotonic, timer.schedule_mono)
        #: False until started and again from stop on: nothing is claimed then
        self.running = False
        self._lock = threading.Lock()  # guards _wanted and _next_due
        self._wanted: set[str] = set()
        # A wake-up was sent since the step last took _wanted (want() need not send one).
        self._wake_sent = False
        self._next_due: float | None = None
        self._next_poll = 0.0
        self._stopping = threading.Event()
        # The direct hand-off: categories whose due tasks in the store are all claimed,
        # as of this node's last claim; guarded by _direct_lock, which is also held while
        # claiming, pausing and stopping empty or fill a FIFO.
        self._direct_lock = threading.Lock()
        self._nothing_waiting: set[str] = set()
        # Categories whose last claim reported an error (it may have committed).
        self._claim_doubt: set[str] = set()

    # --- wake signals ------------------------------------------------------------------
    def want(self, categories: Iterable[str]) -> None:
        """Claim for these categories on the next step, and wake the thread for it (once:
        until the step takes them, asking again for the same categories is free)."""
        asked = set(categories)  # read once: it may be an iterator
        with self._lock:
            if self._wake_sent and self._wanted.issuperset(asked):
                return
            self._wanted.update(asked)
            self._wake_sent = True
        self.timer.wake()

    def refill(self, pool: WorkerPool) -> None:
        """A worker finished: refill at half the window (as of the category's last claim),
        before the FIFO runs dry, unless the store has nothing waiting."""
        category = pool.category
        if category in self._nothing_waiting or len(pool.fifo.queue) > pool.refill_at:
            return
        if self._wake_sent and category in self._wanted:
            return  # asked since the step last took _wanted: that step's claim comes after
        self.want((category,))

    def something_waiting(self, categories: Iterable[str]) -> None:
        """Tasks of ``categories`` were queued in the store (committed): until this
        dispatcher has claimed them, submits of those categories take the claim path."""
        with self._direct_lock:
            self._nothing_waiting.difference_update(categories)

    def retry_now(self, categories: set[str]) -> None:
        self.something_waiting(categories)
        self.want(categories)

    def schedule_due(self, run_at: float) -> None:
        """Wake at ``run_at`` unless an earlier wake-up is already set. Only the earliest
        stored ``run_at`` needs a timer entry: when it fires the step promotes what is due
        and asks the store for the next one, so the heap stays small."""
        with self._lock:
            if self._next_due is not None and self._next_due <= run_at:
                return
            self._next_due = run_at
        self.timer.schedule_at(run_at)

    def seed_timer(self) -> None:
        nxt = self._store.next_run_at()
        if nxt is not None:
            self.schedule_due(nxt)

    def hint(self) -> None:
        """Another process may have written work (a store notification): look now."""
        self._next_poll = 0.0
        self.timer.wake()

    # --- submits -------------------------------------------------------------------------
    def tasks_inserted(self, rows: Sequence[NewTask], now: float) -> None:
        """Rows were committed by the claim path (``now``: the time the store used)."""
        later = [row.run_at for row in rows if row.run_at > now]
        if later:
            self.schedule_due(min(later))
        due = {row.category for row in rows if row.run_at <= now}
        if due:
            self.something_waiting(due)
            self.want(due)
            pools = self._pools.pools
            if any(pools[c].target == 0 and not self._settings.paused(c) for c in due):
                self._request_rebalance("starved")

    def insert_direct(self, rows: Sequence[NewTask]) -> list[int] | None:
        """The direct hand-off: insert due tasks already claimed and put them straight
        into their FIFO, saving the claim transaction and a wake-up of this thread.

        Only when that keeps FIFO order and the window: one category, due now, no dedup
        key, not paused, workers to run them, room in the window, nothing older of the
        category waiting in the store (as of this node's last claim; every path that
        queues a task in the store clears that) and no delayed task due but not yet
        promoted. Tasks another process queues meanwhile are claimed on the next poll,
        behind the ones handed over here. A store that several nodes claim from always
        takes the claim path. Returns None to say "use the claim path"; the store's
        errors propagate, as they would from ``insert``.
        """
        if self._store.multi_node:
            return None
        category = rows[0].category
        now = self._clock.now()
        for row in rows:
            if row.category != category or row.dedup_key is not None or row.run_at > now:
                return None
        pool = self._pools.pools[category]
        with self._direct_lock:
            if (
                not self.running
                or not pool.accepting
                or category not in self._nothing_waiting
                or (self._next_due is not None and self._next_due <= now)  # not promoted yet
                or self._settings.paused(category)
                or pool.target == 0
                or self.window(pool) - pool.in_flight() < len(rows)
            ):
                return None
            try:
                tasks = self._store.insert_claimed(rows, now, self._node_id)
            except Exception:
                # Not acknowledged, but the rows may have committed (an error reported
                # after COMMIT): they are adopted, as after a failed claim, and until
                # they are, later submits must not overtake them.
                self._claim_doubt.add(category)
                self._nothing_waiting.discard(category)
                self.want((category,))
                raise
            self._claims.add(tasks)
            ids = [task.id for task in tasks]
            self._signals.submitted(rows, ids, now)  # before a worker can start them
            pool.fifo.put_many(tasks)
        return ids

    @property
    def claim_lock(self) -> threading.Lock:
        """Held while claiming and handing over: a submit that holds it is not
        overtaken by a claim (hooks see ``submitted`` before ``started``)."""
        return self._direct_lock

    # --- settings ------------------------------------------------------------------------
    def apply_settings(self) -> None:
        """Read the operator's settings again: give back what newly paused categories
        hold in their FIFO, and claim for resumed ones."""
        paused, resumed = self._settings.reload()
        with self._direct_lock:  # a limited category always takes the claim path
            self._nothing_waiting.difference_update(self.gate.limited())
        for category in paused:
            pool = self._pools.pools[category]
            with self._direct_lock:
                self._nothing_waiting.discard(category)
                drained = pool.drain()
            if not drained:
                continue
            self._claims.forget(t.id for t in drained)
            try:
                self._store.release([t.id for t in drained], self._node_id)
            except Exception:
                # They stay claimed by this node: put back in the FIFO (adopted) when
                # the category resumes, or recovered by the next start.
                self._claim_doubt.add(category)
                log.exception(
                    "pause: could not give back %d claimed tasks of %s; they run when it resumes",
                    len(drained),
                    category,
                )
        self.want(self._pools.pools)  # resumed, or a limit set or lifted: claim (or hold) anew

    # --- the step ------------------------------------------------------------------------
    def run_once(self) -> None:
        """Promote due tasks, apply other processes' changes, time out, claim into FIFOs."""
        now = self._clock.now()
        mono = self._clock.monotonic()
        poll = self._store.shared and mono >= self._next_poll
        if self.timer.pop_due() or poll:
            self._promote(now)
        if poll:
            self._next_poll = mono + self._poll_interval
            self._poll()
        self._pools.expire(mono)
        with self._lock:
            wanted, self._wanted = self._wanted, set()
            self._wake_sent = False
        for category in wanted | self.gate.due():
            if not self._feed(category, now):
                with self._lock:
                    self._wanted.add(category)

    def _promote(self, now: float) -> None:
        pools = self._pools.pools
        if self._store.promote_due(now):
            self.something_waiting(pools)
            self.want(pools)
            if any(p.target == 0 and not self._settings.paused(c) for c, p in pools.items()):
                self._request_rebalance("starved")  # due work may be in a pool of 0
        self._next_due = None
        self.seed_timer()

    def _poll(self) -> None:
        """What other processes wrote: settings, cancel requests, tasks."""
        if self._store.settings_version() != self._settings.version:
            self.apply_settings()
            self._request_rebalance("operator")
            # Another process may have cancelled a task someone here waits for, and only
            # this process's completer wakes waiters: let them read again.
            self._waiters.notify_all()
        self._claims.request_cancel(self._store.cancel_requests(self._node_id))
        with self._lock:
            self._wanted.update(self._pools.pools)

    def _feed(self, category: str, now: float) -> bool:
        """Claim into the FIFO up to its window; False if the window filled (more may wait)."""
        pool = self._pools.pools[category]
        if self._settings.paused(category) or not self.running or pool.target == 0:
            return True
        window = self.window(pool)
        pool.refill_at = window // 2
        room = window - pool.in_flight()
        if room <= 0:
            return True
        with self._direct_lock:  # a direct submit now would jump ahead of this claim
            if category in self._claim_doubt:  # under the lock: no direct row half-registered
                self._adopt_lost_claims(category)
            room = window - pool.in_flight()
            if room <= 0 or not pool.accepting or self._settings.paused(category):
                return True
            limited = self.gate.is_limited(category)
            try:
                if limited:  # held back for want of tokens: the gate sets a wake-up
                    tasks = self.gate.claim(self._store, category, room, self._node_id, now)
                else:
                    tasks = self._store.claim(category, room, self._node_id, now)
            except Exception:
                # The claim may have committed even though it reported an error (a
                # connection lost after COMMIT): look for such rows before claiming again.
                self._claim_doubt.add(category)
                raise
            self._claims.add(tasks)
            pool.fifo.put_many(tasks)
            if len(tasks) < room and not self._store.multi_node and not limited:
                self._nothing_waiting.add(category)
            else:  # the window filled: more may wait (e.g. queued by another process)
                self._nothing_waiting.discard(category)
        return len(tasks) < room

    def window(self, pool: WorkerPool) -> int:
        """How many claimed tasks a category may hold: each worker's current task plus up
        to ``prefetch`` waiting per worker (see :func:`prefetch`). A larger window claims
        in bigger batches (fewer transactions); the start journal keeps a crash from
        charging the waiting ones an attempt, and a graceful stop gives them back."""
        limited = self.gate.is_limited(pool.category)  # claims only for free workers
        return pool.target * (1 + (0 if limited else self.prefetch(pool)))

    def prefetch(self, pool: WorkerPool) -> int:
        return prefetch(pool.avg_run, self._prefetch_cap)

    def _adopt_lost_claims(self, category: str) -> None:
        """Put into the FIFO the rows this node claimed without hearing back."""
        rows = self._store.list_tasks(state=RUNNING, category=category, limit=100_000)
        lost = sorted(
            (r for r in rows if r.owner == self._node_id and r.id not in self._claims),
            key=lambda r: r.id,
        )
        self._claims.add(lost)
        self._pools.pools[category].fifo.put_many(lost)
        self._claim_doubt.discard(category)
        if lost:
            log.warning(
                "adopted %d tasks claimed by a write that reported an error: %s",
                len(lost),
                [t.id for t in lost],
            )

    # --- the thread ----------------------------------------------------------------------
    def loop(self) -> None:
        """The thread body: one step, then sleep on the timer, until :meth:`stop`."""
        while not self._stopping.is_set():
            try:
                self.run_once()
                self.outage.ok()
            except StorageError as exc:
                self.outage.failed(exc)
                self._stopping.wait(STORE_RETRY_WAIT)
            except Exception:
                log.exception("dispatcher step failed; retrying")
                self._stopping.wait(STORE_RETRY_WAIT)
            self.timer.wait(self._poll_interval)

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        """Stop claiming and end the thread's loop (it wakes at once)."""
        self.running = False
        self._stopping.set()
        self.timer.wake()

    def close(self, bounded: Callable[[Callable[[], Any], str], Any] | None = None) -> list[int]:
        """At stop, once the thread has ended: find the claims that reported an error,
        then stop the hand-off and the workers' intake and empty the FIFOs; returns the
        ids that were waiting in them (to give back). ``bounded(fn, what)`` runs each
        store call within what is left of the stop."""
        for category in list(self._claim_doubt):
            try:
                with self._direct_lock:  # no direct submit half-registered meanwhile
                    adopt = partial(self._adopt_lost_claims, category)
                    if bounded is None:
                        adopt()
                    else:
                        bounded(adopt, "adopt claims")
            except Exception:
                log.exception(
                    "stop: could not look for claims of %s; the next start recovers them",
                    category,
                )
        with self._direct_lock:
            self._nothing_waiting.clear()
            return self._pools.drain()
