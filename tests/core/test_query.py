"""The filter language: what each field means, and a clear error for what does not exist."""

from __future__ import annotations

import datetime as dt

import pytest
from jobsched.core.errors import QueryError, UnknownCategoryError
from jobsched.core.query import MAX_ID, Page, TaskQuery, parse
from jobsched.core.task import TaskRecord

NOW = 1_800_000_000.0


def task(**fields: object) -> TaskRecord:
    base: dict[str, object] = dict(
        id=7, handler="email.send", category="email", state="failed", payload='{"to": "Ann"}',
        run_at=NOW, created_at=NOW - 60, max_attempts=3, dedup_key="k-1",
        error="SMTPError: 550 Mailbox unavailable",
    )  # fmt: skip
    base.update(fields)
    return TaskRecord(**base)  # type: ignore[arg-type]


def test_an_empty_filter_matches_everything() -> None:
    query = parse("   ", NOW)
    assert query.empty and query.matches(task())


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("state:failed", True), ("state:queued,failed", True), ("state:queued", False),
        ("cat:email", True), ("category:web", False), ("handler:email.send", True),
        ("handler:email.*", True), ("handler:email", False), ("key:k-1", True),
        ("id:7", True), ("id:1-6", False), ("id:>=7", True), ("id:>7", False),
        ("id:<8", True), ("error:mailbox", True), ('error:"550 mailbox"', True),
        ("payload:ann", True), ("payload:bob", False), ("since:2m", True),
        ("since:30s", False), ("before:30s", True), ("smtperror", True),
        ("email 550", True), ("email missing", False), ("STATE:FAILED", True),
    ],
)  # fmt: skip
def test_each_field_selects_what_it_says(text: str, matches: bool) -> None:
    assert parse(text, NOW).matches(task()) is matches


def test_values_of_one_field_widen_and_fields_narrow() -> None:
    query = parse("cat:web cat:email state:queued", NOW)
    assert query.categories == ("web", "email")
    assert not query.matches(task())


def test_dates_are_utc_unless_they_say_otherwise() -> None:
    query = parse("since:2026-11-30 before:2026-11-30T12:00+01:00", NOW)
    assert query.created_since == dt.datetime(2026, 11, 30, tzinfo=dt.UTC).timestamp()
    assert query.created_before == dt.datetime(2026, 11, 30, 11, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("state:bogus", ["unknown state", "'bogus'", "States: scheduled"]),
        ("state:faild", ["Did you mean failed?"]),
        ("stat:failed", ["unknown filter field", "'stat:'", "Did you mean state:?"]),
        ("id:abc", ["id filter", "'abc'", "id:100-200"]),
        ("id:9-3", ["id range", "empty", "3-9"]),
        (f"id:{MAX_ID + 1}", ["task id", "ids go up to"]),
        ("since:yesterday", ["since: time", "'yesterday'", "since:15m"]),
        ('error:"open', ["filter", "quotation", "Close the quote"]),
        ("cat:", ["cat:", "no value", "For example"]),
    ],
)
def test_what_does_not_exist_is_named_with_what_to_do(text: str, words: list[str]) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text, NOW)
    for word in words:
        assert word in str(caught.value)


def test_a_url_or_time_in_a_free_word_is_a_word_not_a_field() -> None:
    query = parse("https://example.org 10:30", NOW)
    assert query.words == ("https://example.org", "10:30")


def test_a_page_moves_on_from_the_last_id() -> None:
    page = Page(TaskQuery(states=("queued",)), order="oldest", limit=10)
    assert page.next(42) == Page(TaskQuery(states=("queued",)), "oldest", 10, after=42)


def test_a_category_not_among_the_known_ones_is_refused_by_name() -> None:
    known = {"email", "web"}
    assert parse("cat:email,web", NOW, known).categories == ("email", "web")
    assert parse("cat:anything", NOW).categories == ("anything",)  # nothing known: no check
    with pytest.raises(QueryError) as caught:
        parse("state:failed category:emial", NOW, known)
    assert isinstance(caught.value, UnknownCategoryError)
    assert caught.value.message == (
        "unknown category 'emial': no such category is configured. Did you mean 'email'? "
        "Known categories: email, web."
    )
