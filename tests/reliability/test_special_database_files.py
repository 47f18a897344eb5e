"""A database path that names a FIFO, a socket or a directory is refused at once (exit 3,
one line) by every command, before anything opens it: reading a FIFO's header would wait
forever for a writer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from jobsched.core.errors import StoreUnavailableError
from jobsched.storage.sqlite.schema import check_links

from tests.console.cli_support import make_cli

pytestmark = pytest.mark.timeout(120)

COMMANDS = [("status",), ("submit", "b.echo", "--payload", "1"), ("run", "--for", "1")]


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobsched.console.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_fifo_as_the_database_is_refused_without_hanging(
    tmp_path: Path, args: tuple[str]
) -> None:
    # Given a FIFO where the database should be
    cli = make_cli(tmp_path)
    os.mkfifo(cli.db)
    # When a command opens it (bounded: a hang fails with TimeoutExpired)
    done = run_cli(cli.child_env(), tmp_path, *args)
    # Then it exits 3 with one line naming the path and what it is
    assert done.returncode == 3, (done.returncode, done.stderr)
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: "), done.stderr
    assert str(cli.db) in err[0] and "FIFO" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.db", "test.toml"]


def test_a_socket_as_the_database_is_refused(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(cli.db))
        done = run_cli(cli.child_env(), tmp_path, "status")
    finally:
        server.close()
    assert done.returncode == 3, done.stderr
    assert "socket" in done.stderr and str(cli.db) in done.stderr


def test_a_database_with_a_second_hard_link_is_refused_untouched(tmp_path: Path) -> None:
    """SQLite names its write-ahead log after the path: a node on one name and a submit
    through another would write two logs for one file, and corrupt it."""
    # Given a jobsched database that also has a second name
    cli = make_cli(tmp_path)
    assert cli("status").exit_code == 0  # creates it
    other = tmp_path / "other.db"
    os.link(cli.db, other)
    before = cli.db.read_bytes()
    # When a command opens it by either name
    for path in (cli.db, other):
        env = {**cli.child_env(), "JOBSCHED_DB": str(path)}
        done = run_cli(env, tmp_path, "submit", "b.echo", "--payload", "1")
        # Then it exits 3 with one line naming the path and the links, and writes nothing
        assert done.returncode == 3, (done.returncode, done.stderr)
        err = done.stderr.strip().splitlines()
        assert len(err) == 1 and "hard links" in err[0] and str(path) in err[0], done.stderr
    assert cli.db.read_bytes() == before
    assert not (tmp_path / "other.db-wal").exists()


def test_a_symbolic_link_to_the_database_is_the_same_database(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    assert cli("status").exit_code == 0  # creates it
    link = tmp_path / "link.db"
    link.symlink_to(cli.db)
    env = {**cli.child_env(), "JOBSCHED_DB": str(link)}
    done = run_cli(env, tmp_path, "submit", "b.echo", "--payload", "1")
    assert done.returncode == 0, done.stderr
    with cli.store() as store:
        assert [t.id for t in store.list_tasks()] == [1]


def test_a_database_whose_creator_drops_its_temporary_name_meanwhile_is_accepted(
    tmp_path: Path,
) -> None:
    """A new database is linked into place from a temporary name, which its creator then
    removes. A process that counted two names just before that removal, and looks at the
    folder just after it, must not take the file for one with a second hard link."""
    # Given a database seen (stat) while it still had its creator's temporary name
    cli = make_cli(tmp_path)
    assert cli("status").exit_code == 0  # creates it
    temporary = tmp_path / f"{cli.db.name}.new-123-456"
    os.link(cli.db, temporary)
    seen = os.stat(cli.db)
    assert seen.st_nlink == 2
    # When the creator removes that name before the check looks at the folder
    temporary.unlink()
    # Then the check accepts the file
    check_links(str(cli.db), str(cli.db), seen)


def test_a_second_name_seen_before_and_still_there_is_refused(tmp_path: Path) -> None:
    # Given a database with a second name that is not a creator's temporary one
    cli = make_cli(tmp_path)
    assert cli("status").exit_code == 0
    os.link(cli.db, tmp_path / "other.db")
    seen = os.stat(cli.db)
    # When checked, then it is refused, naming the links
    with pytest.raises(StoreUnavailableError, match="2 hard links"):
        check_links(str(cli.db), str(cli.db), seen)
