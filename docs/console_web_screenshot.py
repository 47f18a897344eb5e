"""Save docs/console-web.png: ``jobsched console --web --demo`` in a browser.

    python docs/console_web_screenshot.py [--seconds 15] [--chromium PATH]

Starts the served console on the demo workload (a SQLite file in a temporary folder),
opens its page in the system's headless Chromium through Playwright, waits until the
terminal shows the categories panel and the workload has run a while, then saves a
screenshot of the page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.console.web_support import CAPTURE_TERMINAL, READY, free_port, screen  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--chromium", default=shutil.which("chromium"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "console-web.png"))
    args = parser.parse_args()
    if not args.chromium:
        sys.exit("no chromium on PATH (Debian: apt-get install chromium); or give --chromium")
    from playwright.sync_api import sync_playwright

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSCHED_")}
        server = subprocess.Popen(
            [sys.executable, "-m", "jobsched.console.cli", "console", "--demo",
             "--db", "jobsched.db", "--web", f"127.0.0.1:{port}"],
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_ready(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium)
                page = browser.new_page(viewport={"width": 1400, "height": 860})
                page.add_init_script(CAPTURE_TERMINAL)
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function("() => window.__terminal !== undefined", timeout=30_000)
                page.wait_for_function(
                    "() => { const b = window.__terminal.buffer.active; const rows = [];"
                    " for (let i = 0; i < 8; i++) rows.push(b.getLine(i).translateToString());"
                    " return rows.join('').includes('Categories'); }",
                    timeout=30_000,
                )
                page.wait_for_timeout(args.seconds * 1000)  # let the workload fill the panels
                page.screenshot(path=args.out)
                rows = screen(page).splitlines()
                print(rows[0].strip())
                print("\n".join(rows[-3:]))
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    print(f"saved {args.out}")


def _wait_ready(server: subprocess.Popen[str]) -> None:
    ready = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            if READY in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(30):
        sys.exit("the server did not say where it listens within 30 s")


if __name__ == "__main__":
    main()
