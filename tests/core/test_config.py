"""Config validation: each invalid configuration is a typed error."""

from __future__ import annotations

import math

import pytest
from jobsched.core import (
    CategoryConfig,
    ConfigError,
    InvalidNameError,
    PriorityError,
    SchedulerConfig,
)


def cfg(workers: int = 4, **cats: CategoryConfig) -> SchedulerConfig:
    return SchedulerConfig(workers=workers, categories=cats or {"a": CategoryConfig()})


@pytest.mark.parametrize("workers", [0, -1, 513, 2.5, True, "8"])
def test_budget_outside_1_to_512_is_rejected(workers: object) -> None:
    with pytest.raises(ConfigError, match="workers"):
        cfg(workers=workers).validate()  # type: ignore[arg-type]


@pytest.mark.parametrize("workers", [1, 512])
def test_budget_limits_are_accepted(workers: int) -> None:
    assert cfg(workers=workers).validate().workers == workers


def test_minimums_above_the_budget_are_rejected_naming_the_sum() -> None:
    with pytest.raises(ConfigError, match="sum of minimum .* 5: is above the budget of 4"):
        cfg(4, a=CategoryConfig(min_workers=3), b=CategoryConfig(min_workers=2)).validate()


def test_maximums_that_cannot_use_the_budget_are_rejected() -> None:
    with pytest.raises(ConfigError, match="below the budget"):
        cfg(8, a=CategoryConfig(max_workers=2), b=CategoryConfig(max_workers=3)).validate()


@pytest.mark.parametrize("priority", [math.nan, math.inf, -math.inf, 0, -1, True, "abc", None])
def test_bad_priorities_are_rejected(priority: object) -> None:
    with pytest.raises(PriorityError, match="priority"):
        cfg(a=CategoryConfig(priority=priority)).validate()  # type: ignore[arg-type]


def test_huge_equal_priorities_are_accepted() -> None:
    c = cfg(a=CategoryConfig(priority=1e308), b=CategoryConfig(priority=1e308)).validate()
    assert c.categories["a"].priority == 1e308


@pytest.mark.parametrize(
    "name", ["", "a b", "x'; DROP TABLE tasks;--", 'q"uote', "nul\x00", "x" * 65, "x" * 10_000, "é"]
)
def test_bad_category_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid category name"):
        SchedulerConfig(workers=2, categories={name: CategoryConfig()}).validate()


def test_unknown_kind_is_rejected_listing_the_kinds() -> None:
    with pytest.raises(ConfigError, match="fire-and-forget, request-response"):
        cfg(a=CategoryConfig(kind="batch")).validate()


def test_config_is_frozen() -> None:
    c = cfg().validate()
    with pytest.raises(AttributeError):
        c.workers = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.categories["b"] = CategoryConfig()  # type: ignore[index]


def test_error_message_format_is_what_value_why_hint() -> None:
    with pytest.raises(ConfigError) as info:
        cfg(workers=0).validate()
    assert (
        str(info.value)
        == "workers (the thread budget) 0: must be in 1..512. Use a value in 1..512."
    )
    assert info.value.exit_code == 2


@pytest.mark.parametrize("linger", [-0.001, 0.2, math.nan, math.inf, True, "1ms", None])
def test_bad_commit_linger_is_rejected_naming_the_value(linger: object) -> None:
    with pytest.raises(ConfigError, match="commit_linger"):
        SchedulerConfig(
            workers=2, categories={"a": CategoryConfig()}, commit_linger=linger
        ).validate()  # type: ignore[arg-type]


@pytest.mark.parametrize("linger", [0, 0.001, 0.1])
def test_commit_linger_from_0_to_100_ms_is_accepted(linger: float) -> None:
    SchedulerConfig(workers=2, categories={"a": CategoryConfig()}, commit_linger=linger).validate()
