"""The framework's version: the one place it is written (lib/pyproject.toml reads it when building)."""

__version__ = "0.2.0"
