"""Given the checkout, when a wheel is built from it, then it installs exactly one top-level
import package, `jobsched`, with the engine, the stores, the console and the demo under it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_wheel_has_one_top_level_name(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("jobsched", "core", "storage", "console", "demo"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("jobsched-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"jobsched"}
    for module in (
        "core/scheduler.py",
        "storage/__init__.py",
        "console/cli.py",
        "demo/jobsched.toml",
        "__init__.py",
    ):
        assert f"jobsched/{module}" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "jobsched = jobsched.console.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
