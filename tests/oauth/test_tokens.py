"""The back channel with hostile input, through the whole app in process: a clear 4xx, never a 500."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("body", [b"[" * 8000, b'{"redirect_uris": ' + b"[" * 100 + b"]" * 100 + b"}"])
async def test_deeply_nested_registration_json_is_a_clear_400(oauth_app, body):
    deployment = oauth_app()
    async with deployment.client() as client:
        r = await client.post("/oauth/register", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_client_metadata"
    assert "nested deeper than 64" in r.json()["error_description"]


@pytest.mark.parametrize("body", [b"\xff\xfe", b"not json", b"[1, 2"])
async def test_registration_that_is_not_json_says_so(oauth_app, body):
    deployment = oauth_app()
    async with deployment.client() as client:
        r = await client.post("/oauth/register", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON object" in r.json()["error_description"]


@pytest.mark.parametrize("uri", ["https://app.example:99999/cb", "https://[::1/cb", "https://app.example:0/cb"])
async def test_a_redirect_uri_that_is_not_a_valid_url_is_refused_at_registration(oauth_app, uri):
    deployment = oauth_app()
    async with deployment.client() as client:
        r = await client.post("/oauth/register", json={"redirect_uris": [uri]})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_redirect_uri" and "not a valid URL" in r.json()["error_description"]


async def test_grant_types_that_are_not_strings_are_refused_at_registration(oauth_app):
    deployment = oauth_app()
    async with deployment.client() as client:
        r = await client.post(
            "/oauth/register",
            json={"redirect_uris": ["https://app.example/cb"], "grant_types": [["authorization_code"]]},
        )
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata", r.text
