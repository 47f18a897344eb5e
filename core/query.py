"""The task filter language, shared by the console's `/` filter and the CLI's ``--filter``.

A filter is words separated by spaces; a value with spaces goes in double quotes::

    state:failed,cancelled cat:email handler:email.* id:100-200 error:"timed out"
    payload:alice since:2h before:2026-11-30T10:00 key:order-17 smtp

``state:`` (one or more states, comma-separated), ``cat:`` (``category:``), ``handler:``
(exact, or a prefix ending in ``*``), ``key:`` (the dedup key, exact), ``id:`` (``17``,
``100-200``, ``>100``, ``>=100``, ``<50``, ``<=50``), ``error:`` and ``payload:`` (text
anywhere in the error or the payload's JSON, ignoring case), ``since:`` / ``before:`` (when
the task was created: a duration back from now such as ``90s``, ``15m``, ``2h``, ``7d``, or
an ISO date and time in UTC), and free words (each must appear, ignoring case, in the
handler, the category, the key or the error). Several values of one field widen it (any
of them); different fields narrow (all of them).

:func:`parse` turns the text into a :class:`TaskQuery`; stores evaluate it (the memory store
with :meth:`TaskQuery.matches`, the SQL stores in the database). A field or value that does
not exist raises :class:`~jobsched.core.errors.QueryError` naming it; given the categories
the caller knows of (configured, or holding tasks in the store), so does a ``cat:`` value
that is none of them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Literal

from .errors import QueryError, UnknownFilterCategoryError
from .task import STATES, TaskRecord

FIELDS = ("state", "cat", "handler", "key", "id", "error", "payload", "since", "before")
ALIASES = {"category": "cat", "states": "state", "cats": "cat"}
MAX_ID = 2**63 - 1
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_COMPARE = re.compile(r"^(>=|<=|>|<)(\d+)$")

Order = Literal["newest", "oldest"]


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """What a filter asks for. Empty tuples and ``None`` mean "any"."""

    states: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    handlers: tuple[str, ...] = ()  # exact names
    handler_prefixes: tuple[str, ...] = ()  # from `handler:email.*`
    keys: tuple[str, ...] = ()
    id_ranges: tuple[tuple[int, int], ...] = ()  # inclusive
    errors: tuple[str, ...] = ()  # lower-cased texts, all must appear
    payloads: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    created_since: float | None = None  # epoch seconds, inclusive
    created_before: float | None = None  # exclusive
    text: str = field(default="", compare=False)

    @property
    def empty(self) -> bool:
        return self == TaskQuery()

    def matches(self, task: TaskRecord) -> bool:
        """Whether ``task`` passes the filter (the memory store's evaluation; the SQL stores
        compile the same rules to a WHERE clause)."""
        if self.states and task.state not in self.states:
            return False
        if self.categories and task.category not in self.categories:
            return False
        if (self.handlers or self.handler_prefixes) and not (
            task.handler in self.handlers
            or any(task.handler.startswith(p) for p in self.handler_prefixes)
        ):
            return False
        if self.keys and task.dedup_key not in self.keys:
            return False
        if self.id_ranges and not any(lo <= task.id <= hi for lo, hi in self.id_ranges):
            return False
        error = (task.error or "").lower()
        if any(text not in error for text in self.errors):
            return False
        payload = task.payload.lower()
        if any(text not in payload for text in self.payloads):
            return False
        if self.created_since is not None and task.created_at < self.created_since:
            return False
        if self.created_before is not None and task.created_at >= self.created_before:
            return False
        haystack = " ".join(
            (task.handler, task.category, task.dedup_key or "", task.error or "")
        ).lower()
        return all(word in haystack for word in self.words)


@dataclass(frozen=True, slots=True)
class Page:
    """A window onto the tasks a query matches: ``order`` by id, at most ``limit`` rows,
    starting after the id ``after`` (exclusive) in that order, if given."""

    query: TaskQuery = TaskQuery()
    order: Order = "newest"
    limit: int = 50
    after: int | None = None

    def next(self, last_id: int) -> Page:
        return replace(self, after=last_id)


def parse(text: str, now: float, categories: Collection[str] | None = None) -> TaskQuery:
    """The query that ``text`` describes; ``now`` (epoch seconds) anchors ``since:2h``.

    Raises :class:`QueryError` for an unknown field, a state that does not exist, an id or
    a time that does not parse, or unbalanced quotes; and, when ``categories`` (the known
    ones) is given, :class:`UnknownFilterCategoryError` for a ``cat:`` value not among them.
    """
    try:
        terms = shlex.split(text, posix=True)
    except ValueError as exc:
        raise QueryError("filter", text, str(exc), 'Close the quote: error:"two words"') from exc
    values: dict[str, list[str]] = {}
    words: list[str] = []
    for term in terms:
        name, colon, value = term.partition(":")
        # `10:30` and `https://...` are words, not fields
        if not colon or re.search(r"[^a-z]", name.lower() or "-") or value.startswith("//"):
            words.append(term.lower())
            continue
        key = ALIASES.get(name.lower(), name.lower())
        if key not in FIELDS:
            raise _unknown_field(name)
        if not value:
            raise QueryError(f"filter field {name}:", None, "it has no value", _example(key))
        values.setdefault(key, []).extend(v for v in value.split(",") if v)
    if categories is not None:
        for category in values.get("cat", []):
            if category not in categories:
                raise UnknownFilterCategoryError(category, categories)
    return _build(values, words, now, text)


def _build(values: dict[str, list[str]], words: list[str], now: float, text: str) -> TaskQuery:
    handlers = values.get("handler", [])
    since = [_time(v, now, "since") for v in values.get("since", [])]
    before = [_time(v, now, "before") for v in values.get("before", [])]
    return TaskQuery(
        states=tuple(_state(v) for v in values.get("state", [])),
        categories=tuple(values.get("cat", [])),
        handlers=tuple(h for h in handlers if not h.endswith("*")),
        handler_prefixes=tuple(h[:-1] for h in handlers if h.endswith("*")),
        keys=tuple(values.get("key", [])),
        id_ranges=tuple(_id_range(v) for v in values.get("id", [])),
        errors=tuple(v.lower() for v in values.get("error", [])),
        payloads=tuple(v.lower() for v in values.get("payload", [])),
        words=tuple(words),
        created_since=max(since) if since else None,
        created_before=min(before) if before else None,
        text=text.strip(),
    )


def _unknown_field(name: str) -> QueryError:
    close = difflib.get_close_matches(name.lower(), [*FIELDS, *ALIASES], n=1)
    hint = f"Did you mean {close[0]}:? " if close else ""
    return QueryError(
        "unknown filter field",
        f"{name}:",
        "",
        hint + "Fields: " + ", ".join(f + ":" for f in FIELDS),
    )


def _example(key: str) -> str:
    examples = {"state": "state:failed", "id": "id:100-200", "since": "since:2h"}
    return "For example " + examples.get(key, f"{key}:something")


def _state(value: str) -> str:
    state = value.lower()
    if state not in STATES:
        close = difflib.get_close_matches(state, STATES, n=1)
        hint = f"Did you mean {close[0]}? " if close else ""
        raise QueryError("unknown state", value, "", hint + "States: " + ", ".join(STATES))
    return state


def _id(text: str, whole: str) -> int:
    number = int(text)
    if number > MAX_ID:
        raise QueryError("task id", whole, f"ids go up to {MAX_ID}", "Use a smaller id")
    return number


def _id_range(value: str) -> tuple[int, int]:
    if value.isdigit():
        number = _id(value, value)
        return number, number
    span = _RANGE.match(value)
    if span:
        lo, hi = _id(span[1], value), _id(span[2], value)
        if lo > hi:
            raise QueryError("id range", value, "it is empty", f"Write it low-high: {hi}-{lo}")
        return lo, hi
    compare = _COMPARE.match(value)
    if compare:
        op, number = compare[1], _id(compare[2], value)
        return {
            ">": (number + 1, MAX_ID),
            ">=": (number, MAX_ID),
            "<": (0, number - 1),
            "<=": (0, number),
        }[op]
    raise QueryError(
        "id filter", value, "it is not an id or a range", "Use id:17, id:100-200 or id:>100"
    )


def _time(value: str, now: float, name: str) -> float:
    """``15m`` back from ``now``, or an ISO date/time (UTC unless it names an offset)."""
    parts = _DURATION.findall(value)
    if parts and "".join(n + u for n, u in parts) == value.lower():
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
        if math.isfinite(seconds) and seconds < 1e10:
            return now - seconds
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            f"{name}: time",
            value,
            "it is neither a duration nor a date",
            f"Use a duration back from now ({name}:15m, {name}:2h, {name}:7d) or a date "
            f"({name}:2026-11-30 or {name}:2026-11-30T10:00)",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
