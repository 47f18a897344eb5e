"""docs/configuration.md says what the config loader does: every key the loader accepts is
documented with its real default and environment variable, nothing else is, and the
complete example loads and sets every key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from jobsched.console.config_file import (
    CATEGORY_KEYS,
    HANDLER_KEYS,
    METRICS_KEYS,
    RETENTION_KEYS,
    SCHEDULER_KEYS,
    STORAGE_KEYS,
    WEB_KEYS,
)
from jobsched.console.schedule_config import SCHEDULE_KEYS
from jobsched.console.settings import DEFAULT_DB, ENV_KEYS, WEB_TOKEN_ENV, load_settings
from jobsched.core import CategoryConfig, SchedulerConfig
from jobsched.core.limits import HandlerLimit
from jobsched.core.retention import DEFAULT_HISTORY, DEFAULT_RETENTION

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `(?P<key>[a-z_.A-Z]+)` \|(?P<rest>.*)\|$")


def doc_rows() -> dict[str, list[str]]:
    """Table rows by key: the cells after the key (type, default, bounds, env, flag, ...)."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match["key"]] = [c.strip() for c in match["rest"].split(" | ")]
    return rows


def loader_keys() -> set[str]:
    return (
        {f"scheduler.{k}" for k in SCHEDULER_KEYS}
        | {f"categories.NAME.{k}" for k in CATEGORY_KEYS}
        | {f"handlers.NAME.{k}" for k in HANDLER_KEYS}
        | {f"storage.{k}" for k in STORAGE_KEYS}
        | {f"web.{k}" for k in WEB_KEYS}
        | {f"retention.{k}" for k in RETENTION_KEYS}
        | {f"schedules.{k}" for k in SCHEDULE_KEYS}
        | {f"metrics.{k}" for k in METRICS_KEYS}
    )


def first_value(cell: str) -> Any:
    text = re.search(r"`([^`]*)`", cell)
    assert text, cell
    return None if text[1] == "none" else tomllib.loads(f"v = {text[1]}")["v"]


def real_defaults() -> dict[str, Any]:
    sched = {
        f"scheduler.{f.name}": f.default for f in fields(SchedulerConfig) if f.name != "retention"
    }
    sched["scheduler.handlers"] = []
    cats = {f"categories.NAME.{f.name}": f.default for f in fields(CategoryConfig)}
    limits = {f"handlers.NAME.{f.name}": f.default for f in fields(HandlerLimit)}
    limits["handlers.NAME.rate"] = None  # required: the table gives it
    schedules = {f"schedules.{k}": None for k in SCHEDULE_KEYS}
    schedules.update({"schedules.timezone": "UTC", "schedules.missed": "skip",
                      "schedules.catch_up": "latest", "schedules.max_catch_up": 100,
                      "schedules.grace": 60.0})  # fmt: skip
    kept = {f"retention.{state}": rule for state, rule in DEFAULT_RETENTION.items()}
    kept["retention.history"] = DEFAULT_HISTORY
    return {**sched, **cats, **limits, **schedules, **kept, "storage.db": DEFAULT_DB,
            "web.token": None, "metrics.listen": None}  # fmt: skip


def test_every_key_the_loader_accepts_is_documented_and_no_other() -> None:
    documented = set(doc_rows())
    assert documented == loader_keys(), (
        f"undocumented: {sorted(loader_keys() - documented)}; "
        f"documented but refused by the loader: {sorted(documented - loader_keys())}"
    )


def test_documented_defaults_are_the_real_defaults() -> None:
    defaults = real_defaults()
    for key, cells in doc_rows().items():
        assert first_value(cells[1]) == defaults[key], key


def test_documented_environment_variables_are_the_ones_read() -> None:
    documented = {}
    for key, cells in doc_rows().items():
        for var in re.findall(r"`(JOBSCHED_[A-Z_]+)`", cells[3]):
            documented[var] = key
    expected = {var: f"scheduler.{key}" for var, key in ENV_KEYS.items()}
    expected["JOBSCHED_DB"] = "storage.db"
    expected[WEB_TOKEN_ENV] = "web.token"
    assert documented == expected


def test_the_complete_example_loads_and_sets_every_key(tmp_path: Path) -> None:
    example = DOC.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "jobsched.toml"
    path.write_text(example, encoding="utf-8")
    settings = load_settings(path, env={})
    explicit = {re.sub(r"^categories\.[^.]+\.", "categories.NAME.", k) for k in settings.origins}
    explicit = {re.sub(r"^handlers\..+\.", "handlers.NAME.", k) for k in explicit}
    assert loader_keys() <= explicit
    assert settings.config.categories["email"].timeout == 30.0
