"""A request's headers, read once: the first value of each header a stage needs, in one pass.

Starlette's ``Headers`` scans the raw list on every lookup and raises (and catches) ``KeyError`` for
each header that is absent, which is most of those the outer stages ask for (traceparent,
X-Forwarded-For, Origin...). Stages that read several headers of every request take them here
instead; the values are what ``Headers.get`` returns (the first occurrence, decoded as latin-1), and
the raw names are the lower-case ones ASGI servers send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def wanted(*names: str) -> dict[bytes, str]:
    """The lookup table ``first_values`` takes: raw (lower-case) name -> the key it is returned under."""
    return {name.lower().encode("latin-1"): name.lower() for name in names}


def first_values(raw: Iterable[tuple[bytes, bytes]], names: Mapping[bytes, str]) -> dict[str, str]:
    """The first value of each header named in ``names`` that the request carries."""
    found: dict[str, str] = {}
    for key, value in raw:
        name = names.get(key)
        if name is not None and name not in found:
            found[name] = value.decode("latin-1")
    return found
