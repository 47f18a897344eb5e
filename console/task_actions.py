"""What the console's task keys do: retry and cancel one task (cancel asks first), the
detail view, the task list's filter, order, pages and go-to-id, and the bulk actions on
every task the filter matches (count, ask, apply).

The app binds the keys and hands each action to :class:`TaskActions`; every source call
goes through the app's operation queue (a thread worker), never on the UI thread.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from jobsched.core.bulk import BulkResult
from jobsched.core.progress import TaskProgress
from jobsched.core.task import AttemptError, TaskRecord

from .escape import visible
from .screens.detail import TaskDetailScreen
from .screens.forms import UNCHANGED, goto_form
from .widgets import format as fmt

if TYPE_CHECKING:
    from .app import JobschedApp


class TaskActions:
    def __init__(self, app: JobschedApp) -> None:
        self.app = app

    # --- one task ---------------------------------------------------------------------
    def retry_selected(self) -> None:
        if (task_id := self.app.selected_task()) is not None:
            self.retry(task_id)

    def retry(self, task_id: int) -> None:
        app = self.app

        def done(ids: list[int]) -> None:
            if ids:
                app.say(f"Task {task_id} queued again")
            else:
                app.say(
                    f"Task {task_id} was not retried: only failed or cancelled tasks are", "warning"
                )

        app.ops.submit(f"Retry task {task_id}", partial(app.source.retry, [task_id]), done)

    def cancel_selected(self) -> None:
        if (task_id := self.app.selected_task()) is not None:
            self.ask_cancel(task_id)

    def ask_cancel(self, task_id: int, record: TaskRecord | None = None) -> None:
        table = self.app.main.task_table
        handler = record.handler if record else table.cell_text(str(task_id), "handler")
        state = record.state if record else table.cell_text(str(task_id), "state")
        shown = f" ({visible(handler)}, {visible(state)})" if handler else ""
        self.app.confirm(
            f"Cancel task {task_id}",
            f"Cancel task {task_id}{shown}? A running task is asked to stop.",
            partial(self.cancel, task_id),
            "Cancel it",
        )

    def cancel(self, task_id: int) -> None:
        app = self.app
        app.ops.submit(
            f"Cancel task {task_id}",
            partial(app.source.cancel, [task_id]),
            lambda answers: app.say(f"Task {task_id}: {answers.get(task_id, '?')}"),
        )

    def detail(self, task_id: int | None) -> None:
        app = self.app
        if task_id is None and (task_id := app.selected_task()) is None:
            return
        shown = task_id

        def read() -> tuple[TaskRecord, TaskProgress | None, list[AttemptError]]:
            source = app.source
            return source.get(shown), source.progress(shown), source.attempt_errors(shown)

        def opened(found: tuple[TaskRecord, TaskProgress | None, list[AttemptError]]) -> None:
            record, progress, earlier = found
            app.push_screen(
                TaskDetailScreen(record, progress, earlier),
                partial(self.detail_closed, shown, record),
            )

        app.ops.submit(f"Task {task_id}", read, opened)

    def detail_closed(self, task_id: int, record: TaskRecord, choice: str | None) -> None:
        """``r`` or ``c`` in the detail view: the same as on the list (cancel asks)."""
        if choice == "retry":
            self.retry(task_id)
        elif choice == "cancel":
            self.ask_cancel(task_id, record)

    # --- the window onto the store ----------------------------------------------------------
    def filter_changed(self, text: str, submitted: bool) -> None:
        app, window = self.app, self.app.window
        changed = window.set_filter(text, app.clock.now())
        app.main.show_filter(window.text, window.error, at_once=submitted)
        if window.error and submitted:
            app.say(f"Filter not applied: {window.error}", "error")
        if changed:
            app.window_moved(typed=not submitted)
        elif submitted:
            app.list_reads.flush()
        else:
            app.list_reads.postpone()

    def categories_known(self, known: frozenset[str]) -> None:
        """The categories a filter may name, as just read: a filter refused for naming
        one the store did not hold yet may apply now."""
        app, window = self.app, self.app.window
        if window.know_categories(known, app.clock.now()):
            app.main.show_filter(window.text, window.error)
            app.window_moved()

    def page(self, step: int) -> None:
        app = self.app
        shown = [int(k) for k in app.main.task_table.keys_in_order()]
        moved = app.window.next_page(shown) if step > 0 else app.window.previous_page()
        if not moved:
            app.say("No next page" if step > 0 else "Already on the first page", "warning")
            return
        app.main.task_table.reset()
        app.window_moved()

    def toggle_order(self) -> None:
        order = self.app.window.toggle_order()
        self.app.say("Task list: " + ("newest first" if order == "newest" else "oldest first"))
        self.app.window_moved()

    def goto(self) -> None:
        self.app.push_screen(goto_form(), self.goto_chosen)

    def goto_chosen(self, answer: tuple[Any] | None) -> None:
        if answer is None or answer == UNCHANGED:
            return
        app, task_id = self.app, int(answer[0])
        page = app.window.page_at(task_id)

        def read() -> tuple[TaskRecord, list[TaskRecord]]:
            # the task and the page that starts at it: one trip to the store's thread
            return app.source.get(task_id), app.source.find_tasks(page)

        def found(answer: tuple[TaskRecord, list[TaskRecord]]) -> None:
            record, rows = answer
            app.window.go_to(task_id)
            app.main.task_table.reset()
            # selected (or said not to match the filter) once its page is shown
            app.window_moved(select=(task_id, record.state), rows=rows, read=page)

        app.ops.submit(f"Go to task {task_id}", read, found)

    # --- every task the filter matches ----------------------------------------------------
    def bulk(self, action: str) -> None:
        """Retry, cancel or delete every task the filter matches: count, ask, apply."""
        app, window = self.app, self.app.window
        if window.error:
            app.say(f"Fix the filter first: {window.error}", "error")
            return
        query, text = window.query, window.text.strip() or "every task"
        call = {
            "retry": app.source.retry_matching,
            "cancel": app.source.cancel_matching,
            "delete": app.source.delete_matching,
        }[action]
        verb = action.capitalize()

        def apply() -> None:
            app.ops.submit(
                f"{verb} matching", partial(call, query), lambda r: app.say(r.describe())
            )

        def counted(preview: BulkResult) -> None:
            count = preview.touched + preview.requested
            if not count:
                app.say(f"Nothing to {action}: {preview.describe()}", "warning")
                return
            tasks = fmt.counted(count, "task")
            app.confirm(
                f"{verb} {tasks}",
                f"{verb} {tasks} matching {visible(repr(text))}?\n{preview.describe()}.",
                apply,
                f"{verb} {count:,}",
            )

        app.ops.submit(f"Count for {action}", partial(call, query, True), counted)
