"""Faults of the SQLite store: each one a typed error that names
the file and says what to do, and a refused file left byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from jobsched.core.errors import (
    ForeignDatabaseError,
    NodeLockedError,
    SchedulerStateError,
    SchemaTooNewError,
    StorageError,
    StoreBusyError,
    StoreCorruptError,
    StoreFullError,
    StoreMissingError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from jobsched.core.task import QUEUED
from jobsched.storage import APPLICATION_ID, SqliteStore, open_store
from jobsched.storage.sqlite import schema

from tests.store_contract import T0, new

REPO = Path(__file__).resolve().parents[3]
MakeStore = Callable[..., SqliteStore]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_database(make_store: MakeStore, path: Path, tasks: int = 3) -> str:
    """Given a closed jobsched database at ``path`` with ``tasks`` queued tasks; its hash."""
    store = make_store(path)
    store.open("setup")
    store.insert([new(payload=f'{{"i": {i}}}') for i in range(tasks)], T0)
    store.close()
    return digest(path)


def assert_refused(
    store: SqliteStore, error: type[Exception], path: Path, before: str, *words: str
) -> StorageError:
    lock = Path(f"{path}.lock")
    had_lock = lock.exists()
    with pytest.raises(error) as caught:
        store.open("node-a")
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message
    assert digest(path) == before, "a refused file must not be written"
    assert lock.exists() == had_lock, "no lock file next to a refused database"
    return caught.value  # type: ignore[return-value]


# --- files that are not ours -----------------------------------------------------------
def test_an_empty_file_is_refused_untouched(make_store: MakeStore, db_path: Path) -> None:
    db_path.touch()
    error = assert_refused(make_store(), ForeignDatabaseError, db_path, digest(db_path), "empty")
    assert error.exit_code == 3
    assert db_path.stat().st_size == 0


def test_a_file_that_is_not_sqlite_is_refused_untouched(
    make_store: MakeStore, db_path: Path
) -> None:
    db_path.write_bytes(b"name,email\n" + os.urandom(5000))
    assert_refused(make_store(), ForeignDatabaseError, db_path, digest(db_path), "not a SQLite")


def test_another_applications_database_is_refused_untouched(
    make_store: MakeStore, db_path: Path
) -> None:
    conn = sqlite3.connect(db_path)
    conn.executescript(f"PRAGMA application_id = {0x46524541}; CREATE TABLE photos (id INTEGER);")
    conn.close()
    assert_refused(make_store(), ForeignDatabaseError, db_path, digest(db_path), "0x46524541")


def test_a_sqlite_file_with_tables_but_no_mark_is_refused_untouched(
    make_store: MakeStore, db_path: Path
) -> None:
    conn = sqlite3.connect(db_path)
    conn.executescript("CREATE TABLE tasks (id INTEGER PRIMARY KEY, state TEXT);")
    conn.close()
    assert_refused(make_store(), ForeignDatabaseError, db_path, digest(db_path), "another program")


def test_a_blank_sqlite_file_is_adopted(make_store: MakeStore, db_path: Path) -> None:
    # Given a SQLite file with nothing in it (e.g. made by `sqlite3 jobs.db "VACUUM"`)
    conn = sqlite3.connect(db_path)
    conn.execute("VACUUM")
    conn.close()
    assert db_path.stat().st_size > 0
    store = make_store()
    store.open("node-a")
    assert store.insert([new()], T0) == [1]
    assert store.diagnostics()["schema_version"] == schema.schema_version()


# --- damaged or newer files --------------------------------------------------------------
def test_a_corrupt_file_is_refused_untouched(make_store: MakeStore, db_path: Path) -> None:
    make_database(make_store, db_path)
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)  # page 1 past the header: the schema b-tree
    db_path.write_bytes(bytes(data))
    error = assert_refused(make_store(), StoreCorruptError, db_path, digest(db_path), "damaged")
    assert "backup" in str(error)


def test_corruption_found_while_running_is_a_corrupt_error(
    make_store: MakeStore, db_path: Path
) -> None:
    make_database(make_store, db_path, tasks=300)
    conn = sqlite3.connect(db_path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'tasks'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with db_path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size)
    store = make_store()
    store.open(None)
    with pytest.raises(StoreCorruptError, match="damaged"):
        store.list_tasks(limit=1000)


def test_a_newer_schema_is_refused_untouched(make_store: MakeStore, db_path: Path) -> None:
    make_database(make_store, db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert_refused(make_store(), SchemaTooNewError, db_path, digest(db_path), "99", "Upgrade")


# --- where the file should be ------------------------------------------------------------
def test_a_missing_directory_is_named(make_store: MakeStore, tmp_path: Path) -> None:
    directory = tmp_path / "no" / "such"
    store = make_store(directory / "jobs.db")
    with pytest.raises(StoreMissingError) as caught:
        store.open("node-a")
    assert str(directory) in str(caught.value)
    assert caught.value.exit_code == 3
    assert not (tmp_path / "no").exists()


def test_a_directory_in_place_of_the_file_is_refused(make_store: MakeStore, db_path: Path) -> None:
    db_path.mkdir()
    with pytest.raises(StoreUnavailableError, match="directory"):
        make_store().open("node-a")


def test_a_read_only_database_refuses_a_node_but_serves_readers(
    make_store: MakeStore, db_path: Path
) -> None:
    before = make_database(make_store, db_path)
    # When a node opens it read-only
    url = f"sqlite:///{db_path}?mode=ro"
    node = open_store(url)
    with pytest.raises(StoreReadOnlyError) as caught:
        node.open("node-a")
    assert str(db_path) in str(caught.value) and caught.value.exit_code == 3
    # Then a reader can still look, but nothing can be written
    reader = open_store(url)
    reader.open(None)
    try:
        assert len(reader.list_tasks()) == 3
        with pytest.raises(StoreReadOnlyError, match="read-only") as caught:
            reader.insert([new()], T0)
        assert str(db_path) in str(caught.value)
    finally:
        reader.close()
    assert digest(db_path) == before


def test_a_read_only_open_of_a_missing_file_creates_nothing(
    make_store: MakeStore, db_path: Path
) -> None:
    with pytest.raises(StoreMissingError):
        make_store(read_only=True).open(None)
    assert not db_path.exists()


# --- a full disk ---------------------------------------------------------------------------
def test_a_full_database_acknowledges_nothing_and_recovers(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a database that may grow to 40 pages (160 KiB)
    store = make_store(pragmas={"max_page_count": 40})
    store.open("node-a")
    [first] = store.insert([new()], T0)
    # When a burst does not fit
    burst = [new(payload='"' + "x" * 4000 + '"') for _ in range(100)]
    with pytest.raises(StoreFullError) as caught:
        store.insert(burst, T0)
    assert str(db_path) in str(caught.value) and "nothing was written" in str(caught.value)
    # Then nothing of the burst was acknowledged, and small writes go on
    assert store.counts()["email"][QUEUED] == 1
    [second] = store.insert([new()], T0)
    assert second == first + 1
    [task] = store.claim("email", 1, "node-a", T0)
    assert task.id == first
    store.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# --- locks ---------------------------------------------------------------------------------
def hold_exclusive(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("UPDATE control SET settings_version = settings_version + 1")
    return conn


def test_a_lock_held_too_long_is_a_busy_error_and_loses_nothing(
    make_store: MakeStore, db_path: Path
) -> None:
    store = make_store(busy_timeout=0.2)
    store.open("node-a")
    [queued] = store.insert([new()], T0)
    other = hold_exclusive(db_path)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as caught:
            store.insert([new()], T0)
        assert time.monotonic() - started < 3
        assert str(db_path) in str(caught.value) and "locked" in str(caught.value)
        assert store.get(queued) is not None  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Then, once the lock is gone, writing works and nothing was half-written
    assert store.insert([new()], T0) == [queued + 1]
    assert store.counts()["email"][QUEUED] == 2


def test_a_node_cannot_start_while_another_program_holds_the_write_lock(
    make_store: MakeStore, db_path: Path
) -> None:
    make_database(make_store, db_path)
    other = hold_exclusive(db_path)
    try:
        with pytest.raises(StoreBusyError):
            make_store(busy_timeout=0.2).open("node-a")
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_second_node_in_the_same_process_is_refused(make_store: MakeStore, db_path: Path) -> None:
    first = make_store()
    first.open("node-a")
    with pytest.raises(NodeLockedError) as caught:
        make_store().open("node-b")
    assert str(os.getpid()) in str(caught.value)
    assert caught.value.exit_code == 4
    # Readers and other writers need no lock
    other = make_store()
    other.open(None)
    assert other.insert([new()], T0) == [1]


HOLDER = """
import sys
from jobsched.storage import open_store
store = open_store(sys.argv[1])
store.open("holder")
print("ready", flush=True)
sys.stdin.readline()
"""


def spawn_holder(db_path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("end", ["exit", "kill"])
def test_a_second_node_is_refused_naming_the_holder_until_it_ends(
    make_store: MakeStore, db_path: Path, end: str
) -> None:
    # Given a node running in another process
    holder = spawn_holder(db_path)
    try:
        # When a second node starts on the same file
        started = time.monotonic()
        with pytest.raises(NodeLockedError) as caught:
            make_store().open("node-a")
        # Then it is refused at once, naming the holder's pid
        assert time.monotonic() - started < 2
        assert f"pid {holder.pid}" in str(caught.value)
        assert str(db_path) in str(caught.value)
    finally:
        if end == "kill":
            holder.send_signal(signal.SIGKILL)  # the kernel drops the lock of the dead
        else:
            holder.communicate("\n", timeout=30)
        holder.wait(timeout=30)
    # And once the holder is gone the node starts
    store = make_store()
    store.open("node-a")
    assert store.diagnostics()["node_lock"] is True


# --- schema versions -----------------------------------------------------------------------
def test_a_version_0_file_of_ours_is_upgraded_after_a_backup(
    make_store: MakeStore, db_path: Path
) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.close()
    store = make_store()
    store.open("node-a")
    assert store.diagnostics()["schema_version"] == schema.schema_version()
    assert Path(f"{db_path}.v0-backup").exists()
    assert store.insert([new()], T0) == [1]


def _add_labels(db: object) -> None:
    db.execute_sql("ALTER TABLE tasks ADD COLUMN label TEXT")  # type: ignore[attr-defined]


def _broken_step(db: object) -> None:
    db.execute_sql("ALTER TABLE tasks ADD COLUMN label TEXT")  # type: ignore[attr-defined]
    raise RuntimeError("step failed half-way")


def test_an_older_schema_is_migrated_in_one_step_after_a_backup(
    make_store: MakeStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database at the current version N with tasks, and a program that knows N + 1
    before = make_database(make_store, db_path, tasks=5)
    n = schema.schema_version()
    monkeypatch.setattr(schema, "UPGRADES", [*schema.UPGRADES, _add_labels])
    # When a node opens it
    store = make_store()
    store.open("node-a")
    # Then it is at N + 1 with every task, and the version N file was kept as a backup
    assert store.diagnostics()["schema_version"] == n + 1
    assert len(store.list_tasks()) == 5
    store.close()
    conn = sqlite3.connect(db_path)
    assert "label" in [row[1] for row in conn.execute("PRAGMA table_info(tasks)")]
    conn.close()
    backup = Path(f"{db_path}.v{n}-backup")
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == n
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 5
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert digest(db_path) != before


def test_a_failed_migration_leaves_the_old_schema(
    make_store: MakeStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_database(make_store, db_path, tasks=5)
    n = schema.schema_version()
    monkeypatch.setattr(schema, "UPGRADES", [*schema.UPGRADES, _broken_step])
    with pytest.raises(StorageError) as caught:
        make_store().open("node-a")
    assert f"v{n}" in str(caught.value) and f"v{n}-backup" in str(caught.value)
    assert not Path(f"{db_path}.lock").read_text()  # lock released
    # Then the program that knows v1 opens it as before
    monkeypatch.undo()
    store = make_store()
    store.open("node-a")
    assert store.diagnostics()["schema_version"] == n
    assert len(store.list_tasks()) == 5


# --- misuse ----------------------------------------------------------------------------------
def test_a_closed_store_says_so(make_store: MakeStore) -> None:
    store = make_store()
    with pytest.raises(StoreUnavailableError, match="not open"):
        store.get(1)
    store.open("node-a")
    store.close()
    with pytest.raises(StoreUnavailableError, match="not open"):
        store.insert([new()], T0)


def test_an_old_sqlite_library_is_refused_before_anything_is_touched(
    make_store: MakeStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    with pytest.raises(StoreUnavailableError, match="older than 3.35"):
        make_store().open("node-a")
    assert not db_path.exists()


def test_opening_twice_is_refused(make_store: MakeStore) -> None:
    store = make_store()
    store.open("node-a")
    with pytest.raises(SchedulerStateError):
        store.open("node-a")


def test_interrupted_migrations_keep_one_verified_backup(
    make_store: MakeStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database at version N whose upgrade to N + 1 fails, attempted three times
    make_database(make_store, db_path, tasks=5)
    n = schema.schema_version()
    monkeypatch.setattr(schema, "UPGRADES", [*schema.UPGRADES, _broken_step])
    for _ in range(3):
        with pytest.raises(StorageError):
            make_store().open("node-a")
    # Then one backup is kept, under a name that says what it is, and it is good
    usual = {"jobs.db", "jobs.db-wal", "jobs.db-shm", "jobs.db.lock", "jobs.db.starts"}
    side = sorted(p.name for p in db_path.parent.iterdir() if p.name not in usual)
    assert side == [f"jobs.db.v{n}-backup"]
    conn = sqlite3.connect(f"file:{db_path}.v{n}-backup?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 5
    conn.close()


def test_a_half_written_backup_of_a_dead_process_is_removed_at_start(
    make_store: MakeStore, db_path: Path
) -> None:
    # Given a backup copy left half-written by a process that no longer exists
    make_database(make_store, db_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    partial = Path(f"{db_path}.v1-backup.partial-{dead}")
    partial.write_bytes(b"SQLite format 3\x00 torn")
    # When a node starts, Then it is gone
    make_store().open("node-a")
    assert not partial.exists()
