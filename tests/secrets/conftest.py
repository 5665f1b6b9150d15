"""Fixtures for the secret store tests: a store factory on the test's clock (``clock``, tests/_fixtures/clock.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mcp_auth.secrets import SecretStore
from tests._fixtures.clock import ManualClock


@pytest.fixture
def make_store(clock: ManualClock) -> Iterator[Callable[..., SecretStore]]:
    """Builds stores on the test's clock and closes them after the test.

    Defaults: refresh every 300 s, usable for 900 s, one fetch bounded by 0.5 s.
    """
    stores: list[SecretStore] = []

    def make(**settings: Any) -> SecretStore:
        settings.setdefault("clock", clock)
        settings.setdefault("deadline", 0.5)
        store = SecretStore(**settings)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
