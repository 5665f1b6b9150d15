"""Group grants as configured: which toolsets and scopes each upstream group (or app role) grants.

    {"group": {"toolsets": [...], "scopes": [...]}}

Read from ``MCP_AUTH_OAUTH_GROUP_GRANTS`` (Terraform's ``oauth.group_grants``) and from the
``meta/group_grants`` document that ``mcp-auth groups`` edits; applied by ``oauth/groups.py``.
Every value is checked here: a malformed, hostile or oversized mapping is refused with what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp_auth.errors import ConfigError, UserError

MAX_MAPPED_GROUPS = 500
MAX_VALUES = 100
_GROUP = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:\-/]{1,100}$")


class InvalidMapping(UserError):
    """A group mapping (setting, CLI argument or stored document) is malformed; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Grant:
    toolsets: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()


def validate_group(name: Any) -> str:
    if not isinstance(name, str) or not _GROUP.fullmatch(name):
        raise InvalidMapping("A group name is 1-256 characters without control characters.")
    return name


def values_of(kind: str, values: Any, where: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if not isinstance(values, list | tuple) or len(values) > MAX_VALUES:
        raise InvalidMapping(f"{where}: {kind} must be a list of at most {MAX_VALUES} names.")
    bad = [v for v in values if not isinstance(v, str) or not _NAME.fullmatch(v)]
    if bad:
        shown = bad[0][:40] if isinstance(bad[0], str) else type(bad[0]).__name__
        raise InvalidMapping(f"{where}: {kind} are 1-100 letters, digits and _ . : - /, got {shown!r}.")
    return frozenset(values)


def parse_mapping(value: Any, where: str) -> dict[str, Grant]:
    """``{"group": {"toolsets": [...], "scopes": [...]}}`` checked (``InvalidMapping`` saying what is wrong)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMapping(f'{where} must be a JSON object: {{"group": {{"toolsets": [...], "scopes": [...]}}}}.')
    if len(value) > MAX_MAPPED_GROUPS:
        raise InvalidMapping(f"{where} maps {len(value)} groups; at most {MAX_MAPPED_GROUPS}.")
    mapping: dict[str, Grant] = {}
    for group, grant in value.items():
        validate_group(group)
        if not isinstance(grant, Mapping) or set(grant) - {"toolsets", "scopes"}:
            raise InvalidMapping(f"{where}: group {group[:60]!r} maps to an object with toolsets and scopes only.")
        mapping[group] = Grant(
            toolsets=values_of("toolsets", grant.get("toolsets"), where),
            scopes=values_of("scopes", grant.get("scopes"), where),
        )
    return mapping


def configured_mapping(value: Any) -> dict[str, Grant]:
    """The mapping of ``MCP_AUTH_OAUTH_GROUP_GRANTS`` (``ConfigError`` naming the setting)."""
    try:
        return parse_mapping(value, "MCP_AUTH_OAUTH_GROUP_GRANTS")
    except InvalidMapping as exc:
        raise ConfigError(exc.message) from None
