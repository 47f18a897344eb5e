"""Running an async handler's coroutine to completion on the worker thread's event loop.

Each thread that runs an async handler keeps one event loop of its own, made on first use
and closed when the thread ends. A worker still runs one task at a time, so async handlers
count against the worker budget exactly like sync ones; what asyncio adds is that a
coroutine can really be stopped:

- at its timeout the coroutine is cancelled (``CancelledError`` at its ``await``) and the
  run raises :class:`HandlerTimedOut`; the worker is kept, not abandoned;
- when the task's cancel flag is set (from any thread), the coroutine is cancelled at once
  and the run raises ``asyncio.CancelledError``.

Tasks the handler created and did not await are cancelled when it returns, as
``asyncio.run`` does, so nothing of one task runs on during the worker's next task.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

from .handlers import CancelFlag

T = TypeVar("T")


class HandlerTimedOut(Exception):
    """An async handler ran past its timeout and was cancelled."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g} s; the coroutine was cancelled")
        self.timeout = timeout


class _ThreadLoop:
    """Holds this thread's loop; the thread-local dies with the thread, and closes it."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_closed():
            self.loop.close()


_local = threading.local()


def thread_loop() -> asyncio.AbstractEventLoop:
    """The calling thread's own event loop (made on first use)."""
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _local.holder = _ThreadLoop()
    return holder.loop


def run_awaitable(
    awaitable: Awaitable[T],
    timeout: float | None,
    cancel: CancelFlag,
    limit: float | None = None,
) -> T:
    """Await ``awaitable`` on this thread's loop and return its value.

    Raises :class:`HandlerTimedOut` past ``timeout`` seconds (reported as ``limit``, the
    task's whole timeout, when ``timeout`` is only what was left of it),
    ``asyncio.CancelledError``
    if ``cancel`` is set meanwhile, and whatever the awaitable raises. The context
    variables of the calling thread (``current_task()``) are visible inside.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # none: the normal case on a worker thread
        pass
    else:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()  # never awaited: close it rather than leak a warning
        raise RuntimeError(
            "an async handler cannot run on a thread whose event loop is running (a "
            "stepped scheduler driven from async code); call step() in another thread, "
            "e.g. with asyncio.to_thread"
        )
    loop = thread_loop()
    try:
        return loop.run_until_complete(_guarded(awaitable, timeout, cancel, limit or timeout))
    finally:
        _cancel_leftovers(loop)


async def _guarded(
    awaitable: Awaitable[T], timeout: float | None, cancel: CancelFlag, limit: float | None
) -> T:
    task = asyncio.current_task()
    assert task is not None  # run_until_complete wraps this coroutine in a Task
    loop = asyncio.get_running_loop()

    def cancel_now() -> None:  # called by CancelFlag.set, from the cancelling thread
        with contextlib.suppress(RuntimeError):  # the loop closed: the run is over anyway
            loop.call_soon_threadsafe(task.cancel)

    cancel.watch(cancel_now)
    try:
        if cancel.is_set():  # set before the watcher was installed
            task.cancel()
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                value = await awaitable
        except TimeoutError:
            if scope.expired():
                raise HandlerTimedOut(limit or 0.0)  # noqa: B904 - keep the cancel's trace
            raise  # the handler's own TimeoutError: an ordinary failure
        if scope.expired():  # it swallowed the CancelledError, then returned late
            raise HandlerTimedOut(limit or 0.0)
        return value
    finally:
        cancel.watch(None)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    gathered: Any = asyncio.gather(*pending, return_exceptions=True)
    loop.run_until_complete(gathered)
