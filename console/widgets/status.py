"""The status line: node state, totals, refresh rate, where the store and demo live."""

from __future__ import annotations

from jobsched.core import Snapshot
from rich.text import Text
from textual.widgets import Static

from ..escape import visible
from . import format as fmt


def status_text(
    snap: Snapshot, location: str, refresh_rate: float | None, error: str | None
) -> Text:
    busy = sum(c.busy for c in snap.categories)
    threads = sum(c.threads for c in snap.categories)
    queued = sum(c.queued for c in snap.categories)  # FIFO tasks are counted as queued
    failed = sum(c.failed for c in snap.categories)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(
        f" {snap.state.upper()} ",
        style="bold reverse green" if snap.state == "running" else "bold reverse yellow",
    )
    text.append(f"  workers {busy}/{threads} of {snap.budget}")
    text.append(f"  queued {fmt.count(queued)}")
    text.append(f"  {fmt.rate(snap.rate)}/s")
    text.append(f"  failed {fmt.count(failed)}", style="red" if failed else "")
    if snap.abandoned_threads:
        text.append(f"  abandoned threads {snap.abandoned_threads}", style="yellow")
    text.append(f"  store {visible(location)}", style="dim")
    if refresh_rate is not None:
        text.append(f"  refresh {refresh_rate:.1f}/s", style="dim")
    if error:
        text.append(f"  {visible(error)}", style="bold red")
    return text


class StatusLine(Static):
    """One line, so updating it never needs a layout pass."""

    def update_status(
        self, snap: Snapshot, location: str, refresh_rate: float | None, error: str | None
    ) -> None:
        self.update(status_text(snap, location, refresh_rate, error), layout=False)
