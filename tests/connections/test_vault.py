"""The token vault on the Firestore emulator against the loopback GitHub stand-in: sealed at rest,
refreshed before expiry once per (user, provider), revoked on disconnect, rotated keys."""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mcp_auth.connections.oauth2 import ProviderClient, Tokens
from mcp_auth.connections.providers import connection_providers
from mcp_auth.connections.sealing import Sealer, Unsealable
from mcp_auth.connections.vault import TokenVault
from mcp_auth.errors import ConfigError
from mcp_auth.store.firestore import firestore_client
from tests._fixtures.firestore import TEST_PROJECT


class Keys:
    def __init__(self) -> None:
        self.versions = [os.urandom(32)]

    async def __call__(self) -> list[bytes]:
        return self.versions[:2]

    def rotate(self) -> None:
        self.versions.insert(0, os.urandom(32))


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def vault_of(firestore_emulator, fake_github_oauth, keys):
    def make(**kwargs) -> TokenVault:
        (provider,) = connection_providers([fake_github_oauth.provider("unused")])

        async def secret() -> str:
            return fake_github_oauth.client_secret

        return TokenVault(
            providers={"github": ProviderClient(provider, client_secret=secret)},
            sealer=Sealer(keys),
            db=lambda: firestore_client(project=TEST_PROJECT),
            **kwargs,
        )

    return make


async def connect(vault: TokenVault, github, uid: str, login: str = "octocat") -> Tokens:
    """What the callback does: consent at the stand-in, exchange the code, store the tokens."""
    github.browser_login = login
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{github.url}/login/oauth/authorize",
            params={"client_id": github.client_id, "redirect_uri": "http://127.0.0.1/cb", "state": "s"},
        )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = await vault.providers["github"].exchange(code, redirect_uri="http://127.0.0.1/cb", verifier=None)
    await vault.store(uid, "github", tokens)
    return tokens


def uid() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


async def raw_document(user: str) -> dict:
    snap = await firestore_client(project=TEST_PROJECT).document(f"users/{user}/connections/github").get()
    return snap.to_dict() or {}


async def test_stored_tokens_are_ciphertext_in_firestore_and_open_to_the_same_user(vault_of, fake_github_oauth):
    vault, user = vault_of(), uid()
    tokens = await connect(vault, fake_github_oauth, user)
    stored = await raw_document(user)
    text = repr(stored)
    assert tokens.access_token not in text and tokens.refresh_token not in text  # type: ignore[operator]
    assert stored["sealed"].startswith(f"v1.{stored['key_id']}.")
    credential = await vault.credential(user, "github")
    assert credential is not None and credential.access_token == tokens.access_token
    assert await vault.credential(uid(), "github") is None


async def test_a_sealed_token_copied_to_another_user_does_not_open(vault_of, fake_github_oauth):
    vault, alice, mallory = vault_of(), uid(), uid()
    await connect(vault, fake_github_oauth, alice)
    await connect(vault, fake_github_oauth, mallory, login="mallory")
    stolen = await raw_document(alice)
    await firestore_client(project=TEST_PROJECT).document(f"users/{mallory}/connections/github").set(stolen)
    with pytest.raises(Exception, match="cannot be read"):
        await vault.credential(mallory, "github")


async def test_a_token_near_expiry_is_refreshed_once_for_concurrent_callers(vault_of, fake_github_oauth):
    fake_github_oauth.token_ttl = 30  # inside the refresh margin at once
    vault, user = vault_of(refresh_margin=60), uid()
    first = await connect(vault, fake_github_oauth, user)
    fake_github_oauth.token_ttl = 3600
    found = await asyncio.gather(*(vault.credential(user, "github") for _ in range(8)))
    assert fake_github_oauth.refreshes == 1
    assert {c.access_token for c in found if c} != {first.access_token}
    assert len({c.access_token for c in found if c}) == 1


async def test_two_instances_share_one_refresh_through_the_lease(vault_of, fake_github_oauth):
    fake_github_oauth.token_ttl = 30
    one, two, user = vault_of(refresh_margin=60), vault_of(refresh_margin=60), uid()
    await connect(one, fake_github_oauth, user)
    fake_github_oauth.token_ttl = 3600
    a, b = await asyncio.gather(one.credential(user, "github"), two.credential(user, "github"))
    assert fake_github_oauth.refreshes == 1  # the stand-in rotates refresh tokens: a second use would fail
    assert a is not None and b is not None and a.access_token == b.access_token


async def test_a_refused_refresh_removes_the_connection(vault_of, fake_github_oauth):
    fake_github_oauth.token_ttl = 30
    vault, user = vault_of(refresh_margin=60), uid()
    await connect(vault, fake_github_oauth, user)
    fake_github_oauth.revoke_all("octocat")
    assert await vault.credential(user, "github") is None
    assert await raw_document(user) == {}


async def test_a_token_the_api_refused_is_refreshed_on_next_use(vault_of, fake_github_oauth):
    vault, user = vault_of(), uid()
    first = await connect(vault, fake_github_oauth, user)
    vault.forget(user, "github", first.access_token)
    again = await vault.credential(user, "github")
    assert again is not None and again.access_token != first.access_token and fake_github_oauth.refreshes == 1


async def test_settling_a_rejected_token_shows_every_instance_the_new_token_or_no_connection(
    vault_of, fake_github_oauth
):
    seen_it, other, user = vault_of(), vault_of(), uid()
    first = await connect(seen_it, fake_github_oauth, user)
    seen_it.forget(user, "github", first.access_token)  # only the access token was refused: refreshed now
    await seen_it.settle(user, "github")
    renewed = await other.credential(user, "github")  # another instance, which was told nothing
    assert renewed is not None and renewed.access_token != first.access_token and fake_github_oauth.refreshes == 1

    fake_github_oauth.revoke_all("octocat")  # the whole grant revoked at the provider: removed now
    seen_it.forget(user, "github", renewed.access_token)
    await seen_it.settle(user, "github")
    assert await raw_document(user) == {} and await other.credential(user, "github") is None
    await seen_it.settle(user, "github")  # nothing left to settle: no error


async def test_disconnect_revokes_the_grant_at_github_and_deletes(vault_of, fake_github_oauth):
    vault, user = vault_of(), uid()
    tokens = await connect(vault, fake_github_oauth, user)
    assert await vault.disconnect(user, "github") is True
    assert fake_github_oauth.revoked == ["octocat"] and tokens.access_token not in fake_github_oauth.logins
    assert await vault.credential(user, "github") is None
    assert await vault.disconnect(user, "github") is False


async def test_rotation_opens_old_tokens_and_seals_new_ones_with_the_newest_key(vault_of, fake_github_oauth, keys):
    vault, user = vault_of(), uid()
    tokens = await connect(vault, fake_github_oauth, user)
    old_kid = (await raw_document(user))["key_id"]
    keys.rotate()
    assert (await vault.credential(user, "github")).access_token == tokens.access_token  # type: ignore[union-attr]
    await connect(vault, fake_github_oauth, user)
    assert (await raw_document(user))["key_id"] != old_kid
    (connection,) = await vault.connections(user)
    assert connection.provider == "github" and connection.has_refresh and connection.key_id != old_kid


async def test_a_retired_key_or_altered_ciphertext_does_not_open(keys):
    sealer = Sealer(keys)
    sealed = await sealer.seal(b"token", context="users/a/connections/github")
    with pytest.raises(Unsealable):
        await sealer.open(
            sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1], context="users/a/connections/github"
        )
    keys.rotate()
    keys.rotate()  # the key it was sealed with is now the third: retired
    with pytest.raises(Unsealable, match="not among"):
        await sealer.open(sealed, context="users/a/connections/github")
    for bad in ("", "v2.a.b.c", "v1." + "x" * 70_000):
        with pytest.raises(Unsealable):
            await sealer.open(bad, context="c")


async def test_a_key_that_is_not_32_bytes_is_a_configuration_error():
    async def short() -> list[bytes]:
        return [b"too short"]

    with pytest.raises(ConfigError, match="32 bytes"):
        await Sealer(short, secret_name="vault-key").seal(b"x", context="c")
