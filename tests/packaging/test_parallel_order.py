"""The order the parallel run hands tests out in (tests/parallel.py): every test exactly
once, and the slow ones spread over the workers' first runs, longest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.parallel import _deal, _expected_seconds


@dataclass
class _Marker:
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Item:
    name: str
    seconds: float | None = None  # None: not slow

    def get_closest_marker(self, name: str) -> _Marker | None:
        if name != "slow" or self.seconds is None:
            return None
        return _Marker({} if self.seconds == -1 else {"seconds": self.seconds})


def _items() -> list[Any]:
    slow = [_Item(f"slow{n}", s) for n, s in enumerate([30, 16, 15, 12, 11, 10, 10, 10, 7, -1])]
    return slow + [_Item(f"quick{n}") for n in range(91)]


def test_a_slow_test_without_seconds_counts_five_and_a_quick_one_zero() -> None:
    assert _expected_seconds(_Item("a", -1)) == 5.0  # type: ignore[arg-type]
    assert _expected_seconds(_Item("b")) == 0.0  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 6])
def test_every_test_is_dealt_exactly_once(workers: int) -> None:
    items = _items()
    dealt = _deal(items, workers)
    assert sorted(i.name for i in dealt) == sorted(i.name for i in items)


def test_each_of_four_runs_starts_with_its_share_of_the_slow_tests() -> None:
    dealt = _deal(_items(), 4)
    runs = [dealt[0:25], dealt[25:50], dealt[50:75], dealt[75:101]]  # worksteal's split
    firsts = [run[0].name for run in runs]
    assert firsts == ["slow0", "slow1", "slow2", "slow3"]
    loads = [sum(max(i.seconds or 0, 0) for i in run) for run in runs]
    # 30 s alone in the first run; the others share the rest within one test's length.
    assert loads[0] == 30 and max(loads[1:]) - min(loads[1:]) <= 12, loads
    for run in runs:  # slow ones before quick ones in every run
        kinds = [i.seconds is not None for i in run]
        assert kinds == sorted(kinds, reverse=True)
