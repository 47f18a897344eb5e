"""A config for ``jobsched run`` children that use :mod:`tests.reliability.process_handlers`."""

from __future__ import annotations

from pathlib import Path

from tests.console.cli_support import Cli, make_cli

CONFIG = """\
[scheduler]
workers = 2
balance_interval = 1.0
cooldown = 0
heartbeat_interval = 0.5
grace_period = 3
handlers = ["tests.reliability.process_handlers"]

[categories.a]
kind = "fire-and-forget"
priority = 1
min_workers = 1
max_workers = 1

[categories.b]
kind = "request-response"
priority = 1
min_workers = 1
"""


def process_cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path, CONFIG)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
