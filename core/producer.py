"""``Client.connect``: a client for a process that only submits and waits.

Such a process imports no handler code: what a handler name means comes from the live
nodes' heartbeats (``validate="nodes"``, :class:`~.catalog.NodeDirectory`) or is taken on
trust (``validate="none"``, :class:`~.catalog.OpenDirectory`). With no node in the
process, its waits are woken by the store's commits (:mod:`.commits`).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from .catalog import Directory, NodeDirectory, OpenDirectory
from .clock import Clock, SystemClock
from .config import CategoryConfig, SchedulerConfig
from .errors import ConfigError, InvalidInputError
from .store import TaskStore

if TYPE_CHECKING:
    from .client import Client

VALIDATE = ("nodes", "none")
#: The configuration of a producer's client connected without one: it resolves names
#: through its directory, so its categories are never consulted.
_NO_CONFIG = SchedulerConfig(workers=1, categories={"default": CategoryConfig()})


def connect(
    cls: type[Client],
    db: str | os.PathLike[str] | TaskStore,
    *,
    validate: str,
    config: SchedulerConfig | None,
    clock: Clock | None,
) -> Client:
    """See :meth:`Client.connect`."""
    if validate not in VALIDATE:
        raise ConfigError(
            "validate",
            validate,
            "is not a validation mode",
            "Use 'nodes' (the handlers live nodes publish) or 'none' (any name)",
        )
    clock = clock or SystemClock()
    store, owns = _store(db)
    directory: Directory
    if validate == "nodes":
        beat = (config or SchedulerConfig()).heartbeat_interval
        directory = NodeDirectory(
            store.nodes, clock.now, clock.monotonic, live_after=3 * beat + 1.0
        )
    else:
        directory = OpenDirectory()
    try:
        return cls(
            config or _NO_CONFIG,
            store,
            clock,
            directory=directory,
            configured=config is not None,
            owns_store=owns,
        )
    except BaseException:
        if owns:
            store.close()
        raise


def _store(db: object) -> tuple[TaskStore, bool]:
    """The store ``db`` names (opened here: the client owns it) or is (the caller's)."""
    if isinstance(db, (str, os.PathLike)):
        # The stores live above the engine: loaded only when asked to open one by name.
        store: TaskStore = importlib.import_module("jobsched.storage").open_store(db)
        store.open(None)
        return store, True
    if isinstance(db, TaskStore):
        return db, False
    raise InvalidInputError(
        "database",
        db,
        "is neither a path, a URL nor an open store",
        "Pass e.g. 'jobs.db' or 'postgresql://user@host/db'",
    )
