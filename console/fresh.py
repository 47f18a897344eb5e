"""``--fresh`` (``jobsched run``, ``jobsched console``): start on a new, empty database.

The old SQLite file is moved aside, never deleted: ``jobs.db`` and its companions
(``-wal``, ``-shm``, ``.starts``) become ``jobs.db.old-<UTC time>...``, and the message says
where, so the previous run's tasks, priorities, pins and failures can still be read with
``--db``. A node running on the file refuses the move (exit 4). On PostgreSQL there is no
file to move: ``--fresh`` is refused with what to do instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from jobsched.core import InvalidInputError

COMPANIONS = ("", "-wal", "-shm", ".starts")


def start_fresh(db: str, say: Callable[[str], None]) -> str | None:
    """Move the SQLite database ``db`` aside; return the new name (None: nothing to move)."""
    from jobsched.storage import open_store
    from jobsched.storage.postgres.url import is_postgres_url
    from jobsched.storage.sqlite.nodelock import exclusive

    if is_postgres_url(db):
        raise InvalidInputError(
            "--fresh",
            db,
            "applies to SQLite files only",
            "On PostgreSQL, point ?schema= at a new schema, or drop the old one",
        )
    path = str(open_store(db).path)  # type: ignore[attr-defined]
    if not os.path.exists(path):
        say(f"jobsched: --fresh: no database at {path} yet; starting on a new one")
        return None
    with exclusive(path, path):  # a running node: NodeLockedError, exit 4
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = f"{path}.old-{stamp}"
        for suffix in COMPANIONS:
            if os.path.exists(path + suffix):
                os.replace(path + suffix, aside + suffix)
    say(f"jobsched: --fresh: moved the old database aside to {aside}; starting on a new one")
    return aside
