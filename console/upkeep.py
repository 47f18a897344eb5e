"""The store work behind ``jobsched prune``, ``check`` and ``vacuum``: each opens the
database as a plain (non-node) process for the one operation, as ``fresh.py`` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from jobsched.core import InvalidInputError
from jobsched.core.retention import BATCH, RetentionRule, prune_rule
from jobsched.core.store import CountDifference, TaskStore


@contextmanager
def _opened(db: str) -> Iterator[TaskStore]:
    from jobsched.storage import open_store

    store = open_store(db)
    store.open(None)
    try:
        yield store
    finally:
        store.close()


def prune_tasks(db: str, rules: list[RetentionRule], dry_run: bool) -> dict[str, int]:
    """Tasks deleted (or, with ``dry_run``, that would be) per state, in batches of
    ``BATCH`` rows, one short transaction each."""
    counts: dict[str, int] = {}
    with _opened(db) as store:
        now = time.time()
        for rule in rules:
            prune = prune_rule(rule, now)
            if prune is None:
                counts[rule.state] = 0
            elif dry_run:
                counts[rule.state] = store.count_prunable(prune)
            else:
                total = 0
                while deleted := store.prune(prune, BATCH):
                    total += deleted
                counts[rule.state] = total
    return counts


def check_counts(db: str, repair: bool) -> tuple[list[CountDifference], list[CountDifference]]:
    """(differences found, differences left): after a repair, the second check's."""
    with _opened(db) as store:
        found = store.check_counts(repair=repair)
        left = store.check_counts() if repair and found else found
    return found, left


def vacuum_file(db: str) -> tuple[str, int, int]:
    """(location, bytes before, bytes after) of a SQLite file's VACUUM."""
    from jobsched.storage import SqliteStore

    with _opened(db) as store:
        if not isinstance(store, SqliteStore):
            raise InvalidInputError(
                "vacuum",
                store.location,
                "applies to SQLite files only",
                "On PostgreSQL, autovacuum reuses the space; run VACUUM FULL in a quiet hour",
            )
        before, after = store.vacuum()
        return store.location, before, after
