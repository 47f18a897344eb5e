"""The start journal (``<db>.starts``): a memory-mapped file of ``<id> <attempt>`` lines
that must survive the process being killed, and stay small however long the node runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from jobsched.storage.sqlite.startlog import StartJournal

ROOT = Path(__file__).resolve().parents[3]


def test_starts_and_ends_read_back(tmp_path: Path) -> None:
    journal = StartJournal(str(tmp_path / "j.starts"))
    assert journal.read() is None  # no file: recovery must count every claim
    journal.reset()
    journal.record(1, 1)
    journal.record(2, 1)
    journal.record(3, 2)
    journal.forget([1, 3], [1, 2])
    journal.close()
    assert StartJournal(journal.path).read() == {(2, 1)}


def test_a_full_journal_is_rewritten_with_only_the_unfinished_starts(tmp_path: Path) -> None:
    # Given a small journal and a long run where every 100th task is still running
    journal = StartJournal(str(tmp_path / "j.starts"), rotate_bytes=256)
    journal.reset()
    for task_id in range(1, 3001):
        journal.record(task_id, 1)
        if task_id % 100:
            journal.forget([task_id], [1])
    # Then the file stayed small (3,000 starts and ends would take 36 KB; the 30 still
    # open take 200 bytes, and a full file at least twice that) and holds exactly them
    assert os.path.getsize(journal.path) <= 1024
    assert journal.read() == {(i, 1) for i in range(100, 3001, 100)}
    journal.close()


def test_a_journal_grows_when_the_unfinished_starts_do_not_fit(tmp_path: Path) -> None:
    journal = StartJournal(str(tmp_path / "j.starts"), rotate_bytes=64)
    journal.reset()
    for task_id in range(1, 201):
        journal.record(task_id, 1)
    assert journal.read() == {(i, 1) for i in range(1, 201)}
    journal.close()


def test_a_torn_line_and_the_zero_tail_are_ignored_and_kept_when_appending(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.starts"
    path.write_bytes(b"5 1\n6 2\n-6 2\n7" + b"\0" * 100)
    assert StartJournal(str(path)).read() == {(5, 1)}
    # When a node appends without resetting (recovery has not run yet)
    journal = StartJournal(str(path))
    journal.record(9, 1)
    journal.close()
    assert StartJournal(str(path)).read() == {(5, 1), (9, 1)}


@pytest.mark.timeout(30)
def test_a_start_survives_sigkill_right_after_it_is_recorded(tmp_path: Path) -> None:
    # Given a process that records two starts and is killed at once, with no close or flush
    path = tmp_path / "j.starts"
    code = (
        "import os, signal, sys\n"
        "from jobsched.storage.sqlite.startlog import StartJournal\n"
        "j = StartJournal(sys.argv[1]); j.reset(); j.record(7, 1); j.record(8, 2)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        timeout=20,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    # Then both starts are in the file
    assert StartJournal(str(path)).read() == {(7, 1), (8, 2)}


FULL_DISK_CHILD = """
import os, sys
from jobsched.storage.sqlite.startlog import StartJournal
folder = sys.argv[1]
with open(os.path.join(folder, "filler"), "wb") as f:  # leave two pages free
    f.write(b"x" * (64 * 1024 - 2 * 4096))
journal = StartJournal(os.path.join(folder, "jobs.db.starts"))
try:
    journal.reset()
    print("reset ok", flush=True)
except OSError as exc:
    print("reset raised", exc.errno, flush=True)
try:
    for task_id in range(1, 20_001):  # 200 KB of lines: more than the disk has
        journal.record(task_id, 1)
    print("record ok", flush=True)
except OSError as exc:
    print("record raised", exc.errno, flush=True)
"""


@pytest.mark.timeout(30)
def test_a_full_disk_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # Given a 64 KiB file system with two pages free (a private tmpfs mount)
    mount = tmp_path / "small"
    mount.mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {mount}"],
        capture_output=True,
        timeout=10,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {probe.stderr.decode().strip()}")
    script = tmp_path / "child.py"
    script.write_text(FULL_DISK_CHILD)
    # When a journal is started and a start recorded there
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f'mount -t tmpfs -o size=64k tmpfs {mount} && exec "{sys.executable}" {script} {mount}'],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        timeout=20,
    )  # fmt: skip
    # Then both fail with "no space" (ENOSPC), which the store and the worker report,
    # and the process lives (a sparse memory map would have died of SIGBUS)
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode()[-1000:])
    assert proc.stdout.decode().split("\n")[:2] == ["reset raised 28", "record raised 28"]


def test_the_end_of_an_attempt_does_not_end_the_next_one_in_the_start_journal(
    tmp_path: Path,
) -> None:
    # Given a journal where attempt 2 of a task began before attempt 1's end was noted
    journal = StartJournal(str(tmp_path / "jobs.db.starts"))
    journal.reset()
    journal.record(5, 1)
    journal.record(5, 2)
    # When attempt 1's end is noted
    journal.forget([5], [1])
    journal.close()
    # Then attempt 2 still reads as begun
    assert StartJournal(journal.path).read() == {(5, 1), (5, 2)}


def test_a_journal_deleted_while_in_use_is_written_again_at_the_next_end(tmp_path: Path) -> None:
    # Given a journal with two unfinished starts, deleted from under its owner
    path = tmp_path / "j.starts"
    journal = StartJournal(str(path))
    journal.reset()
    journal.record(1, 1)
    journal.record(2, 1)
    path.unlink()
    # When one run ends
    journal.forget([1])
    # Then the file is back, holding the start that is still unfinished
    assert StartJournal(str(path)).read() == {(2, 1)}
    journal.close()
