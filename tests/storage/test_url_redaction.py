"""A PostgreSQL password never appears in a message, whatever the URL looks like.

The passwords are drawn from marker letters (Cyrillic: nothing else in a URL or a
message uses them) mixed with the characters that confuse URL parsers; a leak of any
piece of a password shows up as a marker letter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobsched.core import JobschedError
from jobsched.storage import open_store
from jobsched.storage.postgres.url import redact

pytestmark = pytest.mark.timeout(120)

MARKERS = "жзийкл"
passwords = st.text(alphabet=MARKERS + ":/?#@[]%", min_size=1, max_size=16).filter(
    lambda pw: any(ch in MARKERS for ch in pw)
)
shapes = st.sampled_from(
    [
        "postgresql://bob:{pw}@127.0.0.1:1/jobs",
        "postgresql:/bob:{pw}@127.0.0.1:1/jobs",
        "postgresql:///bob:{pw}@127.0.0.1:1/jobs",
        "postgres://bob:{pw}@[::1/jobs",
        "postgresql://bob:{pw}@127.0.0.1:1/jobs?sslmode=disable",
        "postgresql://127.0.0.1:1/jobs?password={pw}&sslmode=disable",
        "postgresql://:{pw}@127.0.0.1:1",
    ]
)


def assert_hidden(text: str) -> None:
    leaked = [ch for ch in text if ch in MARKERS]
    assert not leaked, f"a piece of the password leaked: {text!r}"


@given(shape=shapes, pw=passwords)
@settings(max_examples=400, deadline=None)
def test_redact_never_shows_a_piece_of_the_password(shape: str, pw: str) -> None:
    assert_hidden(redact(shape.format(pw=pw)))


@given(shape=shapes, pw=passwords)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_open_store_messages_never_show_the_password(shape: str, pw: str) -> None:
    # Given any URL with the password, when the store is built (no connection yet)
    url = shape.format(pw=pw)
    try:
        store = open_store(url)
    except JobschedError as exc:  # refused: the message names the redacted URL only
        assert_hidden(str(exc))
        return
    # Then what it shows of itself (location, server, database, user) hides it too
    target = store.settings.target  # type: ignore[attr-defined]
    assert_hidden(store.location)
    assert_hidden(" ".join([target.server, target.database, target.user]))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:/bob:Sжcret@127.0.0.1:1/jobs",
        "postgresql://bob:Sж?cret@127.0.0.1:1/jobs",
        "postgresql://bob:Sж@cret@127.0.0.1:1/jobs",
        "postgresql://bob:Sж/cret@127.0.0.1:1/jobs",
        "postgresql://bob:Sж#cret@127.0.0.1:1/jobs",
        "postgresql://bob:Sжcret@127.0.0.1:1/jobs?connect_timeout=2",
    ],
)
def test_cli_errors_never_show_the_password(tmp_path: Path, url: str) -> None:
    from jobsched.console.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["--db", url, "status"], env={"JOBSCHED_DB": None, "JOBSCHED_CONFIG": None}
    )
    assert result.exit_code in (2, 3), result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
    assert_hidden(result.stdout + result.stderr)
