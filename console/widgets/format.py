"""How numbers, durations and times read in the console. Times are shown in UTC."""

from __future__ import annotations

import time
from collections.abc import Mapping


def count(n: int) -> str:
    """1234 -> '1,234'; large numbers in k/M so columns stay narrow."""
    if n >= 10_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n:,}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """1 -> '1 task', 1234 -> '1,234 tasks': a count with its noun, singular for one."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def rate(per_second: float) -> str:
    if per_second <= 0:
        return "0"
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.1f}"


def per_category(counts: Mapping[str, int]) -> str:
    """{'email': 2, 'web': 5} -> 'email 2 · web 5' (in the mapping's order); '-' if empty."""
    return " · ".join(f"{name} {n}" for name, n in counts.items()) or "-"


def weight(value: float) -> str:
    return f"{value:.4g}"


def duration(seconds: float) -> str:
    """0.25 -> '0.2s', 75 -> '1m15s', 7300 -> '2h01m'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def clock_time(epoch: float | None) -> str:
    """Wall-clock seconds as HH:MM:SS (UTC)."""
    if epoch is None:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


def timestamp(epoch: float | None) -> str:
    """Wall-clock seconds as an ISO 8601 UTC timestamp with milliseconds."""
    if epoch is None:
        return "-"
    millis = int(round((epoch % 1) * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


def short_duration(seconds: float) -> str:
    """At most five characters: 0.004 -> '4ms', 2.5 -> '2.5s', 75 -> '1m15', 7300 -> '2h01',
    200000 -> '2d07'."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}"
    return f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}"


def eta(seconds: float | None, queued: int) -> str:
    """How long a queue takes to drain: '-' when empty, '∞' when nothing finishes."""
    if queued <= 0:
        return "-"
    if seconds is None:
        return "∞"
    return short_duration(seconds)
