"""Groups grant access: a mapping from upstream groups (or app roles) to toolsets and scopes.

Two sources, merged (a group's grants are the union of both):

    MCP_AUTH_OAUTH_GROUP_GRANTS   JSON {"group": {"toolsets": [...], "scopes": [...]}}, from Terraform
                                  (``oauth.group_grants``): changed by a deployment
    meta/group_grants           {"groups": {"group": {"toolsets": [...], "scopes": [...]}}}, edited with
                                  ``mcp-auth groups map|unmap|list``: changed at once

At each sign-in the account's groups (as its preset reads them, ``presets.py``) are stored on the user
record with what the mapping grants them::

    users/{uid}.group_grants   {"groups": [...], "toolsets": [...], "scopes": [...],
                                "sources": {"toolsets": {name: [group, ...]}, "scopes": {...}}}

Each refresh of a token asks the provider for the account's groups again (``recheck.py``) and applies them
against the mapping as it is then, so a person removed from a group upstream, or a group unmapped (or a
toolset taken from it), is gone from its members by their next refresh at the latest; ``mcp-auth users
sign-out U`` ends it at once. Where there is no provider to ask (the local development sign-in), a refresh
re-evaluates the stored groups (``reapply``).

What the groups grant is added to what the record grants by hand (``toolsets``, ``scopes``), minus what the
record withholds (``withheld_toolsets``, ``withheld_scopes``): the per-user settings win both ways. Every
write goes through ``UserRepository.update``, which announces it to every instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_auth.grants import MAX_MAPPED_GROUPS, Grant, InvalidMapping, parse_mapping, validate_group, values_of
from mcp_auth.store.group_mapping import GroupMappingDocument

if TYPE_CHECKING:
    from mcp_auth.store.users import UserRecord, UserRepository

FIELD = "group_grants"
TERRAFORM = "deployment"
CLI = "mcp-auth groups"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a set of groups is granted, and by which group (``source`` names the mapping)."""

    groups: tuple[str, ...]
    toolsets: dict[str, list[str]] = field(default_factory=dict)
    scopes: dict[str, list[str]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "groups": list(self.groups),
            "toolsets": sorted(self.toolsets),
            "scopes": sorted(self.scopes),
            "sources": {"toolsets": self.toolsets, "scopes": self.scopes},
        }


class GroupGrants:
    """The merged mapping, its Firestore document (``store/group_mapping.py``), and its application to user
    records."""

    def __init__(
        self,
        *,
        configured: Mapping[str, Grant],
        client: Any,
        users: UserRepository,
    ) -> None:
        self._configured = dict(configured)
        self._document = GroupMappingDocument(client)  # an AsyncClient, or a ClientFactory (made on first use)
        self._users = users

    # -- the Firestore document -------------------------------------------------------------
    async def stored(self) -> dict[str, Grant]:
        return parse_mapping(await self._document.read(), "meta/group_grants")

    async def map(self, group: str, *, toolsets: Iterable[str] = (), scopes: Iterable[str] = ()) -> dict[str, Grant]:
        """Add toolsets and scopes to ``group``'s grants in the document; the document after the change."""
        return await self._edit(group, frozenset(toolsets), frozenset(scopes), remove=False)

    async def unmap(
        self, group: str, *, toolsets: Iterable[str] | None = None, scopes: Iterable[str] | None = None
    ) -> dict[str, Grant]:
        """Take toolsets and scopes from ``group`` (both None: the whole group)."""
        every = toolsets is None and scopes is None
        return await self._edit(group, frozenset(toolsets or ()), frozenset(scopes or ()), remove=True, every=every)

    async def _edit(
        self, group: str, toolsets: frozenset[str], scopes: frozenset[str], *, remove: bool, every: bool = False
    ) -> dict[str, Grant]:
        validate_group(group)
        values_of("toolsets", sorted(toolsets), "the command")
        values_of("scopes", sorted(scopes), "the command")

        def edit(stored: Any) -> tuple[dict[str, Grant], dict[str, Any]]:
            mapping = parse_mapping(stored, "stored")
            current = mapping.get(group, Grant())
            if remove:
                grant = Grant() if every else Grant(current.toolsets - toolsets, current.scopes - scopes)
            else:
                grant = Grant(current.toolsets | toolsets, current.scopes | scopes)
            if grant.toolsets or grant.scopes:
                mapping[group] = grant
            else:
                mapping.pop(group, None)
            if len(mapping) > MAX_MAPPED_GROUPS:
                raise InvalidMapping(f"At most {MAX_MAPPED_GROUPS} groups may be mapped: unmap one first.")
            return mapping, _document(mapping)

        return await self._document.change(edit)

    # -- evaluation and application ----------------------------------------------------------
    async def evaluate(self, groups: Iterable[str]) -> Evaluation:
        """What ``groups`` are granted by the two mappings as they are now."""
        members = tuple(sorted(set(groups)))
        stored = await self.stored()
        toolsets: dict[str, set[str]] = {}
        scopes: dict[str, set[str]] = {}
        for source, mapping in ((TERRAFORM, self._configured), (CLI, stored)):
            for group in members:
                grant = mapping.get(group)
                if grant is None:
                    continue
                for name in grant.toolsets:
                    toolsets.setdefault(name, set()).add(f"{group} ({source})")
                for name in grant.scopes:
                    scopes.setdefault(name, set()).add(f"{group} ({source})")
        return Evaluation(
            groups=members,
            toolsets={k: sorted(v) for k, v in sorted(toolsets.items())},
            scopes={k: sorted(v) for k, v in sorted(scopes.items())},
        )

    async def apply(self, uid: str, groups: Iterable[str]) -> UserRecord | None:
        """Store ``groups`` on the record of ``uid`` with what they are granted now (at sign-in); writes only
        what changed. None if there is no record."""
        record = await self._users.get(uid)
        if record is None:
            return None
        return await self._write(record, await self.evaluate(groups))

    async def reapply(self, uid: str) -> UserRecord | None:
        """Re-evaluate the groups stored at the last sign-in against the mapping as it is now (at a refresh that
        cannot ask the provider)."""
        record = await self._users.get(uid)
        if record is None:
            return None
        return await self._write(record, await self.evaluate(record.groups))

    async def _write(self, record: UserRecord, evaluation: Evaluation) -> UserRecord:
        document = evaluation.document()
        if document == record.group_document():
            return record
        return await self._users.update(record.uid, group_grants=document)


def _document(mapping: Mapping[str, Grant]) -> dict[str, Any]:
    return {
        group: {"toolsets": sorted(grant.toolsets), "scopes": sorted(grant.scopes)}
        for group, grant in sorted(mapping.items())
    }


def show_mapping(mapping: Mapping[str, Grant]) -> dict[str, Any]:
    return _document(mapping)
