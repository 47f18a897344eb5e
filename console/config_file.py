"""The configuration file: where the TOML is read from, its tables and their keys, and
the check of each value's type. Every problem is a :class:`core.ConfigError` naming the
key and the file (:mod:`console.settings` layers the file under the environment and the
flags)."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from jobsched.core import CategoryConfig, ConfigError
from jobsched.core.limits import HandlerLimit

LOCAL_CONFIG = "jobsched.toml"
DEMO_CONFIG = "demo/jobsched.toml (packaged)"

_NUMBER = "a number"
#: the label of a whole-number key in messages (also for environment variables)
INT_LABEL = "a whole number"
_STR = "a string"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


#: A TOML key's expected type: (label for messages, checker).
Check = tuple[str, Callable[[object], bool]]

SCHEDULER_KEYS: dict[str, Check] = {
    "workers": (INT_LABEL, _is_int),
    "balance_interval": (_NUMBER, _is_number),
    "cooldown": (_NUMBER, _is_number),
    "handlers": ("a list of module names", _is_str_list),
    "poll_interval": (_NUMBER, _is_number),
    "grace_period": (_NUMBER, _is_number),
    "prefetch": (INT_LABEL, _is_int),
    "retry_base": (_NUMBER, _is_number),
    "retry_max": (_NUMBER, _is_number),
    "heartbeat_interval": (_NUMBER, _is_number),
    "commit_linger": (_NUMBER, _is_number),
    "max_result_bytes": (INT_LABEL, _is_int),
}
CATEGORY_KEYS: dict[str, Check] = {
    "kind": (_STR, _is_str),
    "priority": (_NUMBER, _is_number),
    "min_workers": (INT_LABEL, _is_int),
    "max_workers": (INT_LABEL, _is_int),
    "max_attempts": (INT_LABEL, _is_int),
    "timeout": (_NUMBER, _is_number),
    "rate": (_STR, _is_str),
    "burst": (INT_LABEL, _is_int),
}
HANDLER_KEYS: dict[str, Check] = {"rate": (_STR, _is_str), "burst": (INT_LABEL, _is_int)}
STORAGE_KEYS: dict[str, Check] = {"db": (_STR, _is_str)}


def _is_rule(value: object) -> bool:
    return _is_str(value) or _is_int(value)


#: [retention]: how long finished tasks are kept, per state, and the history by the
#: minute (``history``, SchedulerConfig.history_retention); see core/retention.py.
RETENTION_KEYS: dict[str, Check] = {
    **{
        state: ('a duration such as "7d", a count, or "forever"', _is_rule)
        for state in ("succeeded", "failed", "cancelled")
    },
    "history": ('a duration such as "48h", or "forever"', _is_str),
}
#: The [retention] key that is not a finished state's rule.
HISTORY_KEY = "history"
WEB_KEYS: dict[str, Check] = {"token": (_STR, _is_str)}
METRICS_KEYS: dict[str, Check] = {"listen": (_STR, _is_str)}
#: The tables whose keys are all settings (categories and handlers hold named tables).
FLAT_TABLES: dict[str, dict[str, Check]] = {
    "scheduler": SCHEDULER_KEYS, "storage": STORAGE_KEYS, "web": WEB_KEYS,
    "retention": RETENTION_KEYS, "metrics": METRICS_KEYS,
}  # fmt: skip
TABLES = (
    "scheduler", "categories", "handlers", "storage", "web", "schedules", "metrics", "retention",
)  # fmt: skip


def read_toml_text(
    named: str | os.PathLike[str] | None, base: Path, named_by: str = "--config"
) -> tuple[str, str, Path | None]:
    """(text, source description, folder for relative paths)."""
    if named is not None:
        path = Path(named)
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            why = (
                "is a directory" if path.is_dir()
                else "does not exist" if not path.exists()
                else "is not a regular file (a device, FIFO or socket)"
            )  # fmt: skip
            raise ConfigError(
                "config file",
                os.fspath(named),
                f"{why} (named by {named_by})",
                "Check --config or JOBSCHED_CONFIG, or leave both unset for the demo",
            )
        return _read(path, os.fspath(named)), os.fspath(named), path.parent
    local = base / LOCAL_CONFIG
    if local.is_file():
        return _read(local, LOCAL_CONFIG), LOCAL_CONFIG, local.parent
    text = resources.files("jobsched.demo").joinpath("jobsched.toml").read_text(encoding="utf-8")
    return text, DEMO_CONFIG, None


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = "is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "is unreadable"
        raise ConfigError(
            "config file", shown, f"{why} ({exc})", "Check its permissions and encoding"
        ) from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "config file", source, f"is not valid TOML ({exc})", "Fix the line named"
        ) from None


def split_tables(
    data: Mapping[str, Any], source: str
) -> tuple[
    dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]
]:
    """The file's tables (scheduler, categories, storage, web, metrics, retention), each
    key checked against what the table knows."""
    for key, value in data.items():
        if key not in TABLES:
            raise unknown_key(key, list(TABLES), source)
        if key != "schedules" and not isinstance(value, dict):
            raise wrong_type(key, value, "a table", source)
    flat = {}
    for table, known in FLAT_TABLES.items():
        flat[table] = dict(data.get(table, {}))
        for key in flat[table]:
            if key not in known:
                raise unknown_key(f"{table}.{key}", [f"{table}.{k}" for k in known], source)
    categories = dict(data.get("categories", {}))
    for name, table in categories.items():
        if not isinstance(table, dict):
            raise wrong_type(f"categories.{name}", table, "a table", source)
        for key in table:
            if key not in CATEGORY_KEYS:
                raise unknown_key(
                    f"categories.{name}.{key}",
                    [f"categories.{name}.{k}" for k in CATEGORY_KEYS],
                    source,
                )
    return (flat["scheduler"], categories, flat["storage"], flat["web"], flat["metrics"],
            flat["retention"])  # fmt: skip


def handler_limits(tables: Any, source: str) -> dict[str, HandlerLimit]:
    """``[handlers."web.fetch"] rate = "5/s"`` (and ``burst``) per handler."""
    if not isinstance(tables, dict):
        raise wrong_type("handlers", tables, "a table", source)
    limits = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise wrong_type(f"handlers.{name}", table, "a table", source)
        for key, value in table.items():
            if key not in HANDLER_KEYS:
                raise unknown_key(
                    f"handlers.{name}.{key}", [f"handlers.{name}.{k}" for k in HANDLER_KEYS], source
                )
            checked(f"handlers.{name}.{key}", value, HANDLER_KEYS[key], source)
        if "rate" not in table:
            raise ConfigError(
                f"{source}: handlers.{name}", table, "has no rate", 'Add e.g. rate = "5/s"'
            )
        limits[name] = HandlerLimit(table["rate"], table.get("burst"))
    return limits


def category_config(name: str, table: Mapping[str, Any], source: str) -> CategoryConfig:
    values = {
        key: checked(f"categories.{name}.{key}", value, CATEGORY_KEYS[key], source)
        for key, value in table.items()
    }
    return CategoryConfig(**values)


def checked(key: str, value: object, check: Check, source: str) -> Any:
    label, ok = check
    if not ok(value):
        raise wrong_type(key, value, label, source)
    return value


def unknown_key(key: str, known: Sequence[str], source: str) -> ConfigError:
    hint = f"Known keys: {', '.join(known)}"
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        hint = f"Did you mean {close[0]!r}? {hint}"
    return ConfigError(f"{source}: unknown key", key, "is not a jobsched setting", hint)


def wrong_type(key: str, value: object, label: str, source: str) -> ConfigError:
    return ConfigError(f"{source}: key {key}", value, f"must be {label}", "Fix the value")
