"""Upstream nonce and verifier, signing-key rotation and the oauth settings (who may sign in: test_signin.py)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError, InvalidToken
from mcp_auth.oauth.keys import SigningKeys
from mcp_auth.oauth.upstream import nonce_for, verifier_for


def _pem(key=None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_upstream_nonce_and_verifier_are_bound_to_the_state():
    assert nonce_for("a") != nonce_for("b") and verifier_for("a") != nonce_for("a")
    assert 43 <= len(verifier_for("a")) <= 128


async def test_the_older_of_two_versions_signs_and_both_are_published():
    old, new = _pem(), _pem()
    versions = [old]

    async def source() -> list[bytes]:
        return list(versions)

    keys = SigningKeys(source)
    before = await keys.sign({"sub": "u"})
    versions[:] = [new, old]  # a new version is added: published, not yet signing
    during = await keys.sign({"sub": "u"})
    assert jwt.get_unverified_header(during)["kid"] == jwt.get_unverified_header(before)["kid"]
    assert len((await keys.jwks())["keys"]) == 2
    versions[:] = [new]  # the old version is disabled: the new one signs, old tokens stop verifying
    after = await keys.sign({"sub": "u"})
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    with pytest.raises(InvalidToken):
        await keys.signing_keys(jwt.get_unverified_header(before)["kid"])
    assert "d" not in (await keys.jwks())["keys"][0]


@pytest.mark.parametrize("pem", [b"not a key", _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))])
async def test_a_signing_key_that_is_not_ec_p256_stops_with_a_clear_error(pem):
    async def source() -> list[bytes]:
        return [pem]

    with pytest.raises(ConfigError, match="P-256|PEM"):
        await SigningKeys(source).jwks()


BASE = {
    "MCP_AUTH_RESOURCE_URL": "https://mcp.example/mcp",
    "MCP_AUTH_PROVIDERS": "oauth",
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": "cid",
    "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": "up",
    "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": "sign",
    "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com",
}


def test_oauth_settings_default_to_google_and_name_their_secrets():
    settings = Settings.from_env(BASE)
    assert settings.oauth_upstream_issuer == "https://accounts.google.com"
    assert set(settings.secret_names) == {"up", "sign"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": ""}, "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET"),
        ({"MCP_AUTH_OAUTH_ALLOWED_DOMAINS": ""}, "sign-in rule"),
        ({"MCP_AUTH_OAUTH_UPSTREAM_ISSUER": "http://idp.example"}, "https"),
        ({"MCP_AUTH_OAUTH_ALLOW_LOOPBACK": "true", "K_SERVICE": "svc"}, "Cloud Run"),
    ],
)
def test_unsafe_or_incomplete_oauth_settings_stop_the_start(change, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, **change})
