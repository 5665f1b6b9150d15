"""Redirect-URI rules, registration validation, and the metadata-document cache (loopback server)."""

from __future__ import annotations

import httpx
import pytest

from mcp_auth.oauth.clients import (
    ClientError,
    MetadataDocuments,
    check_redirect_uri,
    is_metadata_url,
    is_registered_id,
    register,
)
from tests.oauth.documents import serve_documents


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/callback",
        "http://127.0.0.1:3030/cb",
        "http://localhost/cb",
        "http://[::1]:8080/cb",
        "com.example.app:/oauth2redirect",
    ],
)
def test_safe_redirect_uris_are_accepted(uri):
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://evil.example/cb",
        "javascript:alert(1)",
        "data:text/html,x",
        "https://app.example/cb#frag",
        "//evil.example/cb",
        "file:///etc/passwd",
        42,
        "https://" + "a" * 2001,
        "https://app.example:99999/cb",
        "https://app.example:0/cb",
        "https://app.example:x/cb",
        "https://[::1/cb",
    ],
)
def test_unsafe_redirect_uris_are_refused(uri):
    with pytest.raises(ClientError) as caught:
        check_redirect_uri(uri)
    assert caught.value.error == "invalid_redirect_uri"


def test_registration_always_yields_a_public_client_with_a_fresh_id():
    first, stored = register(
        {"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "client_secret_basic"}
    )
    second, _ = register({"redirect_uris": ["http://127.0.0.1/cb"]})
    assert stored["token_endpoint_auth_method"] == "none" and "client_secret" not in stored
    assert first.client_id != second.client_id


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        {"redirect_uris": []},
        {"redirect_uris": ["https://a.example/cb"] * 11},
        {"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]},
        {"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]},
    ],
)
def test_bad_registrations_are_refused(metadata):
    with pytest.raises(ClientError):
        register(metadata)


def test_only_https_urls_with_a_path_are_metadata_document_ids():
    assert is_metadata_url("https://app.example/client.json")
    assert not is_metadata_url("https://app.example/")
    assert not is_metadata_url("http://app.example/client.json")
    assert not is_metadata_url("mcp-abc")


def test_only_ids_shaped_like_registered_ones_are_looked_up():
    client, _ = register({"redirect_uris": ["https://a.example/cb"]})
    assert is_registered_id(client.client_id)
    for other in ("mcp-short", "a/b", "mcp-" + "a" * 23 + "/", "__x__", "https://a.example/c.json"):
        assert not is_registered_id(other)


def test_a_malformed_url_is_not_a_metadata_document_id():
    assert not is_metadata_url("https://[::1/client.json")


async def test_cached_documents_are_fetched_again_only_after_their_time(clock):
    cache = MetadataDocuments(ttl=60, max_entries=2, timer=clock)
    with serve_documents() as docs:
        client_id = docs.client_id("/c.json")
        docs.publish("/c.json", {"client_id": client_id, "redirect_uris": ["https://a.example/cb"]})
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                await cache.client(client_id, http=http, allow_loopback=True)
            assert docs.hits["/c.json"] == 1
            clock.advance(61)
            docs.publish("/c.json", {"client_id": client_id, "redirect_uris": ["https://b.example/cb"]})
            refreshed = await cache.client(client_id, http=http, allow_loopback=True)
    assert docs.hits["/c.json"] == 2 and refreshed.redirect_uris == ("https://b.example/cb",)


async def test_the_document_cache_holds_at_most_its_size():
    cache = MetadataDocuments(ttl=60, max_entries=2)
    with serve_documents() as docs:
        ids = [
            docs.publish(
                f"/{n}.json", {"client_id": docs.client_id(f"/{n}.json"), "redirect_uris": ["https://a.example/cb"]}
            )
            for n in range(3)
        ]
        async with httpx.AsyncClient() as http:
            for client_id in [*ids, ids[0]]:
                await cache.client(client_id, http=http, allow_loopback=True)
    assert docs.hits["/0.json"] == 2  # pushed out by the third document
