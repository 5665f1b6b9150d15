"""The front channel with hostile input, through the whole app in process: a clear 400, never a 500."""

from __future__ import annotations

import base64
import hashlib

import pytest

REDIRECT = "http://localhost:3030/cb"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).rstrip(b"=").decode()


def _params(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }


@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("https://client.example:99999/x", "not a valid URL"),
        ("https://client.example:0/x", "not a valid URL"),
        ("https://[::1/client.json", "neither"),
        ("a/b", "neither"),
        ("mcp-abc/def/ghi/jkl/mnopqrstu", "neither"),
        ("__reserved__", "neither"),
        ("x" * 1999, "neither"),
        ("https://client.example/", "neither"),
    ],
)
async def test_a_client_id_that_cannot_name_a_client_is_a_clear_400(oauth_app, client_id, reason):
    deployment = oauth_app()
    async with deployment.client() as client:
        r = await client.get("/oauth/authorize", params=_params(client_id))
    assert r.status_code == 400 and "location" not in r.headers, r.text
    assert r.json()["error"] == "invalid_client"
    assert reason in r.json()["error_description"]


async def test_a_deeply_nested_metadata_document_is_a_clear_400(oauth_app):
    deployment = oauth_app()
    client_id = deployment.documents.publish("/deep.json", b"[" * 2500 + b"]" * 2500)
    async with deployment.client() as client:
        r = await client.get("/oauth/authorize", params=_params(client_id))
    assert r.status_code == 400, r.text
    assert "nested deeper" in r.json()["error_description"]


async def test_redirect_uris_with_an_impossible_port_are_refused_in_a_metadata_document(oauth_app):
    deployment = oauth_app()
    client_id = deployment.documents.client_id("/ports.json")
    deployment.documents.publish(
        "/ports.json", {"client_id": client_id, "redirect_uris": ["https://app.example:70000/cb"]}
    )
    async with deployment.client() as client:
        r = await client.get("/oauth/authorize", params=_params(client_id, redirect_uri="https://app.example:70000/cb"))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_redirect_uri"


async def test_a_code_challenge_outside_the_pkce_alphabet_is_sent_back_as_invalid_request(oauth_app):
    deployment = oauth_app()
    async with deployment.client() as client:
        client_id = (await client.post("/oauth/register", json={"redirect_uris": [REDIRECT]})).json()["client_id"]
        r = await client.get("/oauth/authorize", params=_params(client_id, code_challenge="é" * 43))
    assert r.status_code == 302 and r.headers["location"].startswith(REDIRECT)
    assert "error=invalid_request" in r.headers["location"]


async def test_a_callback_with_a_non_ascii_state_is_a_clear_400(oauth_app):
    deployment = oauth_app()
    async with deployment.client() as client:
        client.cookies.set("mcp_auth_signin", "%C3%A9", path="/oauth/callback")
        r = await client.get("/oauth/callback", params={"state": "é", "code": "c"})
    assert r.status_code == 400, r.text
    assert "state" in r.json()["error_description"]


async def test_a_valid_metadata_document_is_fetched_once_while_cached_and_a_failed_one_not_kept(oauth_app):
    deployment = oauth_app()
    docs = deployment.documents
    client_id = docs.client_id("/cached.json")
    async with deployment.client() as client:
        missing = await client.get("/oauth/authorize", params=_params(client_id))  # not published yet: 404
        docs.publish("/cached.json", {"client_id": client_id, "redirect_uris": [REDIRECT]})
        first = await client.get("/oauth/authorize", params=_params(client_id))
        second = await client.get("/oauth/authorize", params=_params(client_id))
    assert missing.status_code == 400 and "HTTP 404" in missing.json()["error_description"]
    assert first.status_code == second.status_code == 302
    assert docs.hits["/cached.json"] == 2  # the failure was not kept; the success was


async def test_an_oversized_state_is_refused_before_anything_is_stored(oauth_app):
    deployment = oauth_app()
    async with deployment.client() as client:
        client_id = (await client.post("/oauth/register", json={"redirect_uris": [REDIRECT]})).json()["client_id"]
        r = await client.get("/oauth/authorize", params=_params(client_id, state="s" * 1025))
        fine = await client.get("/oauth/authorize", params=_params(client_id, state="s" * 1024))
    assert r.status_code == 400 and "location" not in r.headers, r.text
    assert "state is longer than 1024" in r.json()["error_description"]
    assert fine.status_code == 302


async def test_a_repeated_parameter_is_a_clear_400_whatever_else_is_sent(oauth_app):
    deployment = oauth_app()
    query = "&".join(f"p{n}=1" for n in range(5000)) + "&state=a&state=b"  # every name distinct but one
    async with deployment.client() as client:
        r = await client.get(f"/oauth/authorize?{query}")
    assert r.status_code == 400 and "'state' is repeated" in r.json()["error_description"]


@pytest.mark.timeout(10)
def test_the_repeated_parameter_check_is_one_pass():
    from mcp_auth.oauth.authorize import first_repeated

    names = [f"p{n}" for n in range(1_000_000)]  # checking each name against all would take hours
    assert first_repeated(names) is None
    assert first_repeated([*names, "p7"]) == "p7"
