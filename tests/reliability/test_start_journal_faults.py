"""The start journal (``<db>.starts``) against a deleted file and a huge one: a missing
journal never turns waiting tasks into orphans, and a 1 GiB sparse file is not read whole."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from jobsched.storage.sqlite import startlog
from jobsched.storage.sqlite.startlog import StartJournal

from tests.console.cli_support import Node, poll
from tests.reliability.node_support import lines, process_cli


@pytest.mark.timeout(90)
def test_tasks_waiting_in_the_fifo_lose_nothing_when_the_journal_was_deleted(
    tmp_path: Path,
) -> None:
    # Given a node with one worker for category a, running one task (max_attempts=1)
    # while others wait claimed in its FIFO, and its journal deleted meanwhile
    cli = process_cli(tmp_path)
    started = tmp_path / "started.log"
    first = Node(cli)
    second = None
    try:
        first.wait_up()
        payload = json.dumps({"log": str(started), "seconds": 60})
        for _ in range(4):
            assert cli("submit", "a.hold", "--payload", payload).exit_code == 0

        def claimed_beyond_the_running_one() -> bool:
            with cli.store() as store:
                return len(store.list_tasks(state="running")) >= 2 and bool(lines(started))

        poll(claimed_beyond_the_running_one, 15, what="tasks claimed into the FIFO")
        Path(f"{cli.db}.starts").unlink()
        # When the node is killed and a new one starts (its recovery reads no journal)
        first.signal(signal.SIGKILL)
        first.wait(15)
        began = {int(line.split()[1]) for line in lines(started)}
        second = Node(cli)
        second.wait_up()
        # Then no task that never began ended failed/orphaned
        for task_id in range(1, 5):
            if task_id not in began:
                task = cli.task(task_id)
                assert task.state != "failed", (task_id, task.state, task.reason)
    finally:
        first.kill()
        if second is not None:
            second.kill()


def _bytes_read() -> int:
    with open("/proc/self/io", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))


@pytest.mark.timeout(60)
def test_a_huge_sparse_journal_is_not_read_whole(tmp_path: Path) -> None:
    if not Path("/proc/self/io").exists():
        pytest.skip("needs /proc/self/io to count the bytes read")
    # Given a 1 GiB sparse journal whose first bytes are two starts
    path = tmp_path / "jobs.db.starts"
    with open(path, "wb") as fh:
        fh.write(b"7 1\n8 2\n")
        fh.truncate(1 << 30)
    journal = StartJournal(str(path))
    # When recovery reads it
    before = _bytes_read()
    starts = journal.read()
    read = _bytes_read() - before
    # Then it gets the starts and reads no more than a bounded prefix
    assert starts == {(7, 1), (8, 2)}
    assert read <= 2 << 20, read


@pytest.mark.timeout(60)
def test_a_journal_larger_than_any_a_node_writes_is_cut_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a journal file longer than the most a node ever writes, with no zero byte
    monkeypatch.setattr(startlog, "MAX_READ", 1 << 20)
    path = tmp_path / "jobs.db.starts"
    line = b"1 1\n"
    path.write_bytes(line * ((2 << 20) // len(line)) + b"2 1\n")
    # When it is read, Then the read stops at MAX_READ and says so
    before = _bytes_read() if Path("/proc/self/io").exists() else 0
    assert StartJournal(str(path)).read() == {(1, 1)}
    if before:
        assert _bytes_read() - before <= (1 << 20) + 4096
    assert "larger than" in caplog.text
