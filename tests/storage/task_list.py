"""The reads of the console's task list, and a store shaped like the one they are slow on:
a long queue draining oldest first, with the finished tasks (most succeeded, some failed)
at the low ids, below the whole queue."""

from __future__ import annotations

from jobsched.core.query import Page, parse
from jobsched.core.store import TaskStore
from jobsched.core.task import FAILED, SUCCEEDED

from tests.store_contract import NODE, T0, done, new

BLOCK = 500  # tasks per category block (the categories alternate in blocks of ids)


def fill(store: TaskStore, tasks: int) -> None:
    """``tasks`` queued tasks in categories ``email`` and ``web``, of which the oldest
    tenth is finished (every seventh of those failed) and a few run."""
    for start in range(0, tasks, BLOCK):
        category = ("email", "web")[start // BLOCK % 2]
        store.insert([new(category=category)] * min(BLOCK, tasks - start), T0)
    for category in ("email", "web"):
        claimed = store.claim(category, tasks // 20, NODE, T0 + 1)
        store.finish([done(t, FAILED if t.id % 7 == 0 else SUCCEEDED) for t in claimed])
        store.claim(category, 3, NODE, T0 + 2)


def pages(tasks: int) -> dict[str, Page]:
    """What the console reads after each kind of key (``/`` filters, ``]`` pages, ``o``
    the order, ``g`` go-to-id), on a store filled by :func:`fill` with ``tasks`` tasks:
    one screenful each."""

    def page(text: str, order: str = "newest", after: int | None = None) -> Page:
        return Page(parse(text, T0), order, 30, after)  # type: ignore[arg-type]

    middle = tasks // 2
    return {
        "newest first": page(""),
        "oldest first": page("", "oldest"),
        "a later page": page("", after=middle),
        "go to an id": page("", after=middle + 1),
        "state:queued": page("state:queued"),
        "state:queued oldest first": page("state:queued", "oldest"),
        "state:succeeded (below the queue)": page("state:succeeded"),
        "state:running (a few)": page("state:running"),
        "state:failed,cancelled": page("state:failed,cancelled"),
        "state:queued, a later page": page("state:queued", after=middle),
        "cat:web": page("cat:web"),
        "cat:web state:succeeded": page("cat:web state:succeeded"),
        "cat:email,web state:running": page("cat:email,web state:running"),
        "id:N": page(f"id:{middle}"),
    }


#: A free word that matches nothing: it reads every row (text has no index).
NO_MATCH = "nothing-like-it"
