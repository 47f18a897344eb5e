"""Hooks: user functions called when tasks are submitted, start, succeed, fail, retry or
are cancelled (``@sched.on("failed")``, ``@sched.on("failed", handler="email.send")``).

They run off the hot path, on one hook thread fed by a ``SimpleQueue``: the engine only
enqueues a small frozen :class:`TaskEvent`, and only while at least one hook is registered
(``Hooks.active``), so a node without hooks pays nothing. One thread calls every hook in
the order the events were enqueued; each event of a task is enqueued by the thread that
caused it, before anything can cause the next one, so a task's events arrive in order.
A hook that raises is logged with its traceback and the next event is handled as usual.

The thread body is :meth:`Hooks.step`; tests call it directly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import check_name
from .errors import ConfigError
from .handlers import _is_coroutine_function, check_handler_callable

log = logging.getLogger("jobsched")

SUBMITTED = "submitted"
STARTED = "started"
SUCCEEDED = "succeeded"
FAILED = "failed"
RETRYING = "retrying"
CANCELLED = "cancelled"
EVENT_KINDS = (SUBMITTED, STARTED, SUCCEEDED, FAILED, RETRYING, CANCELLED)

#: How long the hook thread waits for an event before it looks at its stop flag again.
IDLE_WAIT = 0.25


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """Something that happened to a task, as hooks receive it.

    ``attempt`` is the attempt that ran (0 for ``submitted``); ``at`` is epoch seconds.
    ``error`` is one line (the exception, e.g. ``"ValueError: bad address"``) and
    ``traceback`` the full text stored with the task; ``result`` is the stored JSON text,
    cut to 500 characters; ``reason`` as in ``show`` (``error``, ``timed_out``,
    ``orphaned``, ``handler_missing``, ``cancelled``); ``retry_at`` (epoch seconds) for
    ``retrying``.
    """

    kind: str
    task_id: int
    handler: str
    category: str
    attempt: int
    at: float
    reason: str | None = None
    error: str | None = None
    traceback: str | None = None
    result: str | None = None
    retry_at: float | None = None


Hook = Callable[[TaskEvent], object]


class Hooks:
    """The registered hooks of one scheduler, their queue and their thread."""

    def __init__(self, threaded: bool = True) -> None:
        self.threaded = threaded
        self._hooks: dict[tuple[str, str | None], list[Hook]] = {}
        self._queue: queue.SimpleQueue[TaskEvent] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._open = False
        self._closing = threading.Event()
        #: True once a hook is registered (until closed): the engine enqueues events
        #: only then. Read without a lock on the hot path.
        self.active = False

    # --- registering -------------------------------------------------------------------
    def add(self, kind: str, fn: Hook, handler: str | None = None) -> None:
        """Call ``fn(event)`` for every event of ``kind`` (of ``handler`` only, if given)."""
        if kind not in EVENT_KINDS:
            raise ConfigError(
                "hook event", kind, "is not an event kind", f"Use one of {', '.join(EVENT_KINDS)}"
            )
        if handler is not None:
            check_name("handler", handler)
        what = f"hook for {kind!r}"
        check_handler_callable(what, fn)
        if _is_coroutine_function(fn):
            raise ConfigError(
                what,
                fn,
                "is an async function: hooks are called on the hook thread, not awaited",
                "Use a plain function (it may start work of its own)",
            )
        with self._lock:
            self._hooks.setdefault((kind, handler), []).append(fn)
            self.active = True
            if self._open and self._thread is None and self.threaded:
                self._start_thread()

    def hooks_for(self, kind: str, handler: str) -> list[Hook]:
        """The hooks an event of ``kind`` for ``handler`` calls: global ones first."""
        hooks = self._hooks
        return [*hooks.get((kind, None), ()), *hooks.get((kind, handler), ())]

    # --- the engine's side -------------------------------------------------------------
    def emit(self, event: TaskEvent) -> None:
        """Queue ``event`` for the hook thread (the engine checks ``active`` first)."""
        if self.active:
            self._queue.put(event)

    def pending(self) -> int:
        """Events queued and not yet handled."""
        return self._queue.qsize()

    # --- the hook thread ---------------------------------------------------------------
    def step(self, wait: float = 0.0) -> bool:
        """Handle one queued event (waiting up to ``wait`` s for one); False if none."""
        try:
            event = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
        except queue.Empty:
            return False
        for fn in self.hooks_for(event.kind, event.handler):
            try:
                fn(event)
            except BaseException:  # noqa: BLE001 - not even SystemExit stops the hooks
                log.exception(
                    "hook %s raised on %s of task %d (%s)",
                    getattr(fn, "__qualname__", repr(fn)),
                    event.kind,
                    event.task_id,
                    event.handler,
                    extra={
                        "task_id": event.task_id,
                        "handler": event.handler,
                        "category": event.category,
                        "event": event.kind,
                    },
                )
        return True

    def open(self) -> None:
        """The scheduler started: run hooks from now on, on a thread started once a hook
        is registered (with ``threaded=False`` the caller steps instead)."""
        with self._lock:
            self._open = True
            if self.active and self._thread is None and self.threaded:
                self._start_thread()

    def close(self, timeout: float) -> int:
        """Handle what is queued for up to ``timeout`` s, then stop; returns the number
        of events dropped. Later events are not queued."""
        with self._lock:
            self._open = False
            thread = self._thread
        deadline = time.monotonic() + timeout
        if thread is not None:
            self._closing.set()
            thread.join(timeout=timeout)
        else:
            while time.monotonic() < deadline and self.step():
                pass
        self.active = False
        dropped = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        if dropped:
            log.warning("stop: %d task events were not given to hooks in time", dropped)
        return dropped

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="jobsched-hooks", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        # Stopping: drain what is queued, then leave (close() bounds the wait by joining).
        while True:
            try:
                handled = self.step(IDLE_WAIT)
            except BaseException:  # noqa: BLE001 - the thread must not die silently
                log.exception("the hook thread failed; hooks are no longer called")
                return
            if not handled and self._closing.is_set():
                return
