"""The composition root: the one place that turns :class:`Settings` into engine objects.

The CLI, the Textual console and the tests all build their client or scheduler here, so
every process of a deployment wires the store, the config and the handlers the same way.
Nothing here opens the database: a :class:`core.Client` is opened by its caller (see
:func:`open_client`), a :class:`core.Scheduler` by ``start()``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jobsched.core import Client, ConfigError, Scheduler, TaskStore

from .settings import Settings


def build_store(settings: Settings) -> TaskStore:
    """The store named by ``settings.db`` (a path or URL); not opened yet."""
    from jobsched.storage import open_store

    return open_store(settings.db)


def import_handlers(settings: Settings) -> None:
    """Import the configuration's handler modules, looking in the working directory, then
    in the config file's directory, then on the usual Python path.

    As with ``celery -A`` and ``huey_consumer``, ``handlers = ["myjobs"]`` finds
    ``myjobs.py`` beside the command. The directories stay first on ``sys.path`` for the
    life of the process, so a handler module can import the modules beside it. A module
    that is not found raises a ConfigError that lists every directory searched.
    """
    for path in reversed(settings.handler_paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    for module in settings.config.handlers:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing = exc.name or module
            if module != missing and not module.startswith(missing + "."):
                raise ConfigError(
                    "handlers module",
                    module,
                    f"imports {missing!r}, which is not installed ({exc})",
                    f"Install {missing} in this environment",
                ) from exc
            searched = ", ".join(dict.fromkeys(p for p in sys.path if p))
            raise ConfigError(
                "handlers module",
                module,
                f"was not found; searched {searched}",
                f"Put {module.replace('.', '/')}.py in the working directory or beside the "
                "config file, install it, or fix the [scheduler] handlers list",
            ) from exc
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a module may raise anything
            # A syntax error, an exception at import, even sys.exit(): one line, exit 2.
            raise ConfigError(
                "handlers module",
                module,
                f"cannot be imported ({type(exc).__name__}: {exc})",
                "Fix the module or check the [scheduler] handlers list",
            ) from exc


def build_client(settings: Settings, *, store: TaskStore | None = None, **kw: Any) -> Client:
    """A client that validates and writes to the store without running any worker.

    Used by every CLI command that is not the node, and by the console in attach mode.
    The caller opens the store with ``client.store.open(None)`` (or uses :func:`open_client`).
    """
    import_handlers(settings)
    return Client(settings.config, store if store is not None else build_store(settings), **kw)


def build_scheduler(settings: Settings, *, store: TaskStore | None = None, **kw: Any) -> Scheduler:
    """A scheduler for this process (``jobsched run``, the console); ``start()`` opens
    the store and takes the node lock. ``kw`` goes to :class:`core.Scheduler`
    (``clock``, ``node_id``, ``threaded``, ``rng``)."""
    import_handlers(settings)
    return Scheduler(settings.config, store if store is not None else build_store(settings), **kw)


@contextmanager
def open_client(settings: Settings, **kw: Any) -> Iterator[Client]:
    """A client whose store is open (as a non-node process) for the ``with`` block."""
    client = build_client(settings, **kw)
    client.store.open(None)
    try:
        yield client
    finally:
        client.store.close()
