"""Handler modules are imported from the working directory, then from the config file's
directory, as a new user expects: a real ``jobsched`` process in a fresh folder, with no
PYTHONPATH. A module found nowhere is an error listing the directories searched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.console.cli_support import ENV_NAMES

pytestmark = pytest.mark.timeout(60)

#: The installed console script: unlike ``python -m``, it does not put the working
#: directory on sys.path by itself.
SCRIPT = Path(sys.executable).with_name("jobsched")

MODULE = """\
from jobsched import handler
import helpers  # a module beside this one


@handler("mine.hello", category="mine")
def hello(payload):
    return {"hello": helpers.NAME}
"""
CONFIG = """\
[scheduler]
workers = 1
handlers = ["myjobs"]

[categories.mine]
kind = "request-response"
"""


def jobsched(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES and k != "PYTHONPATH"}
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=50,
    )  # fmt: skip


def project(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "myjobs.py").write_text(MODULE, encoding="utf-8")
    (folder / "helpers.py").write_text('NAME = "beside"\n', encoding="utf-8")
    (folder / "jobsched.toml").write_text(CONFIG, encoding="utf-8")


def test_a_module_in_the_working_directory_is_found_and_runs(tmp_path: Path) -> None:
    project(tmp_path)
    listed = jobsched(tmp_path, "handlers", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"name": "mine.hello", "category": "mine", "module": "myjobs"}.items() <= next(
        row for row in json.loads(listed.stdout) if row["name"] == "mine.hello"
    ).items()
    submitted = jobsched(tmp_path, "submit", "mine.hello")
    assert submitted.returncode == 0, submitted.stderr
    ran = jobsched(tmp_path, "run", "--until-idle")
    assert ran.returncode == 0, ran.stderr
    result = jobsched(tmp_path, "result", submitted.stdout.strip())
    assert json.loads(result.stdout) == {"hello": "beside"}


def test_a_module_beside_the_config_file_is_found_from_elsewhere(tmp_path: Path) -> None:
    project(tmp_path / "proj")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(tmp_path / "proj" / "jobsched.toml")
    listed = jobsched(elsewhere, "handlers", "--config", config)
    assert listed.returncode == 0, listed.stderr
    assert "mine.hello" in listed.stdout


def test_a_missing_module_names_the_directories_searched(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "jobsched.toml").write_text(CONFIG.replace("myjobs", "nojobs"), encoding="utf-8")
    failed = jobsched(tmp_path, "handlers", "--config", str(conf / "jobsched.toml"))
    assert failed.returncode == 2
    line = failed.stderr.strip()
    assert line.startswith("Error: ") and "\n" not in line, failed.stderr
    assert "'nojobs'" in line and "searched" in line
    assert str(tmp_path) + "," in line and str(conf) + "," in line
    assert "Traceback" not in failed.stderr
