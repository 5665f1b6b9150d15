"""Test configuration. Fixtures that start services live in tests/_fixtures/,
one module per service; every module there is loaded as a pytest plugin."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = sorted(
    f"tests._fixtures.{p.stem}" for p in (Path(__file__).parent / "_fixtures").glob("*.py") if p.stem != "__init__"
)
