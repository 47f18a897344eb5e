"""The demo's handlers: real work against the local servers of :mod:`demo.servers`.

- ``email.send`` (fire-and-forget): sends an email with smtplib to the demo SMTP server;
- ``web.fetch`` (request-response): fetches a page from the demo HTTP server and returns
  ``{status, size, title, url}``;
- ``heavy.hash``: PBKDF2-HMAC-SHA256 with a configurable cost (CPU work);
- ``flaky.op``: fails on purpose, to show retries; its result names the attempt.

The scheduler imports this module because the demo config lists it under ``handlers``.
"""

from __future__ import annotations

import hashlib
import random
import smtplib
import threading
import urllib.error
import urllib.request
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

from jobsched.core import current_task, handler

from .servers import http_endpoint, page_path, smtp_endpoint

SENDER = "jobsched-demo@localhost"
MESSAGE_DOMAIN = "jobsched.demo"
NETWORK_TIMEOUT = 10.0
MAX_PAGE_BYTES = 1 << 20
MAX_COST = 10_000_000
MAX_WORK_MS = 60_000

_never = threading.Event()


class FlakyOperationError(RuntimeError):
    """Raised on purpose by ``flaky.op``."""


def _options(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ValueError(f"the payload must be a JSON object, not {type(payload).__name__}")
    return payload


def _number(options: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(
            f"payload field {key!r} is {value!r}: it must be a number from {low:g} to {high:g}"
        )
    return value


def message_id(task_id: int) -> str:
    """The Message-ID ``email.send`` gives the mail of task ``task_id`` (the same on every
    attempt, so a receiver can drop a duplicate delivery)."""
    return f"<task-{task_id}@{MESSAGE_DOMAIN}>"


@handler("email.send", category="email", max_attempts=5, timeout=30)
def send_email(payload: Any) -> dict[str, Any]:
    """Payload: ``to`` (required), ``subject``, ``body``, ``from``."""
    options = _options(payload)
    to = options.get("to")
    if not isinstance(to, str) or "@" not in to:
        raise ValueError(f"payload field 'to' is {to!r}: it must be an email address")
    task = current_task()
    message = EmailMessage()
    message["From"] = str(options.get("from", SENDER))
    message["To"] = to
    message["Subject"] = str(options.get("subject", f"jobsched demo message {task.id}"))
    message["Message-ID"] = message_id(task.id)
    message["X-Jobsched-Task"] = str(task.id)
    message["X-Jobsched-Attempt"] = str(task.attempt)
    message.set_content(str(options.get("body", "Sent by the jobsched demo.")))
    server = smtp_endpoint()
    with smtplib.SMTP(server.host, server.port, timeout=NETWORK_TIMEOUT) as smtp:
        smtp.send_message(message)
    return {"message_id": message["Message-ID"], "to": to}


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title: str | None = None
        self._in_title = False
        self._parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "title" and self.title is None:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._parts).strip()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._parts.append(data)


def page_title(text: str) -> str | None:
    """The text of the first ``<title>`` of an HTML page, or None."""
    parser = _TitleParser()
    parser.feed(text)
    parser.close()
    return parser.title


@handler("web.fetch", category="web", max_attempts=3, timeout=20)
def fetch_page(payload: Any) -> dict[str, Any]:
    """Payload: ``page`` (a number), ``latency_ms`` (how long the server takes).

    A 4xx answer is a result (retrying would not change it); a 5xx or a network error
    fails the attempt so that it is retried.
    """
    options = _options(payload)
    page = int(_number(options, "page", 1, 0, 1_000_000_000))
    latency = int(_number(options, "latency_ms", 0, 0, 10_000))
    url = f"http://{http_endpoint()}{page_path(page, latency)}"
    try:
        with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT) as response:
            status = response.status
            data = response.read(MAX_PAGE_BYTES)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise
        status, data = exc.code, exc.read(MAX_PAGE_BYTES)
    return {
        "status": status,
        "size": len(data),
        "title": page_title(data.decode("utf-8", "replace")),
        "url": url,
    }


def pbkdf2_digest(data: str, salt: str, cost: int) -> str:
    """PBKDF2-HMAC-SHA256 of ``data`` with ``salt`` and ``cost`` iterations, as hex."""
    return hashlib.pbkdf2_hmac("sha256", data.encode(), salt.encode(), cost).hex()


@handler("heavy.hash", category="heavy", max_attempts=2, timeout=60)
def heavy_hash(payload: Any) -> dict[str, Any]:
    """Payload: ``data``, ``salt``, ``cost`` (iterations; 20,000 take a few milliseconds)."""
    options = _options(payload)
    data = str(options.get("data", "jobsched"))
    salt = str(options.get("salt", "jobsched-demo"))
    cost = int(_number(options, "cost", 20_000, 1, MAX_COST))
    return {"digest": pbkdf2_digest(data, salt, cost), "cost": cost}


@handler("flaky.op", category="flaky", timeout=10)
def flaky(payload: Any) -> dict[str, Any]:
    """Payload: ``fail_rate`` (chance an attempt fails), ``fail_first`` (attempts that
    always fail), ``work_ms`` (time each attempt takes), ``seed`` (repeatable failures).

    Attempts come from the category (``max_attempts`` in the config).
    """
    options = _options(payload)
    fail_rate = _number(options, "fail_rate", 0.3, 0, 1)
    fail_first = int(_number(options, "fail_first", 0, 0, 1000))
    work_ms = _number(options, "work_ms", 0, 0, MAX_WORK_MS)
    task = current_task()
    if work_ms:
        _never.wait(work_ms / 1000)
    seed = options.get("seed")
    rng = random.Random(f"{seed}:{task.id}:{task.attempt}") if seed is not None else random
    if task.attempt <= fail_first:
        raise FlakyOperationError(
            f"attempt {task.attempt} of {task.max_attempts} failed on purpose (fail_first)"
        )
    if fail_rate and rng.random() < fail_rate:
        raise FlakyOperationError(
            f"attempt {task.attempt} of {task.max_attempts} failed on purpose (fail_rate {fail_rate:g})"
        )
    return {"attempt": task.attempt, "max_attempts": task.max_attempts}
