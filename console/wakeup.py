"""A wake-up that a signal handler may give.

A ``threading.Event`` cannot be set from a signal handler. The handler runs in the main
thread, between two bytecodes of whatever that thread was doing; if it was waiting on the
same Event, it may hold the Event's lock at that moment (on the way into or out of the
wait), and ``set()`` then waits for that lock forever: the process hangs on its stop
signal. A byte written to a socket pair takes no lock, and ``select`` on the other end
wakes at once.
"""

from __future__ import annotations

import select
import socket
from contextlib import suppress


class Wakeup:
    """Wakes the thread in :meth:`wait`, from another thread or from a signal handler."""

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)

    def wake(self) -> None:
        """Wake the waiter (now, or its next wait). Safe in a signal handler."""
        with suppress(OSError):  # full (a wake-up is pending anyway) or closed
            self._write.send(b"\0")

    def wait(self, timeout: float) -> None:
        """Return when woken since the last wait, or after ``timeout`` seconds."""
        with suppress(OSError):  # closed meanwhile: nothing left to wait for
            select.select([self._read], [], [], timeout)
        with suppress(OSError):  # BlockingIOError: every pending wake-up is read
            while self._read.recv(4096):
                pass

    def close(self) -> None:
        self._read.close()
        self._write.close()
