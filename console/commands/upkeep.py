"""Commands that look after the database: ``prune`` (delete finished tasks past their
retention), ``check`` (the task counters against a full count) and ``vacuum`` (give a
SQLite file's free pages back). A running node prunes by itself (``[retention]`` in
docs/configuration.md); these are for operators."""

from __future__ import annotations

from typing import Annotated

import typer
from jobsched.core import InvalidInputError
from jobsched.core.retention import RETAINED_STATES, RetentionRule, parse_duration, parse_rules

from .. import upkeep as work
from ..cli_base import JsonFlag
from .common import GlobalConfig, GlobalDb, _out, _settings, command


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
    settings = _settings(ctx)
    rules = _rules(parse_rules(settings.config.retention), state, older_than)
    counts = work.prune_tasks(settings.db, rules, dry_run)
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
    differences, left = work.check_counts(_settings(ctx).db, repair)
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
    location, before, after = work.vacuum_file(_settings(ctx).db)
    if as_json:
        _out({"bytes_before": before, "bytes_after": after})
        return
    typer.echo(f"vacuumed {location}: {before:,} bytes -> {after:,} bytes")
