"""Text from tasks and stores, made safe for a terminal: the one place that escapes it.

A task's error, result or payload, and any name read from a store another program may
have written, can hold terminal control sequences (``ESC[2J`` clears the screen, OSC 52
writes the clipboard) or bidirectional overrides that make text read differently from
what it is. Everything the CLI and the console print from a task or a store goes through
:func:`visible`, which shows those characters as escapes (``\\x1b``, ``\\u202e``) instead
of sending them. ``--json`` output goes through :func:`json_text`, whose escapes are
JSON's own, so the output stays valid JSON.
"""

from __future__ import annotations

import json
from typing import Any

#: Characters a terminal acts on or that reorder text: C0 controls (tab and newline are
#: kept where layout needs them), DEL, C1 controls, line and paragraph separators, and
#: the bidirectional embeddings, overrides and isolates.
_UNSAFE = (
    list(range(0x00, 0x20))
    + list(range(0x7F, 0xA0))
    + [0x2028, 0x2029]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ONE_LINE = {code: _escape(code) for code in _UNSAFE}
_MULTI_LINE = {code: text for code, text in _ONE_LINE.items() if code not in (0x09, 0x0A)}
#: JSON text holds C0 controls already escaped by the encoder; these are the rest.
_JSON = {code: f"\\u{code:04x}" for code in _UNSAFE if code >= 0x7F}


def visible(text: object, *, multiline: bool = False) -> str:
    """``text`` (``str()`` of it) with every control character shown as an escape.

    With ``multiline`` newlines and tabs are kept (tracebacks, pretty JSON); otherwise
    they are escaped too, so one value stays on one line.
    """
    return str(text).translate(_MULTI_LINE if multiline else _ONE_LINE)


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as JSON that is safe on a terminal and still valid JSON.

    ``json.dumps`` escapes C0 controls itself; with ``ensure_ascii=False`` it leaves DEL,
    C1 controls and bidirectional overrides as they are, so they get ``\\uXXXX`` escapes
    here. Those characters can only appear inside JSON strings, so the text parses to the
    same value.
    """
    return json.dumps(data, ensure_ascii=False, indent=indent, default=str).translate(_JSON)


def shorten(text: str, limit: int, how_to_see_all: str) -> str:
    """``text`` cut to ``limit`` characters, with a note saying how much was left out and
    how to see all of it; unchanged when it fits."""
    if len(text) <= limit:
        return text
    left = len(text) - limit
    return f"{text[:limit]}\n... ({left:,} more characters not shown; {how_to_see_all})"
