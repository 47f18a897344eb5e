"""The categories panel's health numbers agree with its counts: a task counted as queued
(in the store, or claimed into a node's FIFO and not started) is a waiting task, and the
oldest of them sets the ``oldest`` age."""

from __future__ import annotations

from dataclasses import replace

from jobsched.console.health import HealthTracker

from .app_support import build_scheduler, populate


def test_oldest_counts_the_claimed_tasks_waiting_in_a_fifo() -> None:
    # Given email tasks claimed into the node's FIFO, none started, none left queued in
    # the store
    sched, clock = build_scheduler()
    populate(sched, clock)
    snap = sched.snapshot()
    email = snap.category("email")
    assert email.fifo > 0 and email.busy == 0
    heads = sched.store.queue_heads(["email"])
    assert "email" not in heads

    # When the console works out the health numbers
    tracker = HealthTracker()
    tracker.set_heads(heads)
    tracker.add(0.0, snap)
    waiting = tracker.health(snap)["email"].waiting

    # Then the oldest age is the FIFO head's, not "none waits"
    assert email.latency is not None and email.latency > 0
    assert waiting == email.latency


def test_oldest_is_the_older_of_the_store_head_and_the_fifo_head() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)
    snap = sched.snapshot()
    email = snap.category("email")
    assert email.latency is not None
    tracker = HealthTracker()
    tracker.add(0.0, snap)

    # A store head older than the FIFO's head sets the age
    tracker.set_heads({"email": snap.at - email.latency - 30.0})
    assert tracker.health(snap)["email"].waiting == email.latency + 30.0
    # A younger one leaves the FIFO head's age
    tracker.set_heads({"email": snap.at - 0.5})
    assert tracker.health(snap)["email"].waiting == email.latency
    # With neither, nothing waits
    tracker.set_heads({})
    idle = replace(snap, categories=(replace(email, latency=None),))
    assert tracker.health(idle)["email"].waiting is None
