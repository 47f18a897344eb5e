"""open_store: which store and options a --db value gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobsched.core.errors import ConfigError, InvalidInputError
from jobsched.storage import PostgresStore, SqliteStore, open_store


def sqlite_store(url: str | Path | None, **options: object) -> SqliteStore:
    store = open_store(url, **options)  # type: ignore[arg-type]
    assert isinstance(store, SqliteStore)
    return store


def test_no_url_means_jobsched_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = sqlite_store(None)
    assert store.location == "jobsched.db"
    assert store.path == str(tmp_path / "jobsched.db")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("jobs.db", "jobs.db"),
        ("data/jobs.db", "data/jobs.db"),
        ("/var/lib/jobs.db", "/var/lib/jobs.db"),
        ("sqlite:///jobs.db", "jobs.db"),
        ("sqlite:////var/lib/jobs.db", "/var/lib/jobs.db"),
        ("sqlite:///my%20jobs.db", "my jobs.db"),
        ("file:jobs.db", "jobs.db"),
        ("file:///var/lib/jobs.db", "/var/lib/jobs.db"),
        ("odd?name.db", "odd?name.db"),  # a plain path is taken literally
    ],
)
def test_paths_and_sqlite_urls(url: str, path: str) -> None:
    store = sqlite_store(url)
    assert store.location == path
    assert not store.read_only and store.durability == "normal"


def test_a_path_object_is_accepted(tmp_path: Path) -> None:
    assert sqlite_store(tmp_path / "jobs.db").path == str(tmp_path / "jobs.db")


def test_url_options() -> None:
    store = sqlite_store("sqlite:///jobs.db?mode=ro&durability=full")
    assert (store.location, store.read_only, store.durability) == ("jobs.db", True, "full")
    assert (
        sqlite_store("jobs.db", read_only=True, durability="full", busy_timeout=0.5).busy_timeout
        == 0.5
    )


def test_postgresql_urls_select_postgres_and_the_password_is_hidden() -> None:
    for url in ("postgresql://jobs:s3cret@db.example/jobs", "postgres://jobs:s3cret@db/jobs"):
        store = open_store(url)
        assert isinstance(store, PostgresStore) and "s3cret" not in store.location
    with pytest.raises(InvalidInputError) as caught:
        open_store("postgresql:jobs:s3cret@db.example/jobs")
    assert "s3cret" not in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize(
    "url",
    ["mysql://db/jobs", "sqlite://jobs.db", "sqlite:///", "", "sqlite:///jobs.db?cache=shared",
     "sqlite:///jobs.db?mode=memory"],
)  # fmt: skip
def test_bad_urls_are_bad_input(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        open_store(url)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "options", [{"durability": "fast"}, {"busy_timeout": 0}, {"busy_timeout": float("nan")}]
)
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        open_store("jobs.db", **options)  # type: ignore[arg-type]
