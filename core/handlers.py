"""Handler registration and the running task's context.

``@handler`` at module level registers into a process-wide registry; a scheduler whose
config lists the module picks those handlers up. ``@sched.handler`` registers on one
scheduler only. ``current_task()`` tells a handler which task it is running.
"""

from __future__ import annotations

import contextvars
import importlib
import inspect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .config import MAX_ATTEMPTS, check_int, check_name, check_seconds
from .errors import ConfigError, SchedulerStateError
from .limits import HandlerLimit, RateLimit, parse_rate
from .progress import ProgressReporter, make_progress

HandlerFn = Callable[[Any], Any]


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    fn: HandlerFn
    category: str | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    module: str = ""
    #: its own rate limit ("5/s", with ``burst``), drawn on in its category's claims
    rate: str | None = None
    burst: int | None = None
    #: True for an ``async def`` handler (or a callable whose ``__call__`` is one): the
    #: engine runs its coroutine to completion on the worker's event loop.
    is_async: bool = field(init=False, default=False, compare=False)
    rate_limit: RateLimit | None = field(init=False, default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", _is_coroutine_function(self.fn))
        limit = parse_rate(self.rate, self.burst, f"rate of handler {self.name!r}")
        object.__setattr__(self, "rate_limit", limit)

    @classmethod
    def of(
        cls,
        name: str,
        fn: HandlerFn,
        category: str | None,
        max_attempts: int | None,
        timeout: float | None,
        rate: str | None = None,
        burst: int | None = None,
    ) -> HandlerSpec:
        """A validated spec; ``category`` defaults to the part of ``name`` before the dot."""
        return cls(
            name,
            fn,
            category or name.split(".")[0],
            max_attempts,
            timeout,
            getattr(fn, "__module__", ""),
            rate,
            burst,
        ).validate()

    def placed(self, category: str, configured: HandlerLimit | None) -> HandlerSpec:
        """This handler in ``category``, with the configuration's rate limit for it
        (``[handlers.NAME]``) in place of its own, if there is one."""
        if configured is None:
            return replace(self, category=category)
        return replace(self, category=category, rate=configured.rate, burst=configured.burst)

    def validate(self) -> HandlerSpec:
        check_name("handler", self.name)
        if self.category is not None:
            check_name("category", self.category)
        if self.max_attempts is not None:
            check_int(f"max_attempts of handler {self.name!r}", self.max_attempts, 1, MAX_ATTEMPTS)
        check_seconds(f"timeout of handler {self.name!r}", self.timeout, allow_none=True)
        check_handler_callable(f"handler {self.name!r}", self.fn)
        return self


def check_handler_callable(what: str, fn: object) -> None:
    """Refuse what cannot run as a handler or hook: something not callable, and generator
    or async generator functions, whose call returns an iterator rather than a value
    (nothing would run until someone iterated it)."""
    if not callable(fn):
        raise ConfigError(what, fn, "is not callable", "Decorate a function")
    if _is_kind(fn, inspect.isasyncgenfunction):
        raise ConfigError(
            what,
            fn,
            "is an async generator function: calling it returns an iterator, not a value",
            "Use async def with return (not yield)",
        )
    if _is_kind(fn, inspect.isgeneratorfunction):
        raise ConfigError(
            what,
            fn,
            "is a generator function: calling it returns an iterator, not a value",
            "Return the value (e.g. a list) instead of yielding it",
        )


def _is_coroutine_function(fn: object) -> bool:
    return _is_kind(fn, inspect.iscoroutinefunction)


def _is_kind(fn: object, test: Callable[[object], bool]) -> bool:
    """``test`` (an ``inspect.is*function``) on ``fn``, which may be a function, a
    ``functools.partial`` of one, or an object whose ``__call__`` is one (which the
    ``inspect`` tests do not look into)."""
    if test(fn):
        return True
    if inspect.isroutine(fn) or isinstance(fn, type):
        return False
    return callable(fn) and test(type(fn).__call__)


_REGISTRY: dict[str, HandlerSpec] = {}
_REGISTRY_LOCK = threading.Lock()


def handler(
    name: str,
    *,
    category: str | None = None,
    max_attempts: int | None = None,
    timeout: float | None = None,
    rate: str | None = None,
    burst: int | None = None,
) -> Callable[[HandlerFn], HandlerFn]:
    """Register a handler for every scheduler whose config lists this module.

    ``category`` defaults to the part of ``name`` before the first dot; ``rate`` and
    ``burst`` limit how fast its tasks start (see ``core/limits.py``).
    """

    def decorate(fn: HandlerFn) -> HandlerFn:
        spec = HandlerSpec.of(name, fn, category, max_attempts, timeout, rate, burst)
        with _REGISTRY_LOCK:
            _REGISTRY[name] = spec
        return fn

    return decorate


def registered_in(modules: tuple[str, ...]) -> list[HandlerSpec]:
    """Handlers that the named modules registered with ``@handler``."""
    with _REGISTRY_LOCK:
        return [spec for spec in _REGISTRY.values() if spec.module in modules]


class CancelFlag:
    """Set once someone asks to cancel a claimed task. A plain flag (one per claimed
    task, so it must be cheap: an Event costs a Condition and a lock each).

    While an async handler runs, ``watch`` installs a callback that ``set`` calls (from
    the cancelling thread), so the coroutine is cancelled at once rather than polled.
    """

    __slots__ = ("_set", "_watcher")

    def __init__(self) -> None:
        self._set = False
        self._watcher: Callable[[], None] | None = None

    def set(self) -> None:
        self._set = True
        watcher = self._watcher
        if watcher is not None:
            watcher()

    def is_set(self) -> bool:
        return self._set

    def watch(self, watcher: Callable[[], None] | None) -> None:
        """Call ``watcher`` when the flag is set (None: stop). The caller checks
        ``is_set()`` after installing it: a ``set`` racing the install may call both."""
        self._watcher = watcher


class TaskContext:
    """What a running handler may know about its task."""

    __slots__ = ("id", "handler", "category", "attempt", "max_attempts", "_cancel", "_progress")

    def __init__(
        self,
        task_id: int,
        handler: str,
        category: str,
        attempt: int,
        max_attempts: int,
        cancel: CancelFlag,
        progress: ProgressReporter | None = None,
    ) -> None:
        self.id = task_id
        self.handler = handler
        self.category = category
        self.attempt = attempt
        self.max_attempts = max_attempts
        self._cancel = cancel
        self._progress = progress

    @property
    def cancelled(self) -> bool:
        """True once someone asked to cancel this task; the handler may stop early."""
        return self._cancel.is_set()

    def progress(
        self,
        fraction: float | None = None,
        *,
        done: int | None = None,
        total: int | None = None,
        note: str | None = None,
    ) -> None:
        """Report how far the task got: ``progress(0.4)``, or counts
        ``progress(done=40, total=100, note="pages")``. Cheap to call often: the node
        stores at most a few reports a second per task and always the attempt's last one;
        ``jobsched show``, the console's task detail and worker panel show it. Bad values
        raise :class:`~.errors.InvalidInputError`; a store error is logged, never raised.
        """
        if self._progress is None:  # a context built outside a worker: validate only
            make_progress(self.attempt, fraction, done, total, note, 0.0)
            return
        self._progress.report(fraction, done, total, note)

    def __repr__(self) -> str:
        return f"TaskContext(id={self.id}, handler={self.handler!r}, attempt={self.attempt})"


# A context variable rather than a thread-local: an async handler's coroutine, the tasks
# it creates and ``asyncio.to_thread`` calls all inherit it; each worker thread has its own.
CURRENT_TASK: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "jobsched_current_task", default=None
)


def current_task() -> TaskContext:
    """The task the calling handler runs (also inside an async handler and the tasks and
    threads it starts with asyncio). Raises outside a handler."""
    ctx = CURRENT_TASK.get()
    if ctx is None:
        raise SchedulerStateError(
            "current_task()",
            None,
            "was called outside a running handler",
            "Call it from inside a handler",
        )
    return ctx


def import_handler_modules(modules: Iterable[str]) -> None:
    """Import the configured handler modules; any way one fails to import (an ImportError,
    a SyntaxError, an exception it raises, even ``sys.exit()``) is a ConfigError naming
    the module and what went wrong."""
    for module in modules:
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a module may raise anything
            raise ConfigError(
                "handlers module",
                module,
                f"cannot be imported ({type(exc).__name__}: {exc})",
                "Fix the module or check the [scheduler] handlers list",
            ) from exc
