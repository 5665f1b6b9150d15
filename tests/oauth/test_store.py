"""Single use, expiry and family revocation on the Firestore emulator."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from mcp_auth.oauth.store import InvalidKey, OAuthStore
from tests._fixtures.firestore import TEST_PROJECT


@pytest.fixture
async def store(firestore_emulator) -> OAuthStore:
    store = OAuthStore.for_settings(project=TEST_PROJECT, database="(default)")
    await store.client.collection("oauth_rate").document("warm-up").get(timeout=60)  # a cold emulator is slow
    return store


async def test_stored_documents_hold_hashes_not_the_secrets(store):
    token = secrets.token_urlsafe(32)
    await store.save_refresh_token(token, {"uid": "u@example.com", "family": "f"}, 60)
    async for doc in store.client.collection("oauth_refresh_tokens").stream():
        assert token not in doc.id and token not in str(doc.to_dict())


async def test_an_expired_request_is_gone_even_before_the_ttl_policy_deletes_it(store):
    state = secrets.token_urlsafe(32)
    await store.save_request(state, {"client_id": "c"}, -1)
    assert await store.take_request(state) is None


async def test_a_revoked_family_stays_revoked(store):
    family = await store.new_family("u@example.com", "c", 60)
    assert await store.family_active(family)
    await store.revoke_family(family)
    assert not await store.family_active(family)


async def test_a_code_redeemed_concurrently_is_accepted_exactly_once(store):
    code = secrets.token_urlsafe(32)
    await store.save_code(code, {"uid": "u@example.com", "family": "f"}, 60)
    results = await asyncio.gather(*(store.redeem_code(code) for _ in range(5)))
    assert sorted(replayed for _, replayed in results) == [False, True, True, True, True]


@pytest.mark.parametrize("key", ["a/b", "x/y/z", "__reserved__", ".", "..", "", "é" * 751, "\ud800"])
async def test_a_key_firestore_refuses_as_a_document_id_names_no_document(store, key):
    assert await store.load_client(key) is None
    with pytest.raises(InvalidKey):
        await store.save_client(key, {"redirect_uris": []}, 60)


async def test_a_family_keeps_its_sealed_upstream_credential_until_it_is_revoked(store):
    uid = f"keep-{secrets.token_hex(4)}"
    family = await store.new_family(uid, "c", 60, upstream="v1.kid.nonce.sealed")
    assert (await store.load_family(family) or {})["upstream"] == "v1.kid.nonce.sealed"
    await store.set_family_upstream(family, "v1.kid.nonce.rotated")
    assert (await store.load_family(family) or {})["upstream"] == "v1.kid.nonce.rotated"
    other = await store.new_family(uid, "c", 60, upstream="v1.kid.nonce.other")
    await store.revoke_family(family)
    assert await store.revoke_user_families(uid) == 1
    for revoked in (family, other):
        data = await store.load_family(revoked)
        assert data is not None and data["revoked"] and "upstream" not in data


async def test_a_rearmed_refresh_token_can_be_used_once_more_and_a_missing_one_is_no_error(store):
    token = secrets.token_urlsafe(32)
    await store.save_refresh_token(token, {"uid": "u@example.com", "family": "f"}, 60)
    assert (await store.use_refresh_token(token))[1] is False
    assert (await store.use_refresh_token(token))[1] is True
    await store.rearm_refresh_token(token)
    assert (await store.use_refresh_token(token))[1] is False
    await store.rearm_refresh_token(secrets.token_urlsafe(32))  # expired and deleted meanwhile: nothing to do
