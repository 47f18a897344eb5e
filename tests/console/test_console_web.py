"""``jobsched console --web``: where it listens, who may connect, what each browser session
runs, and the console itself in a real browser (the system's Chromium)."""

from __future__ import annotations

import asyncio
import shlex
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobsched.console.compose import run_console
from jobsched.console.settings import load_settings
from jobsched.console.web import Address, parse_address, session_command
from jobsched.core import ConfigError, InvalidInputError

from .cli_support import Cli, make_cli, one_line_error, poll
from .web_support import CAPTURE_TERMINAL, WebServer, alive, chromium, playwright_api, screen


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_cli(tmp_path)


@pytest.fixture
def server(cli: Cli) -> Iterator[Callable[..., WebServer]]:
    started: list[WebServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WebServer:
        web = WebServer(cli, *args, env=env)
        started.append(web)
        web.wait_ready()
        return web

    yield start
    for web in started:
        web.stop()


# --- the address and the command each session runs ---------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        (None, "127.0.0.1", 8000, True),
        ("127.0.0.1:9000", "127.0.0.1", 9000, True),
        (":9001", "127.0.0.1", 9001, True),
        ("localhost", "localhost", 8000, True),
        ("[::1]:9002", "::1", 9002, True),
        ("0.0.0.0:80", "0.0.0.0", 80, False),
        ("192.168.1.5", "192.168.1.5", 8000, False),
        ("example.org:8080", "example.org", 8080, False),
    ],
)
def test_addresses(text: str | None, host: str, port: int, loopback: bool) -> None:
    address = parse_address(text)
    assert address == Address(host, port)
    assert address.loopback is loopback


@pytest.mark.parametrize("text", ["host:0", "host:70000", "host:http", "[::1]:x"])
def test_a_bad_port_is_refused_with_the_text(text: str) -> None:
    with pytest.raises(InvalidInputError, match="HOST:PORT") as caught:
        parse_address(text)
    assert text in str(caught.value)


def test_each_session_attaches_with_this_interpreter_database_and_config(cli: Cli) -> None:
    settings = load_settings(str(cli.config), "jobs.db", env={}, cwd=str(cli.root))
    argv = shlex.split(session_command(settings))
    assert argv[:5] == [sys.executable, "-m", "jobsched.console.cli", "console", "--attach"]
    assert argv[5:] == ["--db", "jobs.db", "--config", str(cli.config)]


def test_the_terminal_check_is_relaxed_only_for_a_textual_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no terminal (pytest captures stdin and stdout) and a database that cannot open
    settings = load_settings(None, str(tmp_path / "missing" / "x.db"), env={}, cwd=str(tmp_path))
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert run_console(settings, demo=False, attach=True) == 2
    assert "needs a terminal" in capsys.readouterr().err
    # With a driver named, the console goes on (and here stops at the store's error)
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    code = run_console(settings, demo=False, attach=True)
    err = capsys.readouterr().err
    assert "needs a terminal" not in err
    assert code != 0 and err.startswith("Error: "), err


# --- who may connect --------------------------------------------------------------------


def test_beyond_loopback_without_a_token_is_refused(cli: Cli) -> None:
    line = one_line_error(cli("console", "--web", "0.0.0.0:8765"), 2, "0.0.0.0:8765", "--token")
    assert "JOBSCHED_WEB_TOKEN" in line


def test_an_address_or_token_without_web_is_refused(cli: Cli) -> None:
    one_line_error(cli("console", "127.0.0.1:8765"), 2, "only for --web")
    one_line_error(cli("console", "--token", "s3cret"), 2, "only for --web")


def test_the_token_may_come_from_the_environment_or_the_config_file(cli: Cli) -> None:
    # A token from either source lets the check pass; the bad port then stops the command
    # before anything is served.
    refused = cli("console", "--web", "0.0.0.0:0", env={"JOBSCHED_WEB_TOKEN": "s3cret"})
    one_line_error(refused, 2, "no valid port")
    cli.config.write_text(cli.config.read_text() + '\n[web]\ntoken = "s3cret"\n')
    one_line_error(cli("console", "--web", "0.0.0.0:0"), 2, "no valid port")


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_with_a_token_every_request_must_carry_it(server: Callable[..., WebServer]) -> None:
    web = server("--token", "s3cret")
    for path in ("/", "/ws", "/static/js/textual.js", "/?token=wrong"):
        assert fetch(web.url + path)[0] == 401, path
    status, headers = fetch(web.url + "/?token=s3cret")
    assert status == 200
    assert "jobsched_token=s3cret" in headers["Set-Cookie"]
    assert "HttpOnly" in headers["Set-Cookie"]
    assert fetch(web.url + "/static/js/textual.js", Cookie="jobsched_token=s3cret")[0] == 200
    assert fetch(web.url + "/", Authorization="Bearer s3cret")[0] == 200
    # The websocket: refused without the token, opened with it
    assert asyncio.run(open_websocket(web.url + "/ws")) == 401
    assert asyncio.run(open_websocket(web.url + "/ws", Cookie="jobsched_token=s3cret")) == 101


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_page_of_another_site_cannot_open_the_websocket(server: Callable[..., WebServer]) -> None:
    web = server()
    assert asyncio.run(open_websocket(web.url + "/ws", Origin="http://elsewhere.example")) == 403
    assert asyncio.run(open_websocket(web.url + "/ws", Origin=web.url)) == 101


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_without_a_token_only_loopback_host_names_are_served(
    server: Callable[..., WebServer],
) -> None:
    """A site whose name an attacker resolves to 127.0.0.1 (DNS rebinding) sends its own
    name as Host and Origin, which agree: the Host gives it away."""
    web = server()
    port = web.url.rsplit(":", 1)[1]
    rebound = f"evil.example:{port}"
    assert fetch(web.url + "/", Host=rebound)[0] == 421
    assert (
        asyncio.run(open_websocket(web.url + "/ws", Host=rebound, Origin=f"http://{rebound}"))
        == 421
    )
    assert fetch(web.url + "/", Host=f"localhost:{port}")[0] == 200
    assert fetch(web.url + "/")[0] == 200


async def open_websocket(url: str, **headers: str) -> int:
    """The status of a websocket handshake: 101 when it opened (then closed at once)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(
                url, headers=headers, timeout=aiohttp.ClientWSTimeout(10)
            ):
                return 101
        except aiohttp.WSServerHandshakeError as error:
            return error.status


# --- in a browser -----------------------------------------------------------------------


def row(text: str, category: str) -> list[str]:
    """The cells of a category's row in the categories panel."""
    for line in text.splitlines():
        cells = line.strip("│ ").split()
        if cells and cells[0] == category and len(cells) > 4:
            return cells
    return []


def priority_shown(text: str, category: str) -> str | None:
    """The category's cell under the ``prio`` heading (which columns fit depends on the
    browser's width)."""
    for line in text.splitlines():
        cells = line.strip("│ ").split()
        if cells and cells[0] == "category" and "prio" in cells:
            found = row(text, category)
            at = cells.index("prio")  # the cells before it are one word each
            return found[at] if len(found) > at else None
    return None


def footer_shown(text: str) -> bool:
    """Whether the terminal's last line shows the footer's essential keys."""
    lines = text.rstrip("\n").splitlines()
    return bool(lines) and all(key in lines[-1] for key in ("Quit", "Filter", "Keys"))


def wait_for_screen(page: Any, check: Callable[[str], bool], what: str, timeout: float) -> str:
    return poll(lambda: (lambda text: text if check(text) else None)(screen(page)),
                timeout, interval=0.1, what=what)  # fmt: skip


@pytest.mark.slow(seconds=15)
@pytest.mark.timeout(120)
def test_two_browsers_attach_to_one_node_and_steer_it(
    cli: Cli, server: Callable[..., WebServer]
) -> None:
    executable = chromium()
    sync_api = playwright_api()
    # Given the console served with a node in the serving process, behind a token
    web = server("--token", "s3cret")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            pages = []
            for _ in range(2):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.add_init_script(CAPTURE_TERMINAL)
                page.goto(web.url + "/?token=s3cret")
                pages.append(page)
            # Then each browser shows the categories, each through an attached console
            for page in pages:
                text = wait_for_screen(
                    page, lambda t: bool(row(t, "a") and row(t, "b")), "categories", 45
                )
                assert "ATTACHED" in text
                # And the footer's keys, before the page has ever had the focus
                wait_for_screen(page, footer_shown, "the footer's keys", 20)
            sessions = {p: c for p, c in web.sessions().items() if c.startswith(sys.executable)}
            assert len(sessions) == 2
            assert all("console --attach" in c for c in sessions.values())
            with cli.store() as store:
                assert [n.pid for n in store.nodes() if not n.stopped] == [web.proc.pid]
            # When one browser presses "+" on the selected category (a, the first row)
            pages[0].focus(".xterm-helper-textarea")
            pages[0].keyboard.press("+")
            # Then both browsers show its priority raised, and the store holds it
            for page in pages:
                wait_for_screen(
                    page, lambda t: priority_shown(t, "a") == "1.5", "prio 1.5 shown", 20
                )
            with cli.store() as store:
                assert store.load_settings()["a"].priority == pytest.approx(1.5)
        finally:
            browser.close()
    assert web.stop() == 0
    # The sessions ended with the server
    poll(lambda: not any(alive(pid) for pid in sessions), 10, what="sessions ended")


def test_the_token_in_the_config_file_is_checked_and_the_environment_wins(cli: Cli) -> None:
    cli.config.write_text(cli.config.read_text() + '\n[web]\ntoken = "from-file"\n')
    assert load_settings(str(cli.config), env={}).web_token == "from-file"
    env = {"JOBSCHED_WEB_TOKEN": "from-env"}
    assert load_settings(str(cli.config), env=env).web_token == "from-env"
    cli.config.write_text(cli.config.read_text().replace('"from-file"', "5"))
    with pytest.raises(ConfigError, match="web.token"):
        load_settings(str(cli.config), env=env)
