"""The console's keys: one list feeds the footer, the help screen and the command palette."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding

from .screens.help import KeyGroup

BURST = 100
PRIORITY_STEP = 1.5  # weights are relative, so + and - multiply and divide

# The footer shows the keys an operator needs most (``show=True``); ``?`` lists them all.
#
# A key that opens an input (/, g, e, L, P) is a priority binding: it runs as the key
# arrives, before the keys queued behind it are handed to the focused widget, so a burst
# typed after it (a paste, fast typing over SSH) lands in the input instead of firing
# dashboard keys (the dialogs' inputs take them once mounted: screens/typeahead.py).
# check_action turns them off while an input or a dialog has the keys.
CATEGORY_KEYS = [
    Binding(
        "i", "inject(1)", "Inject", tooltip="Inject one synthetic task into the selected category"
    ),
    Binding(
        "I",
        f"inject({BURST})",
        f"×{BURST}",
        show=False,
        tooltip=f"Inject a burst of {BURST} synthetic tasks into the selected category",
    ),
    Binding(
        "u",
        "inject_urgent",
        "Urgent",
        show=False,
        tooltip="Inject one synthetic task at task priority 9: it starts before the category's waiting tasks",
    ),
    Binding(
        "+,=",
        "priority_up",
        "Prio+",
        show=False,
        tooltip=f"Raise the selected category's priority (×{PRIORITY_STEP:g})",
    ),
    Binding(
        "-",
        "priority_down",
        "Prio-",
        show=False,
        tooltip=f"Lower the selected category's priority (÷{PRIORITY_STEP:g})",
    ),
    Binding(
        "e",
        "edit_priority",
        "Prio=",
        show=False,
        priority=True,
        tooltip="Set the selected category's priority exactly",
    ),
    Binding(
        "L",
        "edit_limit",
        "Limit",
        show=False,
        priority=True,
        tooltip="Set the selected category's rate limit (e.g. 20/s burst 5; none lifts it)",
    ),
    Binding(
        "p",
        "toggle_pause",
        "Pause",
        tooltip="Pause or resume the selected category (pausing asks first)",
    ),
    Binding(
        "P",
        "pin",
        "Pin",
        show=False,
        priority=True,
        tooltip="Pin the selected category's worker count (empty: unpin)",
    ),
    Binding(
        "b",
        "rebalance",
        "Balance",
        show=False,
        tooltip="Run the balancer now and show its decision",
    ),
]
TASK_KEYS = [
    Binding(
        "enter",
        "task_detail",
        "Detail",
        show=False,
        tooltip="Show the selected task (or the worker's task); r / c there retry / cancel it",
        key_display="⏎",
    ),
    Binding("r", "retry", "Retry", tooltip="Queue the selected failed or cancelled task again"),
    Binding("c", "cancel_task", "Cancel", tooltip="Cancel the selected task (asks first)"),
    Binding(
        "/",
        "filter",
        "Filter",
        priority=True,
        tooltip="Filter the task list: state:failed cat:email error:timeout since:2h words",
    ),
    Binding("escape", "clear_filter", "Clear filter", show=False, tooltip="Clear the task filter"),
    Binding("right_square_bracket", "page(1)", "Next page", show=False, key_display="]",
            tooltip="Next page of the task list"),
    Binding("left_square_bracket", "page(-1)", "Prev page", show=False, key_display="[",
            tooltip="Previous page of the task list"),
    Binding("o", "toggle_order", "Order", show=False,
            tooltip="Task list newest first / oldest first (the head of each queue)"),
    Binding("g", "goto", "Go to", show=False, priority=True, tooltip="Go to a task by id"),
    Binding("R", "bulk('retry')", "Retry all", show=False,
            tooltip="Retry every failed or cancelled task the filter matches (asks first)"),
    Binding("C", "bulk('cancel')", "Cancel all", show=False,
            tooltip="Cancel every waiting or running task the filter matches (asks first)"),
    Binding("D", "bulk('delete')", "Delete all", show=False,
            tooltip="Delete every finished task the filter matches (asks first)"),
]  # fmt: skip
APP_KEYS = [
    # "?" before the screens: on an 80-column footer the keys at the end are cut off first.
    Binding("question_mark", "help", "Keys", tooltip="Show every key", key_display="?"),
    Binding("n", "nodes", "Nodes", tooltip="Show every node: host, pid, heartbeat, workers, rate"),
    Binding(
        "s",
        "schedules",
        "Schedules",
        tooltip="Show every schedule: next and last run, outcome; pause, resume or run one now",
    ),
    Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit (asks first while tasks run)"),
]
# The schedules screen's own keys (its bindings; listed in the help as a group).
SCHEDULE_KEYS = [
    Binding("p", "toggle_pause", "Pause/resume",
            tooltip="Pause or resume the selected schedule, for every node on the store"),
    Binding("r", "run_now", "Run now",
            tooltip="Run the selected schedule now: one task at once, beside its ticks (asks first)"),
    Binding("escape,q,s", "dismiss(None)", "Close", key_display="esc",
            tooltip="Close the schedules screen"),
]  # fmt: skip
ALL_KEYS = [*CATEGORY_KEYS, *TASK_KEYS, *APP_KEYS]
# Actions that act on the node or its tasks, and the nodes and schedules screens: offered
# on the dashboard only, not while a dialog or an input is open.
DASHBOARD_ACTIONS = {b.action.split("(")[0] for b in CATEGORY_KEYS + TASK_KEYS} | {
    "nodes",
    "schedules",
}
# Keys that act on the selected category: only while the categories panel has focus.
CATEGORY_ACTIONS = {b.action.split("(")[0] for b in CATEGORY_KEYS} - {"rebalance"}
# What the command palette offers (quit is among Textual's own commands already).
PALETTE_KEYS = [b for b in ALL_KEYS if b.action != "quit"]

#: What the numbers mean, for the help screen (one definition of each).
DEFINITIONS = [
    ("workers", "busy/threads→target, then min..max (or the pin)"),
    ("busy", "tasks a worker thread runs now (this node; all live nodes when attached)"),
    ("running", "the tasks busy counts; a task claimed into a fifo is still queued"),
    ("fifo", "tasks claimed by a node, waiting in its memory for a worker (claimed)"),
    ("queued", "tasks waiting: in the store, or claimed into a fifo"),
    ("oldest", "how long the next task to claim has been due"),
    ("drain", "queued / rate/s: time to empty the queue at the recent rate"),
    ("done/1m fail/1m", "tasks succeeded / failed over the last minute (live)"),
    ("done/1h fail/1h", "the same over the last hour's full minutes, as stored by every node"),
    ("history", "the selected category's last 4 h, a bar a minute (the last one live)"),
    ("done failed", "every task the store holds in that state"),
    ("p50/p95", "run time of the latest 256 tasks (this node)"),
]


def shown_key(binding: Binding) -> str:
    return binding.key_display or binding.key.replace(",", " ")


def help_groups() -> list[KeyGroup]:
    def rows(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
        return [(shown_key(b), b.tooltip or b.description) for b in bindings]

    extra = [
        ("ctrl+p", "Command palette: every action by name"),
        ("tab", "Move between panels"),
        ("↑ ↓", "Select a row"),
    ]
    return [
        ("Selected category (categories panel focused)", rows(CATEGORY_KEYS)),
        ("Console", rows(APP_KEYS) + extra),
        ("Schedules screen (s)", rows(SCHEDULE_KEYS)),
        ("Tasks (task list focused)", rows(TASK_KEYS)),
        ("What the columns mean", DEFINITIONS),
    ]
