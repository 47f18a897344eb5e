"""The ``jobsched`` command line (the README's "Scripting with the CLI").

Every command that changes something writes to the store through a client built by the
composition root, so it works whether or not a node is running: a running node polls the
store and applies the change. Errors are handled in one place, :class:`JobschedGroup`:
one line on stderr, ``Error: <message>``, and the exit code of the error.
"""

from __future__ import annotations

# Each module registers its commands on app; this order is the order of `jobsched --help`.
# isort: off
from .commands import node, submitting, reading, info, changing, bulk, limits  # noqa: F401
from .commands import schedules, upkeep  # noqa: F401

# isort: on
from .commands.common import app
from .node import exit_process

__all__ = ["app", "main"]


def main() -> None:
    """The ``jobsched`` console script. It exits once the command is done, without
    waiting for threads a handler left behind (see :func:`console.node.exit_process`)."""
    try:
        app(prog_name="jobsched")
    except SystemExit as exc:
        exit_process(exc.code)
    exit_process(0)


if __name__ == "__main__":
    main()
