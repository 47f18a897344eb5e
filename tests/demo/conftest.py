"""Fixtures for the demo: its configuration read from demo/jobsched.toml, and its servers."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from jobsched.core import CategoryConfig, SchedulerConfig
from jobsched.demo.servers import ENV_HTTP, ENV_SMTP, DemoServers

from jobsched import demo


def load_demo_config() -> SchedulerConfig:
    """demo/jobsched.toml as a SchedulerConfig (the console owns real config loading)."""
    data = tomllib.loads(demo.config_text())
    scheduler = dict(data["scheduler"])
    handlers = tuple(scheduler.pop("handlers", ()))
    categories = {name: CategoryConfig(**table) for name, table in data["categories"].items()}
    return SchedulerConfig(categories=categories, handlers=handlers, **scheduler).validate()


@pytest.fixture
def demo_config() -> SchedulerConfig:
    """The demo configuration with short retry backoffs, so retries finish within a test."""
    return replace(load_demo_config(), retry_base=0.02, retry_max=0.1).validate()


@pytest.fixture(autouse=True)
def _no_demo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SMTP, raising=False)
    monkeypatch.delenv(ENV_HTTP, raising=False)


@pytest.fixture
def servers() -> Iterator[DemoServers]:
    with DemoServers() as running:
        yield running
