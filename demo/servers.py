"""Local servers the demo handlers talk to: SMTP and HTTP on 127.0.0.1, free ports.

The console's demo mode and tests start a :class:`DemoServers` next to the scheduler::

    with DemoServers() as servers:          # start(): both servers, then "current"
        print(servers.describe())           # "SMTP on 127.0.0.1:PORT, HTTP on 127.0.0.1:PORT"
        with Scheduler(config) as sched:
            ...

Handlers find the servers through :func:`smtp_endpoint` and :func:`http_endpoint`: the
servers most recently started in this process, else the ``JOBSCHED_DEMO_SMTP`` and
``JOBSCHED_DEMO_HTTP`` environment variables (``127.0.0.1:PORT``), which a node started
in another process gets from :meth:`DemoServers.env`. Every address is loopback.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import ipaddress
import logging
import os
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from jobsched.core import ConfigError, JobschedError

log = logging.getLogger("jobsched.demo")

HOST = "127.0.0.1"
ENV_SMTP = "JOBSCHED_DEMO_SMTP"
ENV_HTTP = "JOBSCHED_DEMO_HTTP"
MAX_LATENCY_MS = 10_000
#: How long the HTTP loop waits for a request before it checks its stop event again.
HTTP_POLL = 0.1
JOIN_TIMEOUT = 5.0


class DemoServersError(JobschedError):
    """The demo servers are not there (not started, or not announced to this process)."""


@dataclass(frozen=True)
class Endpoint:
    """A loopback ``host:port``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str, variable: str) -> Endpoint:
        """Read ``HOST:PORT`` from an environment variable; only loopback hosts pass."""
        host, sep, port_text = text.strip().rpartition(":")
        if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(
                variable, text, "is not HOST:PORT", f"Use e.g. {variable}={HOST}:2525"
            )
        if not _is_loopback(host):
            raise ConfigError(
                variable, text, "is not a loopback address", "The demo only talks to 127.0.0.1"
            )
        return cls(host, int(port_text))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- SMTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the SMTP server accepted."""

    mail_from: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    body: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class Mailbox:
    """The messages received so far. Thread-safe: the SMTP thread appends, others read."""

    def __init__(self) -> None:
        self._messages: list[ReceivedMessage] = []
        self._changed = threading.Condition()

    def add(self, message: ReceivedMessage) -> None:
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()

    def messages(self) -> list[ReceivedMessage]:
        with self._changed:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` messages arrived; False if ``timeout`` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._messages) >= count, timeout)

    def __len__(self) -> int:
        with self._changed:
            return len(self._messages)


class _MailSink:
    """aiosmtpd handler: parse each message and keep it in the mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook name
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body_part = parsed.get_body(preferencelist=("plain",)) if parsed.is_multipart() else parsed
        body = body_part.get_content() if body_part is not None else ""
        self.mailbox.add(
            ReceivedMessage(
                mail_from=str(envelope.mail_from or ""),
                recipients=tuple(envelope.rcpt_tos),
                subject=str(parsed.get("Subject", "")),
                message_id=str(parsed.get("Message-ID", "")),
                body=str(body).replace("\r\n", "\n"),
                headers=tuple((k, str(v)) for k, v in parsed.items()),
            )
        )
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):
    """aiosmtpd's threaded controller, on a port the OS picks.

    aiosmtpd 1.4 binds port 0 fine but then probes the configured port (0) to check the
    server answers (aio-libs/aiosmtpd#388); read the bound port first.
    """

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


# --- HTTP ------------------------------------------------------------------------------


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True
    timeout = HTTP_POLL

    def __init__(self) -> None:
        super().__init__((HOST, 0), _PageHandler)
        self.stopping = threading.Event()
        self.lock = threading.Condition()
        self.served: list[str] = []
        self.waiting = 0  # requests inside their latency wait


def render_page(number: int) -> str:
    """The HTML of ``/page/NUMBER``: a title and a few paragraphs, sized by the number."""
    title = f"Demo page {number}"
    paragraphs = "\n".join(
        f"<p>Paragraph {i + 1} of page {number}. "
        + "jobsched fetches this over loopback. " * (1 + number % 5)
        + "</p>"
        for i in range(1 + number % 7)
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n{paragraphs}\n</body></html>\n"
    )


def page_path(number: int, latency_ms: int = 0) -> str:
    """The path that serves page ``number`` after ``latency_ms`` milliseconds."""
    return f"/page/{number}?latency_ms={latency_ms}" if latency_ms else f"/page/{number}"


class _PageHandler(BaseHTTPRequestHandler):
    server: _PageServer

    def do_GET(self) -> None:  # noqa: N802 - http.server hook name
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "page" or not parts[1].isdigit():
            self._reply(
                HTTPStatus.NOT_FOUND,
                f"<title>Not found</title><p>No page at {html.escape(url.path)}</p>",
            )
            return
        try:
            latency = int(parse_qs(url.query).get("latency_ms", ["0"])[0])
        except ValueError:
            latency = -1
        if not 0 <= latency <= MAX_LATENCY_MS:
            self._reply(
                HTTPStatus.BAD_REQUEST,
                f"<title>Bad request</title><p>latency_ms must be 0..{MAX_LATENCY_MS}</p>",
            )
            return
        if latency and self._wait(latency / 1000):
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, "<title>Stopping</title>")
            return
        # Counted before the reply goes out, so a client that has read the page sees it counted.
        with self.server.lock:
            self.server.served.append(url.path)
        self._reply(HTTPStatus.OK, render_page(int(parts[1])))

    def _wait(self, seconds: float) -> bool:
        """Wait out the latency; True if the server began stopping meanwhile.

        Waiting on the stop event keeps a slow page from holding up stop().
        """
        server = self.server
        with server.lock:
            server.waiting += 1
            server.lock.notify_all()
        try:
            return server.stopping.wait(seconds)
        finally:
            with server.lock:
                server.waiting -= 1

    def _reply(self, status: HTTPStatus, page: str) -> None:
        data = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server signature
        log.debug("http %s: " + format, self.address_string(), *args)


# --- both, and the "current" servers ---------------------------------------------------

_running: list[DemoServers] = []
_running_lock = threading.Lock()


class DemoServers:
    """An SMTP and an HTTP server on 127.0.0.1 (free ports), for the demo handlers.

    ``start()`` makes them the current servers of this process; ``stop()`` withdraws them.
    The ports and :meth:`describe` are valid once started.
    """

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self._smtp: _LoopbackController | None = None
        self._http: _PageServer | None = None
        self._http_thread: threading.Thread | None = None

    # --- lifecycle
    def start(self) -> DemoServers:
        if self._smtp is not None:
            raise DemoServersError(
                "demo servers", self.describe(), "are already started", "Start them once"
            )
        smtp = _LoopbackController(_MailSink(self.mailbox), hostname=HOST, port=0)
        smtp.start()
        try:
            httpd = _PageServer()
        except BaseException:
            smtp.stop()
            raise
        self._smtp, self._http = smtp, httpd
        self._http_thread = threading.Thread(
            target=self._serve_http, name="jobsched-demo-http", daemon=True
        )
        self._http_thread.start()
        with _running_lock:
            _running.append(self)
        log.info("demo servers: %s", self.describe())
        return self

    def _serve_http(self) -> None:
        httpd = self._http
        assert httpd is not None
        while not httpd.stopping.is_set():
            try:
                httpd.handle_request()  # waits at most HTTP_POLL for a request
            except Exception:
                log.exception("demo HTTP server: a request failed")

    def stop(self) -> None:
        """Withdraw the servers from handlers first, then stop HTTP, then SMTP."""
        with _running_lock:
            if self in _running:
                _running.remove(self)
        httpd, thread, smtp = self._http, self._http_thread, self._smtp
        if httpd is not None:
            httpd.stopping.set()
            if thread is not None:
                thread.join(timeout=JOIN_TIMEOUT)
            httpd.server_close()
        if smtp is not None:
            smtp.stop()
        self._http = self._http_thread = self._smtp = None

    def __enter__(self) -> DemoServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- where they are
    @property
    def smtp(self) -> Endpoint:
        if self._smtp is None:
            raise _not_started()
        return Endpoint(HOST, int(self._smtp.port))

    @property
    def http(self) -> Endpoint:
        if self._http is None:
            raise _not_started()
        return Endpoint(HOST, int(self._http.server_address[1]))

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def http_port(self) -> int:
        return self.http.port

    def describe(self) -> str:
        """One line for the console: where the servers listen."""
        if self._smtp is None or self._http is None:
            return "demo servers not started"
        return f"SMTP on {self.smtp}, HTTP on {self.http}"

    def env(self) -> dict[str, str]:
        """Environment variables that point a node in another process at these servers."""
        return {ENV_SMTP: str(self.smtp), ENV_HTTP: str(self.http)}

    # --- what they did
    @property
    def messages(self) -> list[ReceivedMessage]:
        """Messages the SMTP server accepted, oldest first (a copy)."""
        return self.mailbox.messages()

    @property
    def served_pages(self) -> list[str]:
        """Paths of the pages answered with 200, in order (a copy)."""
        if self._http is None:
            return []
        with self._http.lock:
            return list(self._http.served)

    @property
    def pages_served(self) -> int:
        return len(self.served_pages)


def _not_started() -> DemoServersError:
    return DemoServersError(
        "demo servers", None, "are not started", "Call DemoServers.start() first"
    )


def current() -> DemoServers | None:
    """The servers most recently started in this process and not yet stopped."""
    with _running_lock:
        return _running[-1] if _running else None


def smtp_endpoint() -> Endpoint:
    """Where ``email.send`` delivers: the current servers, else ``JOBSCHED_DEMO_SMTP``."""
    return _endpoint("SMTP", ENV_SMTP)


def http_endpoint() -> Endpoint:
    """Where ``web.fetch`` fetches from: the current servers, else ``JOBSCHED_DEMO_HTTP``."""
    return _endpoint("HTTP", ENV_HTTP)


def _endpoint(kind: str, variable: str) -> Endpoint:
    servers = current()
    if servers is not None:
        return servers.smtp if kind == "SMTP" else servers.http
    text = os.environ.get(variable, "").strip()
    if text:
        return Endpoint.parse(text, variable)
    raise DemoServersError(
        f"no demo {kind} server",
        None,
        f"none was started in this process and {variable} is not set",
        f"Start demo.servers.DemoServers() beside the scheduler, or set {variable}={HOST}:PORT",
    )
