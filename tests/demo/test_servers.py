"""DemoServers: SMTP and HTTP on loopback, and how handlers find them."""

from __future__ import annotations

import re
import smtplib
import threading
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest
from jobsched.core import ConfigError
from jobsched.demo import servers as demo_servers
from jobsched.demo.servers import (
    ENV_HTTP,
    ENV_SMTP,
    DemoServers,
    DemoServersError,
    Endpoint,
    page_path,
)


def _send(servers: DemoServers, subject: str, to: str = "someone@example.test") -> None:
    message = EmailMessage()
    message["From"] = "sender@example.test"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject}@example.test>"
    message.set_content(f"body of {subject}")
    with smtplib.SMTP(servers.smtp.host, servers.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


def _get(servers: DemoServers, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{servers.http_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_describe_names_both_loopback_ports(servers: DemoServers) -> None:
    # Given started servers, when described, then both free ports on 127.0.0.1 show.
    assert (
        servers.describe()
        == f"SMTP on 127.0.0.1:{servers.smtp_port}, HTTP on 127.0.0.1:{servers.http_port}"
    )
    assert re.fullmatch(r"SMTP on 127\.0\.0\.1:\d+, HTTP on 127\.0\.0\.1:\d+", servers.describe())
    assert servers.smtp_port != servers.http_port
    assert servers.env() == {
        ENV_SMTP: f"127.0.0.1:{servers.smtp_port}",
        ENV_HTTP: f"127.0.0.1:{servers.http_port}",
    }


def test_smtp_server_keeps_each_message(servers: DemoServers) -> None:
    # When two messages are sent, then both are kept in order, parsed.
    _send(servers, "first", to="a@example.test")
    _send(servers, "second")
    messages = servers.messages
    assert [m.subject for m in messages] == ["first", "second"]
    assert messages[0].recipients == ("a@example.test",)
    assert messages[0].mail_from == "sender@example.test"
    assert messages[0].message_id == "<first@example.test>"
    assert messages[0].body == "body of first\n"
    assert messages[0].header("subject") == "first"
    assert servers.mailbox.wait_for(2, timeout=1)
    assert not servers.mailbox.wait_for(3, timeout=0.01)


def test_http_serves_titled_pages_and_counts_them(servers: DemoServers) -> None:
    status, body = _get(servers, page_path(7))
    assert status == 200
    assert "<title>Demo page 7</title>" in body
    _get(servers, page_path(3, latency_ms=1))
    assert servers.pages_served == 2
    assert servers.served_pages == ["/page/7", "/page/3"]


def test_http_latency_delays_the_page(servers: DemoServers) -> None:
    started = time.monotonic()
    status, _ = _get(servers, "/page/1?latency_ms=150")
    assert status == 200
    assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 404),
        ("/page/x", 404),
        ("/other/1", 404),
        ("/page/1?latency_ms=-5", 400),
        ("/page/1?latency_ms=99999", 400),
    ],
)
def test_http_refuses_other_paths_and_does_not_count_them(
    servers: DemoServers, path: str, status: int
) -> None:
    assert _get(servers, path)[0] == status
    assert servers.pages_served == 0


def test_stop_does_not_wait_for_a_slow_page() -> None:
    # Given a page request that would take 10 s, when the servers stop, then stop is quick.
    servers = DemoServers().start()
    answered = threading.Event()
    results: list[int] = []

    def fetch() -> None:
        results.append(_get(servers, "/page/1?latency_ms=10000")[0])
        answered.set()

    threading.Thread(target=fetch, daemon=True).start()
    httpd = servers._http
    assert httpd is not None
    with httpd.lock:
        assert httpd.lock.wait_for(lambda: httpd.waiting == 1, timeout=5)
    started = time.monotonic()
    servers.stop()
    assert time.monotonic() - started < 3
    assert answered.wait(5)
    assert results == [503]
    assert servers.pages_served == 0


def test_handlers_find_the_servers_started_last(servers: DemoServers) -> None:
    # Given one started server pair, then the endpoints are theirs.
    assert demo_servers.current() is servers
    assert demo_servers.smtp_endpoint() == servers.smtp
    assert demo_servers.http_endpoint() == servers.http
    # When a second pair starts, it is current until it stops.
    with DemoServers() as second:
        assert demo_servers.current() is second
        assert demo_servers.http_endpoint().port == second.http_port
    assert demo_servers.current() is servers


def test_without_servers_the_environment_names_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert demo_servers.current() is None
    monkeypatch.setenv(ENV_SMTP, "127.0.0.1:2525")
    monkeypatch.setenv(ENV_HTTP, "localhost:8080")
    assert demo_servers.smtp_endpoint() == Endpoint("127.0.0.1", 2525)
    assert str(demo_servers.http_endpoint()) == "localhost:8080"


def test_without_servers_or_environment_the_error_says_what_to_do() -> None:
    with pytest.raises(DemoServersError) as caught:
        demo_servers.smtp_endpoint()
    assert ENV_SMTP in str(caught.value)
    assert "DemoServers" in str(caught.value)


@pytest.mark.parametrize(
    "value", ["10.0.0.1:25", "example.com:25", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:http"]
)
def test_environment_must_name_a_loopback_host_and_port(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(ENV_HTTP, value)
    with pytest.raises(ConfigError, match=ENV_HTTP):
        demo_servers.http_endpoint()


def test_ports_are_known_only_once_started() -> None:
    servers = DemoServers()
    assert servers.describe() == "demo servers not started"
    with pytest.raises(DemoServersError):
        _ = servers.smtp_port
    assert servers.messages == []
    assert servers.pages_served == 0
    servers.stop()  # stopping what never started is harmless
