"""Helpers for the CLI tests: a config and database under ``tmp_path``, a CliRunner bound
to them, a real ``jobsched run`` child process, and polling with a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jobsched.console.cli import app
from jobsched.core import TaskRecord
from jobsched.storage import open_store
from typer.testing import CliRunner, Result

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
[scheduler]
workers = 4
balance_interval = 1.0
cooldown = 0
heartbeat_interval = 0.5
grace_period = 5
handlers = ["tests.console.cli_handlers"]

[categories.a]
kind = "fire-and-forget"
priority = 1
max_workers = 4

[categories.b]
kind = "request-response"
priority = 1
"""

#: JOBSCHED_* variables a developer's shell may set; the tests pin or clear them all.
ENV_NAMES = ("JOBSCHED_DB", "JOBSCHED_CONFIG", "JOBSCHED_WORKERS", "JOBSCHED_BALANCE_INTERVAL",
             "JOBSCHED_GRACE_PERIOD", "JOBSCHED_POLL_INTERVAL", "JOBSCHED_HANDLERS",
             "JOBSCHED_WEB_TOKEN")  # fmt: skip

T = TypeVar("T")


def poll(
    check: Callable[[], T | None], timeout: float, interval: float = 0.02, what: str = "condition"
) -> T:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        pause.wait(interval)


@dataclass
class Cli:
    """A config file and a database path under one folder, and a runner bound to them."""

    root: Path
    db: Path
    config: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def env(self, **extra: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = dict.fromkeys(ENV_NAMES)
        env.update(JOBSCHED_DB=str(self.db), JOBSCHED_CONFIG=str(self.config))
        env.update(extra)
        return env

    def __call__(
        self, *args: str, env: dict[str, str | None] | None = None, input: str | None = None
    ) -> Result:
        return self.runner.invoke(app, list(args), env=self.env(**(env or {})), input=input)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    def task(self, task_id: int) -> TaskRecord:
        with self.store() as store:
            task = store.get(task_id)
        assert task is not None
        return task

    @contextmanager
    def store(self) -> Iterator[Any]:
        store = open_store(str(self.db))
        store.open(None)
        try:
            yield store
        finally:
            store.close()

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
        env.update(JOBSCHED_DB=str(self.db), JOBSCHED_CONFIG=str(self.config), PYTHONPATH=str(REPO))
        return env


def make_cli(tmp_path: Path, config: str = CONFIG) -> Cli:
    path = tmp_path / "test.toml"
    path.write_text(config, encoding="utf-8")
    return Cli(root=tmp_path, db=tmp_path / "jobs.db", config=path)


def one_line_error(result: Result, code: int, *words: str) -> str:
    """Assert the exit code and a single ``Error: ...`` line on stderr, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


class Node:
    """A ``jobsched run`` child process on the test's database."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.cli = cli
        self.log = cli.root / f"node-{time.monotonic_ns()}.err"
        self._err = open(self.log, "wb")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobsched.console.cli", "run", *args],
            cwd=cli.root, env=cli.child_env(), stdout=subprocess.DEVNULL, stderr=self._err,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_up(self, timeout: float = 60.0) -> None:
        """Wait until the node's heartbeat is in the store (it started and recovered)."""

        def up() -> bool:
            assert self.proc.poll() is None, f"node exited early:\n{self.stderr()}"
            if not self.cli.db.exists():
                return False
            with self.cli.store() as store:
                return any(n.pid == self.pid and not n.stopped for n in store.nodes())

        poll(up, timeout, interval=0.05, what="node heartbeat")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._err.close()

    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if not self._err.closed:
            self._err.close()
