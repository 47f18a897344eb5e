"""Row shapes both SQL stores share: Python values in, records out.

The SQLite and PostgreSQL stores differ in placeholders and in how they talk to their
database; what a task filter, a settings row, a decision or a node row looks like is the
same, and lives here once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from core.task import STATES, CategorySettings, NodeInfo


def task_filter(state: str | None, category: str | None, mark: str) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (or nothing) and its parameters for ``list_tasks``; ``mark`` is the
    driver's placeholder (``?`` or ``%s``)."""
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        where.append(f"state = {mark}")
        params.append(state)
    if category is not None:
        where.append(f"category = {mark}")
        params.append(category)
    return (f" WHERE {' AND '.join(where)}" if where else ""), params


def counts_from(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, int]]:
    """category -> state -> number, every state present (zeros included)."""
    result: dict[str, dict[str, int]] = {}
    for category, state, number in rows:
        result.setdefault(category, dict.fromkeys(STATES, 0))[state] = int(number)
    return result


def settings_from(rows: Iterable[Sequence[Any]]) -> dict[str, CategorySettings]:
    return {
        category: CategorySettings(priority, bool(paused), pinned, low, high)
        for category, priority, paused, pinned, low, high in rows
    }


def settings_values(category: str, settings: CategorySettings) -> tuple[Any, ...]:
    return (
        category,
        settings.priority,
        bool(settings.paused),
        settings.pinned,
        settings.min_workers,
        settings.max_workers,
    )


def decisions_from(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Decision bodies with their time under ``"at"``."""
    return [dict(json.loads(body), at=at) for at, body in rows]


def node_values(node: NodeInfo) -> tuple[Any, ...]:
    return (
        node.node_id,
        node.host,
        node.pid,
        node.started_at,
        node.heartbeat_at,
        node.budget,
        json.dumps(node.workers, default=str),
        json.dumps(node.counters, default=str),
        bool(node.stopped),
    )


def nodes_from(rows: Iterable[Sequence[Any]]) -> list[NodeInfo]:
    return [
        NodeInfo(node_id, host, pid, started, beat, budget, json.loads(workers),
                 json.loads(counters), bool(stopped))
        for node_id, host, pid, started, beat, budget, workers, counters, stopped in rows
    ]  # fmt: skip
