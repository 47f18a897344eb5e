"""The store contract, run against the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jobsched.core.memory_store import MemoryStore

from tests.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        store = MemoryStore()
        store.open("node-a")
        yield store
        store.close()
