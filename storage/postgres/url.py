"""Recognising a PostgreSQL URL and hiding its password, without importing the driver
(psycopg is an optional dependency: ``pip install 'jobsched[postgres]'``)."""

from __future__ import annotations

import re

SCHEMES = ("postgresql", "postgres")

_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:/*")
_QUERY_PASSWORD = re.compile(r"([?&]password=).*", re.IGNORECASE | re.DOTALL)
HIDDEN = "***"


def is_postgres_url(url: str) -> bool:
    return url.split(":", 1)[0].lower() in SCHEMES and "://" in url


def credentials_span(url: str) -> tuple[int, int] | None:
    """Where the password may be in the raw text of ``url``, whatever a parser makes of it.

    The rule works on the text alone: after ``scheme:`` and any slashes, the credentials
    run to the last ``@`` that has a ``:`` somewhere before it; the password is what
    follows the first ``:``. A password that holds an unencoded ``/ ? # @ [ ] :`` is thus
    still covered whole, since it always ends at an ``@`` at or before that last one.
    Returns (start, end) of the password, or None when there is none.
    """
    match = _SCHEME.match(url)
    if match is None:
        return None
    start = match.end()
    at = url.rfind("@", start)
    colon = url.find(":", start, at) if at != -1 else -1
    return None if colon == -1 else (colon + 1, at)


def redact(url: str) -> str:
    """``url`` with its password (in the user part or the query) replaced by ``***``.

    It works on the raw text (see :func:`credentials_span`), so it hides the password of
    malformed URLs too: one slash, an unencoded ``@ / ? #`` in the password, a broken
    host. A ``password=`` in the query hides everything after it.
    """
    hidden: list[tuple[int, int]] = []
    span = credentials_span(url)
    if span is not None:
        hidden.append(span)
    query = _QUERY_PASSWORD.search(url)
    if query is not None:
        hidden.append((query.end(1), len(url)))
    # Both spans are found in the raw text, then merged: a password that holds
    # "?password=" or an "@" must not hide one rule's span from the other.
    out: list[str] = []
    at = 0
    for start, end in sorted(hidden):
        if out and start <= at:  # overlaps the span just hidden: widen it
            at = max(at, end)
            continue
        out += [url[at:start], HIDDEN]
        at = end
    return "".join(out) + url[at:]


#: Characters that end or split the user part of a URL: unencoded in a user name or
#: password, they make parsers disagree about where the password ends.
_SPLITTERS = frozenset("@/?#[]")


def ambiguous_credentials(url: str, netloc: str) -> bool:
    """True when the text rule of :func:`credentials_span` and a URL parser (which gave
    ``netloc``) could disagree about the credentials: an unencoded ``@ / ? # [ ]`` in
    them, or a slash count that puts them outside the host part. Such a URL is refused
    before anything quotes a part of it, so no message can show a piece of a password
    as a host, port or database name."""
    span = credentials_span(url)
    if span is None:
        return False
    start = _SCHEME.match(url).end()  # type: ignore[union-attr]
    userinfo = url[start : span[1]]
    return bool(_SPLITTERS & set(userinfo)) or netloc.rpartition("@")[0] != userinfo
