"""Save docs/console.svg: the console running the demo workload, as the README shows it.

    python docs/console_screenshot.py [--seconds 18]

Runs what ``jobsched console --demo`` runs (the demo configuration on a SQLite file in a
temporary folder, the demo servers and workload), with the app headless, then asks the
app to save its own screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobsched.console.compose import build_app  # noqa: E402
from jobsched.console.local import LocalNode  # noqa: E402
from jobsched.console.root import build_scheduler  # noqa: E402
from jobsched.console.settings import load_settings  # noqa: E402
from jobsched.demo.servers import DemoServers  # noqa: E402
from jobsched.demo.workload import DemoWorkload  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=18.0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "console.svg"))
    args = parser.parse_args()
    out = Path(args.out).resolve()
    with tempfile.TemporaryDirectory() as tmp, DemoServers() as servers:
        os.chdir(tmp)  # the status line shows the store as given: ./jobsched.db
        settings = load_settings(None, "jobsched.db", env={}, cwd=tmp)
        sched = build_scheduler(settings).start()
        workload = DemoWorkload(sched, seed=1).start()
        app = build_app(LocalNode(sched), demo=f"demo: {servers.describe()}")

        async def run() -> None:
            async with app.run_test(size=(130, 42)) as pilot:
                await pilot.pause(args.seconds)
                app.save_screenshot(out.name, str(out.parent))

        try:
            asyncio.run(run())
        finally:
            workload.stop()
            sched.stop(grace=0)
            os.chdir(ROOT)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
