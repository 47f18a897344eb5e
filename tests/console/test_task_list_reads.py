"""The task list's own reads: started by the key that moves the window (a typed filter once
the keys stop coming), in a thread worker (not by the next timer tick, not on the UI
thread), the newest window winning; a filter read row by row is read in slices of ids,
shown as it is found and given up once the window moves."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from jobsched.console import listreads
from jobsched.console.app import JobschedApp
from jobsched.console.listreads import ListReads, read_in_slices, row_by_row
from jobsched.console.local import LocalNode
from jobsched.console.tasklist import TaskWindow
from jobsched.core import MemoryStore
from jobsched.core.query import Page, TaskQuery, parse
from jobsched.core.task import TaskRecord
from textual.pilot import Pilot

from tests.store_contract import T0, new

from .app_support import (
    FailingSource,
    build_scheduler,
    drive,
    make_app,
    populate,
    recording,
    until,
)

WAIT = 10.0


class HeldSource(FailingSource):
    """Reads of the task list record their thread; a read of the filter ``hold`` waits
    until ``release`` is set."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.threads: list[int] = []
        self.texts: list[str] = []  # the filter of every read
        self.hold = ""
        self.entered = threading.Event()
        self.release = threading.Event()

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        self.threads.append(threading.get_ident())
        self.texts.append(page.query.text)
        if self.hold and page.query.text == self.hold:
            self.entered.set()
            self.release.wait(WAIT)
        return super().find_tasks(page)


def categories_shown(app: JobschedApp) -> set[str]:
    table = app.main.task_table
    return {table.cell_text(k, "category") for k in table.keys_in_order()}


def timed_app() -> tuple[JobschedApp, HeldSource]:
    """The console with its timer on, but so slow that no tick comes during a test: what
    is read after a key, the key's own read did."""
    sched, clock = build_scheduler()
    populate(sched, clock)
    source = HeldSource(LocalNode(sched))
    return make_app(source, refresh_interval=60.0), source


def test_a_typed_filter_is_read_in_a_worker_thread_without_a_timer_tick() -> None:
    app, source = timed_app()

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        refreshes, reads = app.refreshes, len(source.threads)
        app.main.filter_input.value = "cat:web"  # as typed into the filter
        await until(pilot, lambda: categories_shown(app) == {"web"})
        # The list shows the filter's rows without a timer tick or a snapshot read
        assert categories_shown(app) == {"web"} and app.refreshes == refreshes
        # And it was read off the UI thread
        assert source.threads[reads:] and threading.get_ident() not in source.threads[reads:]

    drive(app, scenario)


def test_a_read_of_a_window_that_has_moved_since_is_never_shown() -> None:
    app, source = timed_app()
    source.hold = "cat:web"

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        shown: list[set[str]] = []
        update = app.main.task_table.update_tasks

        def record(tasks: Any, *args: Any) -> None:
            shown.append({t.category for t in tasks})
            update(tasks, *args)

        app.main.task_table.update_tasks = record  # type: ignore[method-assign]
        # Given a read of cat:web that takes long
        app.main.filter_input.value = "cat:web"
        await until(pilot, source.entered.is_set)
        assert source.entered.is_set()
        # When the filter changes meanwhile, and then that read returns
        app.main.filter_input.value = "cat:email"
        await pilot.pause()
        source.release.set()
        await until(pilot, lambda: categories_shown(app) == {"email"})
        # Then the list shows cat:email, and never showed the rows of cat:web
        assert categories_shown(app) == {"email"}
        assert {"web"} not in shown and shown[-1] == {"email"}

    drive(app, scenario)


def test_keys_typed_in_a_burst_read_the_list_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listreads, "SETTLE", 6 * WAIT)  # the keys never stop, in effect
    app, source = timed_app()

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        # When the operator types a word (read row by row), key by key, then enter
        await pilot.press("slash", *"email")
        await pilot.pause()
        # Then no key read the list (each one's read waits for the next key)
        assert set(source.texts) == {""} and categories_shown(app) != {"email"}
        # And enter reads the filter typed, once
        await pilot.press("enter")
        await until(pilot, lambda: categories_shown(app) == {"email"})
        assert categories_shown(app) == {"email"}
        assert [t for t in source.texts if t] == ["email"]
        # While a filter an index serves is read without waiting for enter
        await pilot.press("slash", *"cat:web")  # (the filter's text is selected: replaced)
        await until(pilot, lambda: "cat:web" in source.texts)
        assert source.texts[-1] == "cat:web", source.texts

    drive(app, scenario)


def test_go_to_id_with_the_timer_on_selects_the_task_or_says_it_does_not_match() -> None:
    app, source = timed_app()

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        said = recording(app)
        table = app.main.task_table
        # When the operator goes to task 20
        await pilot.press("g", *"20", "enter")
        await until(pilot, lambda: table.selected_key == "20")
        # Then its page starts at it, with the cursor on it
        assert table.keys_in_order()[0] == "20" and table.selected_key == "20"
        assert table.has_focus
        # And a task the filter leaves out is said so
        app.main.filter_input.value = "cat:email"
        await until(pilot, lambda: categories_shown(app) == {"email"})
        web = next(t.id for t in source.find_tasks(Page(parse("cat:web", T0))))
        await pilot.press("g", *str(web), "enter")
        await until(pilot, lambda: any("does not match the filter" in m for m in said))
        assert any(f"Task {web} (" in m and "does not match" in m for m in said), said

    drive(app, scenario)


def test_the_timer_re_reads_the_list_only_after_four_times_the_last_reads_time() -> None:
    started: list[Any] = []

    class App:  # what ListReads uses of the app
        window = TaskWindow()

        def run_worker(self, work: Any, **kwargs: Any) -> None:
            started.append(work)

    async def main() -> None:
        reads = ListReads(App())  # type: ignore[arg-type]
        # Given a read that took 2 s (a search of a big table) and ended now
        reads.last_cost, reads.last_ended = 2.0, time.monotonic()
        # Then the timer does not read the list again for 8 s
        reads.periodic()
        assert not started
        reads.last_ended -= 8.1
        reads.periodic()
        assert len(started) == 1
        # Nor while that read is in flight
        reads.periodic()
        assert len(started) == 1

    asyncio.run(main())


# --- reads row by row, in slices ---------------------------------------------------------------
@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listreads, "SLICE", 4)
    monkeypatch.setattr(listreads, "MAX_SLICE", 16)


def test_only_filters_no_index_bounds_are_read_in_slices() -> None:
    sliced = ["smtp", "error:timeout", "payload:x", "handler:a.*", "key:k", "since:2h"]
    whole = ["", "state:failed", "cat:web smtp", "id:1-9 smtp", "state:queued error:x"]
    assert all(row_by_row(parse(text, T0)) for text in sliced)
    assert not any(row_by_row(parse(text, T0)) for text in whole)


@pytest.mark.usefixtures("small_slices")
def test_a_read_in_slices_finds_what_one_read_finds() -> None:
    # Given 60 tasks, a few of them (here and there) matching a word, after some were deleted
    store = MemoryStore()
    store.open(None)
    handlers = ["match.me" if n in (3, 4, 17, 30, 31, 32, 58) else "other" for n in range(60)]
    store.insert([new(handler=h) for h in handlers], T0)
    store.insert([new(handler="match.me")], T0)
    for query in (parse("match", T0), parse("nothing-like-it", T0), parse("other", T0)):
        for order in ("newest", "oldest"):
            for after in (None, 1, 20, 31, 33, 61, 70):
                for limit in (1, 2, 5, 100):
                    page = Page(query, order, limit, after)  # type: ignore[arg-type]
                    # Then slice by slice, the same rows as in one read
                    assert read_in_slices(store.find_tasks, page, lambda: False) == (
                        store.find_tasks(page)
                    ), page
    assert read_in_slices(MemoryStore().find_tasks, Page(parse("x", T0)), lambda: False) == []


class SlowSecondSlice(FailingSource):
    """The second slice of a read row by row waits until ``release`` is set."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.slices = 0
        self.second = threading.Event()
        self.release = threading.Event()

    def find_tasks(self, page: Page) -> list[TaskRecord]:
        if page.query.words and page.query.id_ranges:
            self.slices += 1
            if self.slices == 2:
                self.second.set()
                self.release.wait(WAIT)
        return super().find_tasks(page)


@pytest.mark.usefixtures("small_slices")
def test_a_search_shows_what_it_found_so_far_and_says_it_is_still_searching() -> None:
    sched, clock = build_scheduler()
    populate(sched, clock)  # its newest task is a web.fetch; four more are older
    source = SlowSecondSlice(LocalNode(sched))
    app = make_app(source, refresh_interval=60.0)

    async def scenario(app: JobschedApp, pilot: Pilot[Any]) -> None:
        panel = app.main.query_one("#task-panel")
        whole = [str(t.id) for t in source.inner.find_tasks(Page(parse("web", T0)))]
        # When a word is searched row by row, and its second slice takes long
        app.main.filter_input.value = "web"
        await until(pilot, lambda: "searching" in str(panel.border_subtitle))
        # Then the list shows the matches of the first slice, and says it searches on
        shown = app.main.task_table.keys_in_order()
        assert source.second.is_set() and not app.list_reads.complete
        assert shown == whole[:1] and len(whole) > 1
        assert str(panel.border_subtitle).startswith("filter: web · searching… ")
        # And once the search is done, every match and the filter alone
        source.release.set()
        await until(pilot, lambda: app.list_reads.complete)
        assert app.main.task_table.keys_in_order() == whole
        assert str(panel.border_subtitle) == "filter: web"

    drive(app, scenario)


@pytest.mark.usefixtures("small_slices")
def test_a_read_in_slices_is_given_up_once_the_window_moves() -> None:
    store = MemoryStore()
    store.open(None)
    store.insert([new() for _ in range(60)], T0)
    reads: list[Page] = []

    def find(page: Page) -> list[TaskRecord]:
        reads.append(page)
        return store.find_tasks(page)

    # When the window moves during the first slice of a word that matches nothing
    assert read_in_slices(find, Page(parse("nothing-like-it", T0)), lambda: True) is None
    # Then the read stops there: its two ends, one slice, nothing more
    assert len(reads) == 3 and reads[-1].query.id_ranges == ((57, 60),)
    assert reads[0].query == TaskQuery()


def test_a_filter_refused_for_an_unknown_category_applies_once_the_store_holds_it() -> None:
    # Given a window that knows categories a and b, and a filter naming c
    window = TaskWindow()
    assert window.know_categories(frozenset({"a", "b"}), T0) is False
    window.set_filter("cat:c", T0)
    assert window.error is not None and "unknown category 'c'" in window.error
    # When c comes to hold tasks (read with the known categories)
    changed = window.know_categories(frozenset({"a", "b", "c"}), T0)
    # Then the filter applies, from the first page
    assert changed and window.error is None and window.query.categories == ("c",)
    # And a filter in force stays, even when a category it names is no longer known
    window.after = 17
    assert window.know_categories(frozenset({"a"}), T0) is False
    assert window.query.categories == ("c",) and window.after == 17
