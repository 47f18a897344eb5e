"""Given a node publishing its handlers in its heartbeat, when a client made with
``Client.connect`` (no handler code) submits by name, then it is validated against the
live nodes (or not at all, with ``validate="none"``) and its waits are woken by commits."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from jobsched.core import (
    CategoryConfig,
    ConfigError,
    FakeClock,
    MemoryStore,
    NodeInfo,
    Scheduler,
    SchedulerConfig,
    UnknownHandlerError,
)
from jobsched.core.catalog import Catalog, PublishedCategory, PublishedHandler
from jobsched.core.counters import NodeCounters
from jobsched.core.task import SUCCEEDED, Outcome

from jobsched import Client

CONFIG = SchedulerConfig(
    workers=2,
    categories={"email": CategoryConfig(max_attempts=5, timeout=30.0), "web": CategoryConfig()},
)


def _node_beat(store: MemoryStore, clock: FakeClock) -> Scheduler:
    """A node (never started) that has registered two handlers and written a heartbeat."""
    sched = Scheduler(CONFIG, store=store, clock=clock, threaded=False)

    @sched.handler("email.send", timeout=7.0)
    def send(payload: Any) -> Any:
        return payload

    @sched.handler("web.fetch", max_attempts=2)
    def fetch(payload: Any) -> Any:
        return payload

    sched.housekeeper.heartbeat()
    return sched


def test_a_heartbeat_publishes_the_nodes_handlers_and_categories() -> None:
    store, clock = MemoryStore(), FakeClock()
    _node_beat(store, clock)
    (node,) = store.nodes()
    catalog = node.counters.catalog
    assert catalog.handlers["email.send"] == PublishedHandler("email", None, 7.0)
    assert catalog.handlers["web.fetch"] == PublishedHandler("web", 2, None)
    assert catalog.categories["email"] == PublishedCategory(5, 30.0)


def test_the_published_catalog_survives_json_and_an_older_nodes_heartbeat_has_none() -> None:
    catalog = Catalog({"a.b": PublishedHandler("a", 3, 1.5)}, {"a": PublishedCategory(4, None)})
    counters = NodeCounters(catalog=catalog)
    assert NodeCounters.from_dict(counters.to_dict()).catalog == catalog
    older = counters.to_dict()
    del older["catalog"]
    assert NodeCounters.from_dict(older).catalog == Catalog()
    garbled = {"handlers": {"x": [1, 2], "y": ["c", "many", -1]}, "categories": {"c": ["a", 1]}}
    assert Catalog.from_dict(garbled) == Catalog({"y": PublishedHandler("c", None, None)}, {})


def test_a_producer_submits_by_name_with_the_limits_the_node_publishes() -> None:
    store, clock = MemoryStore(), FakeClock()
    _node_beat(store, clock)
    client = Client.connect(store, clock=clock)
    task = client.get(client.submit("email.send", {"to": "a@b.c"}).id)
    assert (task.handler, task.category, task.max_attempts, task.timeout) == (
        "email.send", "email", 5, 7.0)  # fmt: skip
    other = client.get(client.submit("web.fetch", None, category="email", timeout=3).id)
    assert (other.category, other.max_attempts, other.timeout) == ("email", 2, 3.0)


def test_an_unknown_handler_is_refused_naming_the_handlers_live_nodes_run() -> None:
    store, clock = MemoryStore(), FakeClock()
    _node_beat(store, clock)
    client = Client.connect(store, clock=clock)
    with pytest.raises(UnknownHandlerError) as caught:
        client.submit("email.sned", {})
    text = str(caught.value)
    assert "none of the 1 live node(s) runs a handler of this name" in text
    assert "Did you mean 'email.send'?" in text
    assert "email.send" in text and "web.fetch" in text
    assert store.counts() == {}


def test_with_no_live_node_the_refusal_says_so_and_validate_none_accepts() -> None:
    store, clock = MemoryStore(), FakeClock()
    _node_beat(store, clock)
    clock.advance(60)  # the heartbeat is now stale: no live node
    checked = Client.connect(store, clock=clock)
    with pytest.raises(UnknownHandlerError, match="no live node publishes its handlers"):
        checked.submit("email.send", {})
    trusting = Client.connect(store, clock=clock, validate="none")
    task = trusting.get(trusting.submit("reports.build", {"n": 1}).id)
    assert (task.handler, task.category, task.max_attempts) == ("reports.build", "reports", 3)


def test_a_node_that_starts_later_is_seen_at_once_for_a_name_not_known_before() -> None:
    store, clock = MemoryStore(), FakeClock()
    client = Client.connect(store, clock=clock)
    with pytest.raises(UnknownHandlerError):
        client.submit("email.send", {})
    _node_beat(store, clock)
    assert client.submit("email.send", {}).id >= 1


def test_a_validation_mode_that_does_not_exist_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'everything': is not a validation mode"):
        Client.connect(MemoryStore(), validate="everything")


def test_operator_changes_need_a_config_and_say_so() -> None:
    client = Client.connect(MemoryStore(), validate="none")
    with pytest.raises(ConfigError, match="connected without a config"):
        client.set_priority("email", 2)
    configured = Client.connect(MemoryStore(), validate="none", config=CONFIG)
    assert configured.set_priority("email", 2) == 2


@pytest.mark.timeout(10)
def test_a_waiting_producer_is_woken_by_the_outcomes_commit() -> None:
    store, clock = MemoryStore(), FakeClock()
    _node_beat(store, clock)
    client = Client.connect(store)
    handle = client.submit("web.fetch", {"u": 1})
    got: list[Any] = []
    waiting = threading.Thread(target=lambda: got.append(handle.result(timeout=5)))
    waiting.start()
    (claimed,) = store.claim("web", 1, "node-x", clock.now())
    store.finish([Outcome(claimed.id, "node-x", 1, SUCCEEDED, clock.now(), result='{"ok": 1}')])
    waiting.join(5)
    assert got == [{"ok": 1}]
    assert client.result(handle.id, timeout=0) == {"ok": 1}


def test_nodes_without_a_catalog_are_not_counted_as_knowing_any_handler() -> None:
    store, clock = MemoryStore(), FakeClock()
    store.heartbeat(NodeInfo("old", "h", 1, clock.now(), clock.now(), 2))
    client = Client.connect(store, clock=clock)
    with pytest.raises(UnknownHandlerError, match="Known handlers: \\(none\\)"):
        client.submit("email.send", {})


class _BrokenWatch:
    """A watch whose connection has dropped: every wait for a sign fails."""

    closed = 0

    def changed(self, timeout: float) -> bool:
        raise ConnectionError("the listening connection dropped")

    def close(self) -> None:
        _BrokenWatch.closed += 1


class _StoreWithBrokenWatch(MemoryStore):
    def watch_commits(self) -> Any:
        return _BrokenWatch()


@pytest.mark.timeout(10)
def test_a_waiter_whose_watch_fails_still_sees_the_result_by_reading_the_store() -> None:
    store = _StoreWithBrokenWatch()
    client = Client.connect(store, validate="none")
    handle = client.submit("web.fetch", {})
    got: list[Any] = []
    waiting = threading.Thread(target=lambda: got.append(handle.result(timeout=8)))
    waiting.start()
    (claimed,) = store.claim("web", 1, "node-x", 0.0)
    store.finish([Outcome(claimed.id, "node-x", 1, SUCCEEDED, 1.0, result="7")])
    waiting.join(8)
    assert got == [7]
    assert _BrokenWatch.closed >= 1  # the failed watch was dropped, to be opened again
