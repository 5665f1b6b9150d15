"""Redirect-URI rules and registration validation (no network)."""

from __future__ import annotations

import pytest

from mcp_auth.oauth.clients import ClientError, check_redirect_uri, is_metadata_url, register


@pytest.mark.parametrize("uri", [
    "https://app.example/callback", "http://127.0.0.1:3030/cb", "http://localhost/cb", "http://[::1]:8080/cb",
    "com.example.app:/oauth2redirect",
])
def test_safe_redirect_uris_are_accepted(uri):
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize("uri", [
    "http://evil.example/cb", "javascript:alert(1)", "data:text/html,x", "https://app.example/cb#frag",
    "//evil.example/cb", "file:///etc/passwd", 42, "https://" + "a" * 2001,
])
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


@pytest.mark.parametrize("metadata", [
    [], {"redirect_uris": []}, {"redirect_uris": ["https://a.example/cb"] * 11},
    {"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]},
    {"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]},
])
def test_bad_registrations_are_refused(metadata):
    with pytest.raises(ClientError):
        register(metadata)


def test_only_https_urls_with_a_path_are_metadata_document_ids():
    assert is_metadata_url("https://app.example/client.json")
    assert not is_metadata_url("https://app.example/")
    assert not is_metadata_url("http://app.example/client.json")
    assert not is_metadata_url("mcp-abc")
