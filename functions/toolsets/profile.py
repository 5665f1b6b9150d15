"""``profile``: who you are to this server, and your own settings (validated against a schema).

    get_profile       your identity (user id, auth method, scopes, toolsets) and settings
    update_settings   change your settings; pass the ``version`` from get_profile (a stale one
                      is a conflict, never a lost update); ``clear`` removes settings

Settings live in your user record (``users/{uid}.settings``), reached through
``user_store()``; the schema below is the only shape that can be written.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mcp_auth import Toolset, current_user, tool, user_store

SettingName = Literal["display_name", "timezone", "language", "notes_page_size"]


class ProfileSettings(BaseModel):
    """The settings a user may keep. Unknown names are rejected."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    timezone: Annotated[str, Field(max_length=64, description="An IANA time zone, e.g. Europe/Paris.")] | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", description="e.g. en, fr-CA.")] | None = None
    notes_page_size: Annotated[int, Field(ge=1, le=50)] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris, UTC)") from None
        return value


class Profile(BaseModel):
    user_id: str
    auth_method: str
    scopes: list[str]
    toolsets: list[str]
    settings: ProfileSettings
    version: str = Field(description="Pass it to update_settings.")


def _settings(stored: dict[str, Any]) -> ProfileSettings:
    """Stored settings, keeping only what the schema knows and still accepts."""
    known = {k: v for k, v in stored.items() if k in ProfileSettings.model_fields}
    try:
        return ProfileSettings.model_validate(known)
    except ValidationError:
        return ProfileSettings.model_validate({k: v for k, v in known.items() if _valid(k, v)})


def _valid(key: str, value: Any) -> bool:
    try:
        ProfileSettings.model_validate({key: value})
    except ValidationError:
        return False
    return True


def _profile(settings: dict[str, Any], version: str) -> Profile:
    user = current_user()
    return Profile(
        user_id=user.user_id,
        auth_method=user.auth_method,
        scopes=sorted(user.scopes),
        toolsets=sorted(user.record.toolsets),
        settings=_settings(settings),
        version=version,
    )


async def get_profile() -> Profile:
    """Who the server thinks you are, and your settings."""
    settings, version = await user_store().settings()
    return _profile(settings, version)


async def update_settings(
    version: Annotated[str, Field(min_length=1, max_length=64, description="The version from get_profile.")],
    settings: ProfileSettings | None = None,
    clear: Annotated[list[SettingName], Field(max_length=4, description="Settings to remove.")] | None = None,
) -> Profile:
    """Set the given settings and remove those named in ``clear``."""
    changes: dict[str, Any] = settings.model_dump(exclude_none=True) if settings else {}
    for name in clear or ():
        if name in changes:
            raise ToolError(f"{name!r} is both set and cleared: choose one.")
        changes[name] = None
    if not changes:
        stored, current = await user_store().settings()
        return _profile(stored, current)
    stored, newer = await user_store().update_settings(changes, version=version)
    return _profile(stored, newer)


TOOLSET = Toolset(
    "profile",
    description="Who you are to this server, and your own settings.",
    tools=[
        tool(get_profile, strict=True, structured_output=True),
        tool(update_settings, scopes=["profile:write"], strict=True, structured_output=True),
    ],
)
