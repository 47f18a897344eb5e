"""One measurement in a fresh process: ``python -m bench.child SYSTEM SCENARIO PARAMS``.

``PARAMS`` is a JSON object of keyword arguments for the runner's scenario function. The
last line of stdout is ``RESULT <json>``; anything before it is the runner's own output.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

RESULT = "RESULT "


def main(argv: list[str]) -> None:
    from bench.systems import SYSTEMS

    system, scenario, params = argv[0], argv[1], json.loads(argv[2])
    params = {**SYSTEMS[system].options, **params}
    module = importlib.import_module(f"bench.systems.{SYSTEMS[system].module}")
    run = getattr(module, scenario)
    finish = None
    if os.environ.get("BENCH_CPROFILE"):  # bench/profiling.py without py-spy
        from bench.profiling import cprofile_threads

        finish = cprofile_threads(os.environ["BENCH_CPROFILE"])
    with tempfile.TemporaryDirectory(prefix="jobsched-bench-") as tmp:
        result = run(Path(tmp), **params)
    if finish is not None:
        finish()
    print(RESULT + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
