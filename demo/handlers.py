"""Demo handlers (placeholder bodies; the real demo workloads replace them)."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from core import handler


@handler("email.send", category="email", max_attempts=5, timeout=30)
def send_email(payload: dict[str, Any]) -> None:
    return None


@handler("web.fetch", category="web", timeout=30)
def fetch_page(payload: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "url": payload.get("url")}


@handler("heavy.hash", category="heavy", timeout=120)
def heavy_hash(payload: dict[str, Any]) -> str:
    cost = int(payload.get("cost", 20_000))
    return hashlib.pbkdf2_hmac("sha256", b"jobsched", b"salt", cost).hex()


@handler("flaky.op", category="flaky")
def flaky(payload: dict[str, Any]) -> str:
    if random.random() < float(payload.get("fail_rate", 0.3)):
        raise RuntimeError("flaky.op failed on purpose")
    return "ok"
