"""Connect links: signed for one user, provider and call; expiring; single use; bounded parsing."""

from __future__ import annotations

import os
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_auth.connections.links import MAX_LINK_CHARS, ConnectLinks, LinkRefused
from mcp_auth.store.firestore import firestore_client
from tests._fixtures.firestore import TEST_PROJECT


class Keys:
    def __init__(self) -> None:
        self.versions = [os.urandom(32)]

    async def __call__(self) -> list[bytes]:
        return self.versions[:2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def links(firestore_emulator, keys, clock) -> ConnectLinks:
    return ConnectLinks(keys=keys, db=lambda: firestore_client(project=TEST_PROJECT), clock=clock)


async def _link(links: ConnectLinks, uid: str = "alice", provider: str = "github") -> str:
    url = await links.mint(base_url="https://mcp.example", uid=uid, provider=provider, call_id="call-1")
    parts = urlsplit(url)
    assert parts.path == f"/connect/{provider}"
    return parse_qs(parts.query)["link"][0]


async def test_a_link_names_its_user_and_call_and_works_once(links):
    uid = f"u-{uuid.uuid4().hex[:10]}"
    claims = await links.verify(await _link(links, uid), provider="github")
    assert (claims.uid, claims.provider, claims.call_id) == (uid, "github", "call-1")
    await links.consume(claims)
    with pytest.raises(LinkRefused, match="already used"):
        await links.consume(claims)


async def test_expired_altered_other_provider_and_retired_key_links_are_refused(links, keys, clock):
    link = await _link(links)
    payload, signature = link.split(".")
    with pytest.raises(LinkRefused, match="another provider"):
        await links.verify(link, provider="acme")
    other = await _link(links, uid="mallory")
    with pytest.raises(LinkRefused) as forged:  # mallory's payload under alice's signature
        await links.verify(f"{other.split('.')[0]}.{signature}", provider="github")
    assert forged.value.error == "invalid_link"
    keys.versions.insert(0, os.urandom(32))
    assert (await links.verify(link, provider="github")).uid == "alice"  # the previous version still verifies
    keys.versions.insert(0, os.urandom(32))
    with pytest.raises(LinkRefused, match="retired key"):
        await links.verify(link, provider="github")
    keys.versions = keys.versions[-1:]
    clock.now += 601
    with pytest.raises(LinkRefused, match="expired"):
        await links.verify(link, provider="github")


@pytest.mark.parametrize(
    "link",
    [None, "", "a", "a.b.c", "." * 5, "x" * (MAX_LINK_CHARS + 1), "é.é", "YQ.YQ", "%%.%%", "a" * 900 + "." + "b" * 100],
)
async def test_malformed_links_are_clear_client_errors(links, link):
    with pytest.raises(LinkRefused) as refused:
        await links.verify(link, provider="github")
    assert refused.value.status == 400


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=2 * MAX_LINK_CHARS) | st.binary(max_size=1500).map(lambda b: b.decode("latin-1")))
async def test_any_value_is_refused_with_a_400_never_an_exception_of_another_kind(links, value):
    with pytest.raises(LinkRefused):
        await links.verify(value, provider="github")
