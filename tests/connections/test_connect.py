"""ConnectingResolver with stand-ins for the vault, the links and the platform: the order it asks them in,
what it does when neither has a credential, and what ``forget`` passes on. The whole flow with real parts
is tests/e2e/test_connected_accounts.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mcp_auth.connections.connect import ConnectingResolver
from mcp_auth.credentials.model import Credential, CredentialNotConnected

GITHUB = Credential(user_id="u-1", provider="github", access_token="gho_vault")


class Vault:
    def __init__(self, found: Credential | None = None) -> None:
        self.providers = {"github": SimpleNamespace(provider=SimpleNamespace(label="GitHub"))}
        self.found = found
        self.asked: list[tuple[str, str]] = []
        self.forgotten: list[tuple[str, str, str | None]] = []

    async def credential(self, uid: str, provider: str) -> Credential | None:
        self.asked.append((uid, provider))
        return self.found

    def forget(self, uid: str, provider: str, access_token: str | None = None) -> None:
        self.forgotten.append((uid, provider, access_token))


class Links:
    def __init__(self) -> None:
        self.minted: list[dict[str, str]] = []

    async def mint(self, **claims: str) -> str:
        self.minted.append(claims)
        return f"{claims['base_url']}/connect/{claims['provider']}?link=signed"


class Platform:
    def __init__(self, found: Credential | None = None) -> None:
        self.found = found
        self.asked: list[str] = []
        self.forgotten: list[tuple[str, str]] = []

    async def resolve(self, user_id: str, provider: str, **_: Any) -> Credential:
        self.asked.append(provider)
        if self.found is None:
            raise CredentialNotConnected(provider, connect_url="https://platform.example/connect")
        return self.found

    def forget(self, user_id: str, provider: str, access_token: str | None = None) -> None:
        self.forgotten.append((user_id, provider))


def resolver(vault: Vault, platform: Platform | None = None, links: Links | None = None) -> ConnectingResolver:
    return ConnectingResolver(
        vault=vault,  # type: ignore[arg-type]
        links=links or Links(),  # type: ignore[arg-type]
        base_url="https://mcp.example",
        platform=platform,
        wait=0,
    )


async def test_the_vault_answers_before_the_platform_is_asked():
    platform = Platform(found=Credential(user_id="u-1", provider="github", access_token="gho_platform"))
    assert await resolver(Vault(found=GITHUB), platform).resolve("u-1", "github") is GITHUB
    assert platform.asked == []


async def test_the_platform_answers_when_the_vault_has_nothing():
    from_platform = Credential(user_id="u-1", provider="github", access_token="gho_platform")
    vault = Vault()
    assert await resolver(vault, Platform(found=from_platform)).resolve("u-1", "github") is from_platform
    assert vault.asked == [("u-1", "github")]


async def test_neither_outside_a_tool_call_is_a_tool_error_with_a_link_for_this_user_and_provider():
    links = Links()
    with pytest.raises(CredentialNotConnected) as raised:
        await resolver(Vault(), Platform(), links).resolve("u-1", "github")
    assert raised.value.connect_url == "https://mcp.example/connect/github?link=signed"
    assert "Your GitHub account is not connected: connect GitHub at https://mcp.example/connect/github" in str(
        raised.value.message
    )
    (claims,) = links.minted
    assert claims["uid"] == "u-1" and claims["provider"] == "github" and claims["call_id"]


async def test_a_provider_only_the_platform_knows_is_the_platforms_answer_unchanged():
    vault, links = Vault(), Links()
    with pytest.raises(CredentialNotConnected) as raised:
        await resolver(vault, Platform(), links).resolve("u-1", "slack")
    assert raised.value.connect_url == "https://platform.example/connect"
    assert vault.asked == [] and links.minted == []


async def test_forget_hands_the_rejected_token_to_the_vault_and_drops_the_platforms_copy():
    vault, platform = Vault(), Platform()
    resolver(vault, platform).forget("u-1", "github", "gho_rejected")
    assert vault.forgotten == [("u-1", "github", "gho_rejected")]
    assert platform.forgotten == [("u-1", "github")]
