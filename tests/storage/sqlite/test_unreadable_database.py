"""Given a database file the user cannot read, when a process opens it, then the error
says it cannot be read (not that it is not writable); a readable file that cannot be
written still says read-only. Root bypasses file modes, so the opening runs in a child
process that has given up root for ``nobody``."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobsched.storage import open_store

REPO = Path(__file__).resolve().parents[3]

OPEN_AS_NOBODY = """
import json, os, sys
# Everything is imported first: nobody may not be able to read this interpreter's files.
from jobsched.storage import open_store
from jobsched.core import StorageError
store = open_store(sys.argv[1])
os.setgroups([]); os.setgid(int(sys.argv[2])); os.setuid(int(sys.argv[3]))
try:
    store.open(sys.argv[4] or None)
    print(json.dumps({"error": None}))
    store.close()
except StorageError as exc:
    print(json.dumps({"error": str(exc), "code": exc.exit_code}))
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's own tmp tree is root's alone)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to give up its rights for another user's in a child")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user to open the file as")
    path = Path(tempfile.mkdtemp(prefix="jobsched-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _open_as_nobody(db: Path, node_id: str = "") -> dict[str, object]:
    nobody = pwd.getpwnam("nobody")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_AS_NOBODY, str(db), str(nobody.pw_gid), str(nobody.pw_uid),
         node_id],
        capture_output=True, text=True, timeout=60, env=env, cwd="/",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _make_db(path: Path) -> None:
    store = open_store(str(path))
    store.open(None)
    store.close()


@pytest.mark.timeout(60)
def test_a_database_file_the_user_cannot_read_is_reported_as_unreadable(
    shared_dir: Path,
) -> None:
    db = shared_dir / "jobs.db"
    _make_db(db)
    db.chmod(0o000)
    result = _open_as_nobody(db)
    assert "cannot be read (Permission denied)" in str(result["error"]), result
    assert "not writable" not in str(result["error"])
    assert result["code"] == 3


@pytest.mark.timeout(60)
def test_a_readable_database_the_user_cannot_write_is_still_reported_as_read_only(
    shared_dir: Path,
) -> None:
    db = shared_dir / "jobs.db"
    _make_db(db)
    db.chmod(0o644)  # readable by all, writable by root only
    result = _open_as_nobody(db, node_id="node-1")
    assert result["error"] is not None
    assert "cannot be read" not in str(result["error"]), result
    assert "read-only" in str(result["error"]) or "not writable" in str(result["error"]), result
