"""The SQLite store: the shared contract, plus what only a durable store promises."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from storage import SqliteStore
from tests.store_contract import StoreContract


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    def store(self, make_store: Callable[..., SqliteStore]) -> Iterator[SqliteStore]:
        store = make_store()
        store.open("node-a")
        yield store
