"""Recognising a PostgreSQL URL and hiding its password, without importing the driver
(psycopg is an optional dependency: ``pip install 'jobsched[postgres]'``)."""

from __future__ import annotations

import re

SCHEMES = ("postgresql", "postgres")


def is_postgres_url(url: str) -> bool:
    return url.split(":", 1)[0].lower() in SCHEMES and "://" in url


def redact(url: str) -> str:
    """``url`` with its password (in the user part or the query) replaced by ``***``."""
    url = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*:(?://)?[^/:@?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)
