"""Benchmarks of the full stack against the bare MCP SDK; run with ``make bench`` or ``python -m bench``."""
