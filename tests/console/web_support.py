"""Helpers for the ``jobsched console --web`` tests: the server as a real child process,
and the system's Chromium driven by Playwright, reading what the page's terminal shows."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from .cli_support import Cli

READY = "console served at "

#: Run before the page's scripts: textual-serve's page keeps its xterm.js terminal in a
#: closure, so the first object assigned to a ``terminal`` property that has a buffer is
#: kept on ``window`` for :data:`READ_SCREEN`.
CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true,
                                             enumerable: true});
    if (value && value.buffer && !window.__terminal) window.__terminal = value;
  },
});
"""

#: The terminal's screen as text, one line per row (null before the terminal exists).
READ_SCREEN = """() => {
  const term = window.__terminal;
  if (!term) return null;
  const buffer = term.buffer.active, lines = [];
  for (let row = 0; row < term.rows; row++) {
    const line = buffer.getLine(buffer.viewportY + row);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium() -> str:
    """The system Chromium's path; skips the test without one (fails under CI=true, where
    .ci/run installs it)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    why = "no chromium on PATH (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"CI: {why}")
    pytest.skip(why)


def playwright_api() -> Any:
    """``playwright.sync_api`` (from the test extra); skips without it, fails under CI."""
    try:
        from playwright import sync_api
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI: playwright is not installed ({exc})")
        pytest.skip(f"playwright is not installed ({exc})")
    return sync_api


class WebServer:
    """``jobsched console --web`` as a child process on the test's database and config."""

    def __init__(self, cli: Cli, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jobsched.console.cli", "console", "--web",
             f"127.0.0.1:{self.port}", *args],
            cwd=cli.root, env={**cli.child_env(), **(env or {})}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY in line:
                self._ready.set()
        self._ready.set()  # the process ended: wait_ready reports it

    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self._ready.wait(timeout), f"no {READY!r} within {timeout} s:\n{self.output()}"
        assert self.proc.poll() is None, f"server exited:\n{self.output()}"

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise
        finally:
            self._reader.join(5)

    def sessions(self) -> dict[int, str]:
        """The processes this server started, by pid: their command lines (Linux /proc)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found: dict[int, str] = {}
        todo = [self.proc.pid]
        while todo:
            parent = todo.pop()
            for pid, ppid in parents.items():
                if ppid == parent:
                    todo.append(pid)
                    try:
                        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    found[pid] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        return found


def screen(page: Any) -> str:
    return page.evaluate(READ_SCREEN) or ""


def alive(pid: int) -> bool:
    """Whether a process runs with this pid (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
