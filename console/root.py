"""The composition root: the one place that turns :class:`Settings` into engine objects.

The CLI, the Textual console and the tests all build their client or scheduler here, so
every process of a deployment wires the store, the config and the handlers the same way.
Nothing here opens the database: a :class:`core.Client` is opened by its caller (see
:func:`open_client`), a :class:`core.Scheduler` by ``start()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jobsched.core import Client, Scheduler, TaskStore

from .settings import Settings


def build_store(settings: Settings) -> TaskStore:
    """The store named by ``settings.db`` (a path or URL); not opened yet."""
    from jobsched.storage import open_store

    return open_store(settings.db)


def build_client(settings: Settings, *, store: TaskStore | None = None, **kw: Any) -> Client:
    """A client that validates and writes to the store without running any worker.

    Used by every CLI command that is not the node, and by the console in attach mode.
    The caller opens the store with ``client.store.open(None)`` (or uses :func:`open_client`).
    """
    return Client(settings.config, store if store is not None else build_store(settings), **kw)


def build_scheduler(settings: Settings, *, store: TaskStore | None = None, **kw: Any) -> Scheduler:
    """A scheduler for this process (``jobsched run``, the console); ``start()`` opens
    the store and takes the node lock. ``kw`` goes to :class:`core.Scheduler`
    (``clock``, ``node_id``, ``threaded``, ``rng``)."""
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
