"""Where a process's configuration comes from: TOML, then ``JOBSCHED_*``, then flags.

The CLI, the console and tests call :func:`load_settings`; the result carries a validated
:class:`core.SchedulerConfig` and the database URL. Every problem is a
:class:`core.ConfigError` naming the key and where it came from (exit 2 in the CLI).

The TOML file is, in order: ``--config`` / ``JOBSCHED_CONFIG`` (must exist), else
``./jobsched.toml`` if present, else the demo configuration packaged with ``demo``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobsched.core import CategoryConfig, ConfigError, SchedulerConfig
from jobsched.core.limits import HandlerLimit

from .config_file import (
    DEMO_CONFIG,
    HISTORY_KEY,
    INT_LABEL,
    METRICS_KEYS,
    RETENTION_KEYS,
    SCHEDULER_KEYS,
    STORAGE_KEYS,
    WEB_KEYS,
    category_config,
    checked,
    handler_limits,
    parse_toml,
    read_toml_text,
    split_tables,
)
from .schedule_config import schedules_from

DEFAULT_DB = "jobsched.db"

#: The environment variable that sets [web] token (``jobsched console --web``).
WEB_TOKEN_ENV = "JOBSCHED_WEB_TOKEN"

#: Environment variables and the [scheduler] key each one sets (JOBSCHED_DB and
#: JOBSCHED_CONFIG are read separately).
ENV_KEYS = {
    "JOBSCHED_WORKERS": "workers",
    "JOBSCHED_BALANCE_INTERVAL": "balance_interval",
    "JOBSCHED_GRACE_PERIOD": "grace_period",
    "JOBSCHED_POLL_INTERVAL": "poll_interval",
    "JOBSCHED_HANDLERS": "handlers",
}


#: The command-line flag that sets a [scheduler] key (``jobsched run``'s options).
FLAG_NAMES = {"workers": "--workers", "grace_period": "--grace"}

DEFAULT = "default"


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to build a client or a node."""

    config: SchedulerConfig
    db: str = DEFAULT_DB
    #: Where the TOML came from (a path, or the packaged demo), for messages.
    source: str = DEMO_CONFIG
    #: Explicit flag values, kept so that a caller can re-derive or display them.
    overrides: Mapping[str, Any] = field(default_factory=dict)
    #: Where each value set explicitly came from, by dotted key (``scheduler.workers``,
    #: ``categories.web.priority``, ``storage.db``): the file, ``JOBSCHED_...`` or a
    #: flag. A key not in it has its default. ``jobsched config`` shows them.
    origins: Mapping[str, str] = field(default_factory=dict)
    #: Directories searched first for the handler modules: the working directory, then
    #: the config file's directory (see console/root.py).
    handler_paths: tuple[str, ...] = ()
    #: The secret ``jobsched console --web`` asks of every request (None: no token).
    web_token: str | None = None
    #: Where ``jobsched run`` serves Prometheus metrics (``HOST:PORT``; None: nowhere).
    metrics_listen: str | None = None

    def with_config(self, **changes: Any) -> Settings:
        """A copy with scheduler fields changed (validated), e.g. ``workers=2``."""
        return replace(self, config=_validated(replace(self.config, **changes), self.source))


def load_settings(
    config: str | os.PathLike[str] | None = None,
    db: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    **flags: Any,
) -> Settings:
    """Build settings from TOML, environment and flags (later ones win).

    ``config``/``db`` are the ``--config``/``--db`` flags (None: not given). ``flags``
    are scheduler fields set on the command line, e.g. ``workers=4`` (None is ignored).
    A value that makes the configuration invalid is blamed on where it came from.
    """
    env = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    named, named_by = _named_config(config, env)
    text, source, folder = read_toml_text(named, base, named_by)
    data = parse_toml(text, source)
    scheduler, categories, storage, web, metrics, retention = split_tables(data, source)
    layers = _scheduler_layers(scheduler, env, flags, source)
    if HISTORY_KEY in retention:
        history = retention.pop(HISTORY_KEY)
        checked("retention.history", history, RETENTION_KEYS[HISTORY_KEY], source)
        layers.insert(0, (source, "history_retention", history))
    if retention:  # one layer: the states left out keep their defaults
        rules = {
            key: checked(f"retention.{key}", value, RETENTION_KEYS[key], source)
            for key, value in retention.items()
        }
        layers.insert(0, (source, "retention", rules))
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, key, value in layers:
        values[key] = value
        if key == "retention":
            origins.update({f"retention.{state}": origin for state in value})
        elif key == "history_retention":
            origins["retention.history"] = origin
        else:
            origins[f"scheduler.{key}"] = origin
    cats = {name: category_config(name, table, source) for name, table in categories.items()}
    for name, table in categories.items():
        origins.update({f"categories.{name}.{key}": source for key in table})
    limits = handler_limits(data.get("handlers", {}), source)
    for name, table in data.get("handlers", {}).items():
        origins.update({f"handlers.{name}.{key}": source for key in table})
    scheduler_config = _validated_layers(layers, cats, source, limits)
    if "schedules" in data:
        specs = schedules_from(data["schedules"], source)
        scheduler_config = replace(scheduler_config, schedules=specs)
        origins.update({f"schedules.{k}": source for entry in data["schedules"] for k in entry})

    file_db = None
    if "db" in storage:  # checked even when --db or JOBSCHED_DB overrides it
        file_db = checked("storage.db", storage["db"], STORAGE_KEYS["db"], source)
        if folder is not None and "://" not in file_db and not os.path.isabs(file_db):
            file_db = str(folder / file_db)
    db_url, db_origin = _pick_db(db, env, file_db, source)
    if db_origin != DEFAULT:
        origins["storage.db"] = db_origin
    if named is not None:
        origins["config"] = named_by
    web_token, token_origin = _pick_token(env, web, source)
    if token_origin != DEFAULT:
        origins["web.token"] = token_origin
    listen = None
    if "listen" in metrics:
        listen = checked("metrics.listen", metrics["listen"], METRICS_KEYS["listen"], source)
        origins["metrics.listen"] = source
    overrides = {k: v for k, v in flags.items() if v is not None}
    paths = tuple(dict.fromkeys(str(p) for p in (base, folder) if p is not None))
    return Settings(scheduler_config, db_url, source, overrides, origins, paths, web_token, listen)


def _named_config(
    flag: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> tuple[str | os.PathLike[str] | None, str]:
    if flag is not None:
        return flag, "flag --config"
    if env.get("JOBSCHED_CONFIG"):
        return env["JOBSCHED_CONFIG"], "env JOBSCHED_CONFIG"
    return None, DEFAULT


def _pick_db(
    flag: str | None, env: Mapping[str, str], file_db: str | None, source: str
) -> tuple[str, str]:
    if flag:
        return flag, "flag --db"
    if env.get("JOBSCHED_DB"):
        return env["JOBSCHED_DB"], "env JOBSCHED_DB"
    if file_db is not None:
        return file_db, source
    return DEFAULT_DB, DEFAULT


def _pick_token(
    env: Mapping[str, str], web: Mapping[str, Any], source: str
) -> tuple[str | None, str]:
    if "token" in web:  # checked even when the environment overrides it
        checked("web.token", web["token"], WEB_KEYS["token"], source)
    if env.get(WEB_TOKEN_ENV):
        return env[WEB_TOKEN_ENV], f"env {WEB_TOKEN_ENV}"
    if web.get("token"):
        return str(web["token"]), source
    return None, DEFAULT


#: One explicitly set [scheduler] value: (where it came from, key, value).
_Layer = tuple[str, str, Any]


def _scheduler_layers(
    table: Mapping[str, Any], env: Mapping[str, str], flags: Mapping[str, Any], source: str
) -> list[_Layer]:
    """The file's values, then each environment variable, then each flag: later wins."""
    layers: list[_Layer] = [
        (source, key, checked(f"scheduler.{key}", value, SCHEDULER_KEYS[key], source))
        for key, value in table.items()
    ]
    for var, key in ENV_KEYS.items():
        raw = env.get(var)
        if raw is not None and raw != "":
            layers.append((f"env {var}", key, _from_env(var, raw, key)))
    for key, value in flags.items():
        if value is None:
            continue
        if key not in SCHEDULER_KEYS:
            raise ConfigError(
                "setting", key, "is not a scheduler setting", f"Known: {', '.join(SCHEDULER_KEYS)}"
            )
        layers.append((f"flag {FLAG_NAMES.get(key, '--' + key)}", key, value))
    return [(o, k, tuple(v) if k == "handlers" else v) for o, k, v in layers]


def _validated_layers(
    layers: Sequence[_Layer],
    categories: Mapping[str, CategoryConfig],
    source: str,
    handler_limits: Mapping[str, HandlerLimit],
) -> SchedulerConfig:
    """The validated config of all layers; if it is invalid, the error names the first
    source (the file, an environment variable, a flag) whose value made it so."""
    values = {key: value for _, key, value in layers}
    try:
        return SchedulerConfig(
            **values, categories=categories, handler_limits=handler_limits
        ).validate()
    except ConfigError as final:
        error = final
    # Apply the file's values as one stage, then every other value as a stage of its own.
    stages: list[tuple[str, dict[str, Any]]] = [(source, {})]
    for origin, key, value in layers:
        if origin == source:
            stages[0][1][key] = value
        else:
            stages.append((origin, {key: value}))
    blame, partial = source, {}
    for origin, stage in stages:
        partial.update(stage)
        try:
            SchedulerConfig(
                **partial, categories=categories, handler_limits=handler_limits
            ).validate()
        except ConfigError as exc:
            error, blame = exc, origin
            break
    where = blame.replace("env ", "environment variable ", 1) if blame.startswith("env ") else blame
    raise ConfigError(f"{where}: {error.what}", error.value, error.why, error.hint) from None


# --- reading -------------------------------------------------------------------------


def _from_env(var: str, raw: str, key: str) -> Any:
    label, ok = SCHEDULER_KEYS[key]
    if key == "handlers":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    try:
        value: int | float = int(raw) if label == INT_LABEL else float(raw)
    except ValueError:
        raise ConfigError(
            f"environment variable {var}", raw, f"must be {label}", "Fix or unset it"
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"environment variable {var}", raw, "must be finite", "Fix or unset it")
    return value


def _validated(config: SchedulerConfig, source: str) -> SchedulerConfig:
    try:
        return config.validate()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.what}", exc.value, exc.why, exc.hint) from None
