"""The console's keys: one list feeds the footer, the help screen and the command palette."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding

from .screens.help import KeyGroup

BURST = 100
PRIORITY_STEP = 1.5  # weights are relative, so + and - multiply and divide

CATEGORY_KEYS = [
    Binding(
        "i", "inject(1)", "Inject", tooltip="Inject one synthetic task into the selected category"
    ),
    Binding(
        "I",
        f"inject({BURST})",
        f"×{BURST}",
        tooltip=f"Inject a burst of {BURST} synthetic tasks into the selected category",
    ),
    Binding(
        "+,=",
        "priority_up",
        "Prio+",
        tooltip=f"Raise the selected category's priority (×{PRIORITY_STEP:g})",
    ),
    Binding(
        "-",
        "priority_down",
        "Prio-",
        tooltip=f"Lower the selected category's priority (÷{PRIORITY_STEP:g})",
    ),
    Binding("e", "edit_priority", "Prio=", tooltip="Set the selected category's priority exactly"),
    Binding("p", "toggle_pause", "Pause", tooltip="Pause or resume the selected category"),
    Binding("P", "pin", "Pin", tooltip="Pin the selected category's worker count (empty: unpin)"),
    Binding("b", "rebalance", "Balance", tooltip="Run the balancer now"),
]
TASK_KEYS = [
    Binding(
        "enter",
        "task_detail",
        "Detail",
        show=False,
        tooltip="Show the selected task (or the worker's task)",
        key_display="⏎",
    ),
    Binding("r", "retry", "Retry", tooltip="Queue the selected failed or cancelled task again"),
    Binding("c", "cancel_task", "Cancel", tooltip="Cancel the selected task"),
    Binding("/", "filter", "Filter", tooltip="Filter the task list: state:failed cat:email words"),
    Binding("escape", "clear_filter", "Clear filter", show=False, tooltip="Clear the task filter"),
]
APP_KEYS = [
    Binding("n", "nodes", "Node", tooltip="Show every node: host, pid, heartbeat, workers, rate"),
    Binding("question_mark", "help", "Help", tooltip="Show every key", key_display="?"),
    Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit (asks first while tasks run)"),
]
ALL_KEYS = [*CATEGORY_KEYS, *TASK_KEYS, *APP_KEYS]
# Actions that act on the node or its tasks, and the nodes screen: offered on the
# dashboard only, not while a dialog is open.
DASHBOARD_ACTIONS = {b.action.split("(")[0] for b in CATEGORY_KEYS + TASK_KEYS} | {"nodes"}
# What the command palette offers (quit is among Textual's own commands already).
PALETTE_KEYS = [b for b in ALL_KEYS if b.action != "quit"]


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
        ("Selected category", rows(CATEGORY_KEYS)),
        ("Tasks", rows(TASK_KEYS)),
        ("Console", rows(APP_KEYS) + extra),
    ]
