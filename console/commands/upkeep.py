"""Commands that look after the database: ``prune`` (delete finished tasks past their
retention), ``check`` (the task counters against a full count) and ``vacuum`` (give a
SQLite file's free pages back). A running node prunes by itself (``[retention]`` in
docs/configuration.md); these are for operators."""

from __future__ import annotations

from typing import Annotated

import typer
from jobsched.core import InvalidInputError
from jobsched.core.retention import (
    BATCH,
    RETAINED_STATES,
    RetentionRule,
    parse_duration,
    parse_rules,
    prune_rule,
)
from jobsched.core.store import TaskStore

from ..cli_base import JsonFlag
from .common import GlobalConfig, GlobalDb, _client, _out, command


def _rules(
    store_rules: list[RetentionRule], state: str | None, older_than: str | None
) -> list[RetentionRule]:
    """The configured rules, or the ones the options ask for."""
    if state is not None and state not in RETAINED_STATES:
        raise InvalidInputError(
            "--state", state, "is not a finished state", f"Use one of: {', '.join(RETAINED_STATES)}"
        )
    states = [state] if state is not None else list(RETAINED_STATES)
    if older_than is None:
        return [rule for rule in store_rules if rule.state in states]
    seconds = parse_duration(older_than)
    if seconds is None:
        raise InvalidInputError(
            "--older-than", older_than, "is not a duration", 'Use e.g. "7d", "12h", "30m" or "45s"'
        )
    return [RetentionRule(s, max_age=seconds) for s in states]


def _prune_all(
    store: TaskStore, rules: list[RetentionRule], now: float, dry_run: bool
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule in rules:
        prune = prune_rule(rule, now)
        if prune is None:
            counts[rule.state] = 0
        elif dry_run:
            counts[rule.state] = store.count_prunable(prune)
        else:
            total = 0
            while deleted := store.prune(prune, BATCH):  # one short transaction per batch
                total += deleted
            counts[rule.state] = total
    return counts


@command()
def prune(
    ctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", metavar="STATE", help=f"Only one of: {', '.join(RETAINED_STATES)}."
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Delete tasks finished longer ago than this (e.g. 7d, 12h, 30m) instead "
            "of following [retention].",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be deleted.")
    ] = False,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Delete finished tasks past their retention, in small batches.

    Follows [retention] of the configuration unless --older-than is given; never
    deletes a task that is not finished, nor one finished in the last 10 seconds.
    """
    with _client(ctx) as client:
        rules = _rules(parse_rules(client.config.retention), state, older_than)
        counts = _prune_all(client.store, rules, client.clock.now(), dry_run)
    if as_json:
        _out({"dry_run": dry_run, "deleted" if not dry_run else "would_delete": counts})
        return
    verb = "would delete" if dry_run else "deleted"
    for name, number in counts.items():
        typer.echo(f"{name}: {verb} {number}")


@command()
def check(
    ctx: typer.Context,
    repair: Annotated[
        bool, typer.Option("--repair", help="Rebuild the counters from a full count.")
    ] = False,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Compare the task counters with a full count of the tasks.

    Exit 0 when they agree (after --repair: when the repair made them agree), 1 when not.
    """
    with _client(ctx) as client:
        differences = client.store.check_counts(repair=repair)
        left = client.store.check_counts() if repair and differences else differences
    rows = [
        {"category": c, "state": s, "counted": kept, "actual": actual}
        for c, s, kept, actual in differences
    ]
    if as_json:
        _out(
            {
                "consistent": not differences,
                "repaired": bool(repair and differences),
                "differences": rows,
            }
        )
    elif not differences:
        typer.echo("counters agree with the tasks")
    else:
        for row in rows:
            typer.echo(
                f"{row['category']} {row['state']}: counter {row['counted']}, tasks {row['actual']}"
            )
        typer.echo(
            "repaired" if repair and not left else "run `jobsched check --repair` to rebuild them"
        )
    if left:
        raise typer.Exit(1)


@command()
def vacuum(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    _db: GlobalDb = None,
    _config: GlobalConfig = None,
) -> None:
    """Shrink a SQLite database file to its data (SQLite VACUUM).

    Not needed to stop growth (pruned pages are reused); refused while a node runs on
    the file (exit 4), since it holds the write lock while it copies the database.
    """
    from jobsched.storage import SqliteStore

    with _client(ctx) as client:
        store = client.store
        if not isinstance(store, SqliteStore):
            raise InvalidInputError(
                "vacuum",
                store.location,
                "applies to SQLite files only",
                "On PostgreSQL, autovacuum reuses the space; run VACUUM FULL in a quiet hour",
            )
        before, after = store.vacuum()
    if as_json:
        _out({"bytes_before": before, "bytes_after": after})
        return
    typer.echo(f"vacuumed {store.location}: {before:,} bytes -> {after:,} bytes")
