"""What a node's heartbeat says about its work.

:class:`NodeCounters` is written by the housekeeper into :attr:`NodeInfo.counters` and read
by ``status`` and the attached console. Other versions of jobsched may share the store, so
:meth:`NodeCounters.from_dict` keeps what it understands and ignores the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalog import Catalog


@dataclass(frozen=True)
class NodeCounters:
    #: category -> counter (started, succeeded, ...) -> attempts since the node started
    by_category: dict[str, dict[str, int]] = field(default_factory=dict)
    #: category -> claimed tasks waiting in this node's FIFO
    fifo: dict[str, int] = field(default_factory=dict)
    #: category -> the balancer's worker target
    targets: dict[str, int] = field(default_factory=dict)
    #: threads given up on (timed-out tasks) since the node started
    abandoned_threads: int = 0
    #: category -> tasks finished per second over the last few seconds
    rates: dict[str, float] = field(default_factory=dict)
    #: category -> run time (s) of its latest tasks: (p50, p95)
    run_times: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the node's Python version
    python: str = ""
    #: the node's handlers and categories, for clients that submit by name
    catalog: Catalog = field(default_factory=Catalog)
    #: categories whose rate limits hold back tasks that wait, as of the heartbeat (an
    #: attached console shows them HELD, as the node's own console does)
    held: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_category": {c: dict(v) for c, v in self.by_category.items()},
            "fifo": dict(self.fifo),
            "targets": dict(self.targets),
            "abandoned_threads": self.abandoned_threads,
            "rates": dict(self.rates),
            "run_times": {c: list(pair) for c, pair in self.run_times.items()},
            "python": self.python,
            "catalog": self.catalog.to_dict(),
            "held": sorted(self.held),
        }

    @classmethod
    def from_dict(cls, data: object) -> NodeCounters:
        """Read what another node (maybe of another version) wrote: unknown keys and
        values of the wrong type are left out, never raised."""
        if not isinstance(data, Mapping):
            return cls()
        by_category = {
            str(c): _numbers(v, int)
            for c, v in _mapping(data.get("by_category")).items()
            if isinstance(v, Mapping)
        }
        abandoned = _number(data.get("abandoned_threads"), int)
        python = data.get("python")
        held = data.get("held")
        return cls(
            by_category=by_category,
            fifo=_numbers(data.get("fifo"), int),
            targets=_numbers(data.get("targets"), int),
            abandoned_threads=abandoned if abandoned is not None else 0,
            rates=_numbers(data.get("rates"), float),
            run_times=_pairs(data.get("run_times")),
            python=python if isinstance(python, str) else "",
            catalog=Catalog.from_dict(data.get("catalog")),
            held=tuple(c for c in held if isinstance(c, str)) if isinstance(held, list) else (),
        )


def _mapping(value: object) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: object, kind: type[int] | type[float]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return kind(value)


def _numbers(value: object, kind: type[int] | type[float]) -> dict[str, Any]:
    out = {}
    for key, item in _mapping(value).items():
        number = _number(item, kind)
        if number is not None:
            out[str(key)] = number
    return out


def _pairs(value: object) -> dict[str, tuple[float, float]]:
    out = {}
    for key, item in _mapping(value).items():
        if isinstance(item, (list, tuple)) and len(item) == 2:
            low, high = (_number(x, float) for x in item)
            if low is not None and high is not None:
                out[str(key)] = (low, high)
    return out
