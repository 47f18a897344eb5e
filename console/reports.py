"""What the reading commands report, built from the store alone.

``status``, ``tasks``, ``show`` and ``result`` run in processes that are not the node, so
everything here reads the store (counts, operator settings, heartbeats, decisions); the
shapes are the ``--json`` contract the README describes. Timestamps are ISO 8601 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jobsched.core import Client, TaskRecord
from jobsched.core.progress import TaskProgress
from jobsched.core.snapshot import operator_view
from jobsched.core.task import STATES, AttemptError, NodeInfo, attempt_history

#: A node whose heartbeat is older than this many heartbeat intervals (plus a second)
#: counts as gone; see :func:`stale_after`.
ALIVE_INTERVALS = 3.0


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds, e.g. ``2026-05-01T12:00:00.250Z``."""
    if ts is None:
        return None
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- tasks -------------------------------------------------------------------------------


def attempt_errors(task: TaskRecord, earlier: Sequence[AttemptError]) -> list[AttemptError]:
    """What ``show`` and the console's detail list, oldest first: how each attempt the
    store knows of ended (:func:`~jobsched.core.task.attempt_history` of the stored
    ``earlier`` ones), and the task's own error if none of them holds it (a task written
    before the store kept earlier attempts)."""
    entries = attempt_history(task, earlier)
    if task.error is not None and not any(entry.error == task.error for entry in entries):
        entries.append(AttemptError(task.attempts, task.error, task.reason, task.finished_at))
    return entries


def task_detail(
    task: TaskRecord,
    progress: TaskProgress | None = None,
    earlier: Sequence[AttemptError] = (),
) -> dict[str, Any]:
    """``show --json``: the task's public shape with ISO timestamps, its latest progress
    report (``progress``: None when it made none) and ``attempt_errors``, how each attempt
    ended with an error, oldest first (see :func:`attempt_errors`)."""
    data = task.to_dict()
    for key in ("created_at", "run_at", "started_at", "finished_at"):
        data[key] = iso(data[key])
    data["progress"] = None
    if progress is not None:
        data["progress"] = {**progress.to_dict(), "at": iso(progress.at)}
    data["attempt_errors"] = [
        {**entry.to_dict(), "ended_at": iso(entry.ended_at)}
        for entry in attempt_errors(task, earlier)
    ]
    return data


def task_summary(task: TaskRecord) -> dict[str, Any]:
    """One row of ``tasks --json`` (no payload, result or error text)."""
    return {
        "id": task.id,
        "handler": task.handler,
        "category": task.category,
        "state": task.state,
        "reason": task.reason,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "created_at": iso(task.created_at),
        "run_at": iso(task.run_at),
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
    }


def wait_terminal(client: Client, task_id: int, timeout: float | None) -> TaskRecord:
    """Block until the task is terminal (another process runs it): the client's wait,
    woken by the store's commits (PostgreSQL notifications, SQLite's data_version).

    Raises TaskNotFoundError for an unknown id and WaitTimeoutError at the deadline.
    """
    return client.wait(task_id, timeout)


def injected_message(category: str, ids: Sequence[int]) -> str:
    """The one wording of an injection, for ``jobsched inject`` and the console's ``i``."""
    if not ids:
        return f"injected no synthetic tasks into {category}"
    if len(ids) == 1:
        return f"injected 1 synthetic task into {category}: id {ids[0]}"
    return f"injected {len(ids)} synthetic tasks into {category}: ids {ids[0]}..{ids[-1]}"


# --- status ------------------------------------------------------------------------------


def status_report(client: Client, now: float | None = None, decisions: int = 10) -> dict[str, Any]:
    """``status --json``: categories (with ``latency``, the seconds the oldest due task not
    yet claimed has waited, None when none waits), nodes (from heartbeats) and recent
    decisions."""
    now = client.clock.now() if now is None else now
    counts = client.counts()
    settings = client.load_settings()
    infos = client.nodes()
    nodes = [node_report(node, now, client.config.heartbeat_interval) for node in infos]
    live_workers: dict[str, int] = {}
    waiting: dict[str, int] = {}  # claimed into a live node's FIFO: queued for a worker
    for node, info in zip(nodes, infos, strict=True):
        if node["alive"]:
            for name, number in node["targets"].items():
                live_workers[name] = live_workers.get(name, 0) + int(number)
            for name, number in info.counters.fifo.items():
                waiting[name] = waiting.get(name, 0) + number
    names = list(client.config.categories) + sorted(set(counts) - set(client.config.categories))
    heads = client.queue_heads()  # configured categories only
    categories = []
    for name in names:
        per = counts.get(name, {})
        stored = settings.get(name)
        queued, running = operator_view(per, waiting.get(name, 0))
        if name in client.config.categories:
            cat = client.category_config(name, settings)
            kind, low, high = cat.kind, cat.min_workers, cat.max_workers
            priority = float(cat.priority)  # always a float, whether TOML wrote 1 or 1.0
        else:  # tasks of a category that is no longer configured
            kind, priority, low, high = "unconfigured", None, 0, 0
        categories.append(
            {
                "name": name,
                "kind": kind,
                "priority": priority,
                "paused": bool(stored and stored.paused),
                "pinned": stored.pinned if stored else None,
                "min_workers": low,
                "max_workers": high,
                "workers": live_workers.get(name, 0),
                **{state: per.get(state, 0) for state in STATES},
                "queued": queued,
                "running": running,
                # Queue latency: seconds the oldest due unclaimed task has waited.
                "latency": round(max(0.0, now - heads[name]), 3) if name in heads else None,
            }
        )
    return {
        "at": iso(now),
        "database": client.location,
        "categories": categories,
        "nodes": nodes,
        "decisions": [decision_report(d) for d in client.recent_decisions(decisions)],
    }


def stale_after(heartbeat_interval: float) -> float:
    """Seconds without a heartbeat after which a node counts as gone: the one liveness
    rule of ``status``, the console's nodes screen and the attached view."""
    return ALIVE_INTERVALS * heartbeat_interval + 1.0


def node_state(node: NodeInfo, now: float, heartbeat_interval: float) -> str:
    """``stopped`` (it said so), ``alive`` (a fresh heartbeat) or ``stale`` (silent)."""
    if node.stopped:
        return "stopped"
    return "alive" if now - node.heartbeat_at <= stale_after(heartbeat_interval) else "stale"


def node_report(node: NodeInfo, now: float, heartbeat_interval: float) -> dict[str, Any]:
    """One node of ``status --json`` (and a row of the console's nodes screen), from its
    latest heartbeat: liveness, workers, targets, busy workers, finished tasks and rates
    per category. ``rate`` is tasks finished per second, recently, over all categories."""
    age = max(0.0, now - node.heartbeat_at)
    state = node_state(node, now, heartbeat_interval)
    counters = node.counters
    workers = _per_category(w for w in node.workers if not w.get("retiring"))
    rates = dict(counters.rates)
    targets = dict(counters.targets)
    return {
        "node_id": node.node_id,
        "host": node.host,
        "pid": node.pid,
        "started_at": iso(node.started_at),
        "heartbeat_at": iso(node.heartbeat_at),
        "heartbeat_age": round(age, 3),
        "state": state,
        "alive": state == "alive",
        "stopped": node.stopped,
        "budget": node.budget,
        "workers": workers,
        "targets": targets or dict(workers),
        "busy": _per_category(w for w in node.workers if w.get("state") == "busy"),
        "done": sum(
            per.get(key, 0)
            for per in counters.by_category.values()
            for key in ("succeeded", "failed", "cancelled")
        ),
        "rates": rates,
        "rate": round(sum(rates.values()), 3),
    }


def _per_category(workers: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for worker in workers:
        name = str(worker.get("category", "?"))
        out[name] = out.get(name, 0) + 1
    return out


def decision_report(decision: Mapping[str, Any]) -> dict[str, Any]:
    """A balancer decision with its time in ISO form; ``changes`` are the reasons."""
    at = decision.get("at")
    return {
        "at": iso(float(at)) if isinstance(at, (int, float)) else at,
        "trigger": decision.get("trigger"),
        "budget": decision.get("budget"),
        "before": decision.get("before", {}),
        "targets": decision.get("targets", {}),
        "changes": list(decision.get("changes", [])),
        "inputs": decision.get("inputs", {}),
    }
