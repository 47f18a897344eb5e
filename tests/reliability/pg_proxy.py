"""A TCP proxy between a node and its PostgreSQL server, for outage tests.

``PgProxy(host, port)`` listens on 127.0.0.1 on a free port and forwards every connection
to the server. :meth:`pause` stops forwarding in both directions (the server "does not
answer": the kernel still accepts the bytes, so nothing fails, everything waits);
:meth:`resume` forwards again. :meth:`cut` closes every connection and, until
:meth:`resume`, closes new ones at once (the server is unreachable). Threads only.
"""

from __future__ import annotations

import select
import socket
import threading
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

_WAIT = 0.05


class _Link:
    """One client connection and its server connection."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.server):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with suppress(OSError):
                sock.close()


class PgProxy:
    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_WAIT)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept_loop, name="pg-proxy", daemon=True)
        self._thread.start()

    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = (auth + "@" if auth else "") + f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    # --- control ---------------------------------------------------------------------
    def pause(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        with self._lock:
            self._refusing = False
        self._flowing.set()

    def cut(self) -> None:
        with self._lock:
            self._refusing = True
            links, self._links = self._links, []
        for link in links:
            link.close()

    def close(self) -> None:
        self._stop.set()
        self._flowing.set()
        self.cut()
        self._thread.join(5)
        with suppress(OSError):
            self._listener.close()

    # --- forwarding --------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            with self._lock:
                refusing = self._refusing
            if refusing:
                with suppress(OSError):
                    client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            link = _Link(client, server)
            with self._lock:
                self._links.append(link)
            for src, dst in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(link, src, dst), name="pg-proxy-pump", daemon=True
                ).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not link.closed.is_set():
                if not self._flowing.wait(_WAIT):
                    continue  # paused: leave the bytes where they are
                ready, _, _ = select.select([src], [], [], _WAIT)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        link.close()
