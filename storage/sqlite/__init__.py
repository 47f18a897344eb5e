"""The SQLite store: one node per file, with readers and writers in other processes.

``store`` holds :class:`SqliteStore`; ``connection`` sets up every connection; ``schema``
recognises, creates and upgrades files; ``queries`` holds the store's SQL; ``nodelock``
and ``startlog`` are the files beside the database (``<db>.lock``, ``<db>.starts``).
"""

from __future__ import annotations

from .store import SqliteStore

__all__ = ["SqliteStore"]
