"""``submit_many``: items without options share their handler's checks; every item keeps
its own payload, order and options, and one bad item stores nothing."""

from __future__ import annotations

import pytest
from jobsched.core import CategoryConfig, Client, MemoryStore, PayloadError, SchedulerConfig
from jobsched.core.errors import UnknownHandlerError


def client() -> Client:
    store = MemoryStore()
    store.open(None)
    config = SchedulerConfig(
        workers=2, categories={"email": CategoryConfig(max_attempts=5), "web": CategoryConfig()}
    )
    c = Client(config, store)
    c.handler("email.send")(lambda p: None)
    c.handler("web.fetch", timeout=3.0)(lambda p: None)
    return c


def test_items_keep_their_payloads_order_and_options() -> None:
    c = client()
    ids = c.submit_many(
        [
            ("email.send", {"a": 1}),
            ("email.send", {"a": 2}, {"delay": 5}),
            ("web.fetch", [1, 2]),
            ("email.send", None),
            ("email.send", "x", {"max_attempts": 2}),
        ]
    )
    rows = [c.store.get(i) for i in ids]
    assert [(r.handler, r.category, r.payload, r.state, r.max_attempts, r.timeout) for r in rows if r] == [
        ("email.send", "email", '{"a":1}', "queued", 5, None),
        ("email.send", "email", '{"a":2}', "scheduled", 5, None),
        ("web.fetch", "web", "[1,2]", "queued", 3, 3.0),
        ("email.send", "email", "null", "queued", 5, None),
        ("email.send", "email", '"x"', "queued", 2, None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "error"),
    [(("email.send", {"n": float("nan")}), PayloadError), (("nosuch.job", 1), UnknownHandlerError)],
)
def test_one_bad_item_stores_nothing(bad: tuple[str, object], error: type[Exception]) -> None:
    c = client()
    with pytest.raises(error):
        c.submit_many([("email.send", {"ok": 1}), bad, ("email.send", {"ok": 2})])
    assert sum(per["queued"] for per in c.store.counts().values()) == 0
