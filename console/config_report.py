"""``jobsched config``: the effective configuration, each value with where it came from.

The rows follow the TOML layout of docs/configuration.md: ``config`` (the file read),
``storage.db``, every ``scheduler.*`` key, every key of each ``categories.NAME`` table and
``retention.*``, ``web.token`` (only whether it is set), then ``metrics.listen``.
A value's origin is ``default``, the config file's path, ``env JOBSCHED_...`` or
``flag --...``.
"""

from __future__ import annotations

from typing import Any

from jobsched.core.retention import DEFAULT_RETENTION

from .config_file import CATEGORY_KEYS, HISTORY_KEY, RETENTION_KEYS, SCHEDULER_KEYS
from .settings import DEFAULT, Settings


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def config_rows(settings: Settings) -> list[dict[str, Any]]:
    """One ``{"key", "value", "from"}`` row per setting, in documentation order."""
    origins = settings.origins
    rows = [
        {"key": "config", "value": settings.source, "from": origins.get("config", DEFAULT)},
        {"key": "storage.db", "value": settings.db, "from": origins.get("storage.db", DEFAULT)},
    ]
    for key in SCHEDULER_KEYS:
        dotted = f"scheduler.{key}"
        value = _plain(getattr(settings.config, key))
        rows.append({"key": dotted, "value": value, "from": origins.get(dotted, DEFAULT)})
    for name, cat in settings.config.categories.items():
        for key in CATEGORY_KEYS:
            dotted = f"categories.{name}.{key}"
            value = getattr(cat, key)
            if key == "priority":
                value = float(value)
            rows.append({"key": dotted, "value": value, "from": origins.get(dotted, DEFAULT)})
    for key in RETENTION_KEYS:
        dotted = f"retention.{key}"
        if key == HISTORY_KEY:
            value: Any = settings.config.history_retention
        else:
            value = settings.config.retention.get(key, DEFAULT_RETENTION[key])
        rows.append({"key": dotted, "value": value, "from": origins.get(dotted, DEFAULT)})
    # A secret: whether it is set and where from, never its value.
    token = "(set)" if settings.web_token else None
    rows.append({"key": "web.token", "value": token, "from": origins.get("web.token", DEFAULT)})
    listen = settings.metrics_listen
    rows.append(
        {"key": "metrics.listen", "value": listen, "from": origins.get("metrics.listen", DEFAULT)}
    )
    return rows


def format_value(value: Any) -> str:
    """A value as it would be written in TOML (``none`` for an unset optional value)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def escape_text(text: str) -> str:
    """Control characters (from a file or the environment) shown as escapes, not sent to
    the terminal."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)
