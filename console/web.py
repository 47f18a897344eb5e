"""``jobsched console --web``: the console in a browser, served by textual-serve.

Every browser tab that opens the page gets a console of its own: textual-serve starts
``python -m jobsched.console.cli console --attach`` (same interpreter, same ``--db`` and
``--config``) as a subprocess per websocket, so the tabs only watch and steer. The node
itself runs once, in the serving process (as with ``jobsched run``); with ``--attach`` the
server starts no node and the tabs steer a node that runs elsewhere on the same store.

An address other than loopback needs a token (``--token``, ``JOBSCHED_WEB_TOKEN`` or
``[web] token``): every request and the websocket must then carry it, as ``?token=`` on the
first page load (answered with a cookie the later requests send) or as
``Authorization: Bearer``. A request from a page of another site (its ``Origin``) is
refused whatever the address.
"""

from __future__ import annotations

import hmac
import ipaddress
import shlex
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jobsched.core import InvalidInputError

from .settings import DEMO_CONFIG, Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TOKEN_ENV = "JOBSCHED_WEB_TOKEN"
COOKIE = "jobsched_token"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Address:
    """Where the console is served: a host name or IP address and a TCP port."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect (127.0.0.0/8, ::1, ``localhost``)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_address(text: str | None) -> Address:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` (``[::1]:8000`` for IPv6); None: the default,
    127.0.0.1:8000. Raises :class:`InvalidInputError` naming the text."""
    if text is None:
        return Address(DEFAULT_HOST, DEFAULT_PORT)
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    host = host or DEFAULT_HOST
    if not port_text:
        return Address(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidInputError(
            "--web address",
            text,
            "has no valid port (1..65535)",
            "Write HOST:PORT, e.g. 127.0.0.1:8000",
        )
    return Address(host, int(port_text))


def require_token(address: Address, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token (exit 2)."""
    if not address.loopback and not token:
        raise InvalidInputError(
            "--web address",
            f"{address.host}:{address.port}",
            "is reachable from other machines, and no token was given",
            f"Give --token SECRET (or set {TOKEN_ENV}, or [web] token in the config file), "
            "or serve on 127.0.0.1",
        )


def session_command(settings: Settings) -> str:
    """The shell command textual-serve runs for each browser session: this interpreter's
    ``jobsched console --attach`` on the same database and config file."""
    # Paths as given: each session starts in this process's working directory.
    argv = [sys.executable, "-m", "jobsched.console.cli", "console", "--attach"]
    argv += ["--db", settings.db]
    if settings.source != DEMO_CONFIG:
        argv += ["--config", settings.source]
    return shlex.join(argv)


# --- the token gate ----------------------------------------------------------------------

Handler = Callable[[Any], Awaitable[Any]]


def token_gate(token: str) -> Callable[[Any, Handler], Awaitable[Any]]:
    """aiohttp middleware: a request without ``token`` (query, bearer header or cookie)
    gets 401; a page load with the right ``?token=`` sets the cookie the page's later
    requests (scripts, fonts, the websocket) carry."""
    from aiohttp import web

    expected = token.encode("utf-8")

    def matches(given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8"), expected)

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> Any:
        bearer = request.headers.get("Authorization", "")
        from_query = matches(request.query.get("token"))
        if not (
            from_query
            or matches(request.cookies.get(COOKIE))
            or (bearer.startswith("Bearer ") and matches(bearer[7:]))
        ):
            return web.Response(
                status=401,
                text="jobsched console: a token is required (open the page with ?token=...)\n",
                headers={"WWW-Authenticate": 'Bearer realm="jobsched"'},
            )
        response = await handler(request)
        if from_query and isinstance(response, web.Response):
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        return response

    return gate


def same_origin_gate() -> Callable[[Any, Handler], Awaitable[Any]]:
    """aiohttp middleware: a request whose ``Origin`` is another site gets 403, so a page
    elsewhere cannot open the console's websocket from the viewer's browser (websockets
    are not bound by the same-origin policy)."""
    from urllib.parse import urlsplit

    from aiohttp import web

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> Any:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return web.Response(status=403, text="jobsched console: cross-site request\n")
        return await handler(request)

    return gate


def loopback_host_gate() -> Callable[[Any, Handler], Awaitable[Any]]:
    """aiohttp middleware for a console served without a token: a request whose ``Host``
    is not a loopback name or address gets 421. A page of another site whose name the
    attacker resolves to 127.0.0.1 (DNS rebinding) passes the same-origin check, since its
    Origin and Host agree; the Host gives it away."""
    from aiohttp import web

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> Any:
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        if not Address(host.strip("[]"), 0).loopback:
            return web.Response(
                status=421,
                text="jobsched console: served for this machine only (use 127.0.0.1 or "
                "localhost in the address, or serve with --token)\n",
            )
        return await handler(request)

    return gate


def build_server(command: str, address: Address, token: str | None, say: Say) -> Any:
    """A textual-serve server for ``command`` on ``address``, behind the token gate when
    there is a token. Its page builds URLs from the request's Host header, so it works
    whatever name or address the browser used."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    class ConsoleServer(Server):  # type: ignore[misc]
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(same_origin_gate())
            if token:
                app.middlewares.append(token_gate(token))
            else:
                app.middlewares.append(loopback_host_gate())
            return app

        def initialize_logging(self) -> None:
            """Leave logging as the process set it (textual-serve would add its own)."""

        async def on_startup(self, app: web.Application) -> None:
            """Nothing: the line that says where it listens comes once it listens."""

        def serve(self, debug: bool = False) -> None:
            ready = f"jobsched: console served at {address.url}/" + ("?token=..." if token else "")
            web.run_app(
                self._make_app(),
                host=address.host,
                port=address.port,
                print=lambda *_: say(ready),  # called once every socket listens
            )

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            base = f"{request.scheme}://{request.host}"
            ws = ("wss" if request.scheme == "https" else "ws") + base[len(request.scheme) :]
            return {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"{ws}/ws",
                "config": {"static": {"url": f"{base}/static/"}},
                "application": {"name": "jobsched console"},
            }

    return ConsoleServer(command, host=address.host, port=address.port, title="jobsched")


# --- the command ---------------------------------------------------------------------------


def serve_console(
    settings: Settings,
    address: Address,
    token: str | None,
    *,
    demo: bool,
    attach: bool,
    say: Say,
) -> int:
    """Serve the console until SIGINT or SIGTERM (the CLI's ``console --web``); returns
    the exit code. Without ``attach``, a node (and with ``demo`` the demo servers and
    workload) runs in this process for the whole time, stopped in reverse order at the end."""
    require_token(address, token)
    if demo and attach:
        raise InvalidInputError(
            "--demo",
            "--attach",
            "cannot be combined with --web",
            "Run the demo where the node runs",
        )
    try:
        import textual_serve.server  # noqa: F401
    except ImportError as exc:
        raise InvalidInputError(
            "--web",
            None,
            f"is not available ({exc})",
            "Install jobsched with its textual-serve dependency",
        ) from None
    server = build_server(session_command(settings), address, token, say)
    with _node(settings, demo=demo, attach=attach, say=say):
        try:
            server.serve()
        except OSError as exc:  # the bind: address in use, not an address of this machine
            raise InvalidInputError(
                "--web address",
                f"{address.host}:{address.port}",
                f"cannot be listened on ({exc.strerror or exc})",
                "Choose another HOST:PORT, or stop what listens there",
            ) from None
    return 0


@contextmanager
def _node(settings: Settings, *, demo: bool, attach: bool, say: Say) -> Iterator[None]:
    from . import compose

    stops: list[Callable[[], Any]] = []
    try:
        if attach:
            say(f"jobsched: each browser session attaches to the node on {settings.db}")
        else:
            servers = compose._start_servers(stops) if demo else None
            source, client = compose.build_source(settings, attach=False)
            source.start()
            stops.append(source.stop)
            if demo:
                compose._start_workload(client, stops)
            where = f"; demo: {servers.describe()}" if servers is not None else ""
            say(f"jobsched: a node runs in this process on {settings.db}{where}")
        yield
    finally:
        for stop in reversed(stops):
            stop()
