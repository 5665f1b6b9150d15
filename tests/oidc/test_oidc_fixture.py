"""The test authorization server (oidc-provider on loopback) does what the other
tests rely on: discovery, JWT access tokens per resource, sign-in without a
browser, refresh, introspection, revocation, registration and key rotation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import jwt
import pytest

from tests.oidc.helper import (
    CONFIDENTIAL_CLIENT,
    PUBLIC_CLIENT,
    SERVICE_CLIENT,
    AuthorizationServerError,
    OidcServer,
    pkce_pair,
)
from tests.oidc.settings import resource, unique_resource


async def test_discovery_documents_describe_an_oauth_2_1_server(oidc_server: OidcServer) -> None:
    metadata = oidc_server.metadata
    assert metadata["issuer"] == oidc_server.issuer
    assert oidc_server.issuer.startswith("http://127.0.0.1:")
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    grant_types = set(metadata["grant_types_supported"])
    assert {"authorization_code", "refresh_token", "client_credentials"} <= grant_types
    for endpoint in ("introspection_endpoint", "revocation_endpoint", "registration_endpoint", "jwks_uri"):
        assert metadata[endpoint].startswith(oidc_server.issuer)
    assert metadata["client_id_metadata_document_supported"] is True
    async with httpx.AsyncClient() as http:
        rfc8414 = (await http.get(f"{oidc_server.issuer}/.well-known/oauth-authorization-server")).json()
    assert rfc8414["token_endpoint"] == oidc_server.token_endpoint


async def test_jwks_publishes_one_rs256_and_one_es256_key(oidc_server: OidcServer) -> None:
    keys = (await oidc_server.jwks())["keys"]
    state = await oidc_server.key_state()
    assert {(key["kid"], key["alg"]) for key in keys} >= {
        (state.current["RS256"], "RS256"),
        (state.current["ES256"], "ES256"),
    }
    assert all("d" not in key for key in keys)


async def test_client_credentials_token_is_an_rs256_jwt_for_the_resource(oidc_server: OidcServer) -> None:
    target = unique_resource()
    tokens = await oidc_server.client_credentials(target, ["tools:read", "tools:write"])

    signing_key = jwt.PyJWKClient(oidc_server.jwks_url).get_signing_key_from_jwt(tokens["access_token"])
    claims = jwt.decode(
        tokens["access_token"], signing_key, algorithms=["RS256"], audience=target, issuer=oidc_server.issuer
    )
    current = (await oidc_server.key_state()).current
    assert jwt.get_unverified_header(tokens["access_token"])["kid"] == current["RS256"]
    assert claims["aud"] == target
    assert claims["scope"] == "tools:read tools:write"
    assert claims["sub"] == claims["client_id"] == SERVICE_CLIENT
    assert claims["exp"] > claims["iat"]


async def test_resource_configured_for_es256_gets_es256_tokens(oidc_server: OidcServer) -> None:
    target = unique_resource()
    await oidc_server.add_resource(target, alg="ES256", scopes=["tools:read"])

    token = (await oidc_server.client_credentials(target))["access_token"]

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == (await oidc_server.key_state()).current["ES256"]
    signing_key = jwt.PyJWKClient(oidc_server.jwks_url).get_signing_key_from_jwt(token)
    assert jwt.decode(token, signing_key, algorithms=["ES256"], audience=target)["aud"] == target


async def test_token_for_one_resource_does_not_verify_for_another(oidc_server: OidcServer) -> None:
    token = (await oidc_server.client_credentials(unique_resource()))["access_token"]

    with pytest.raises(jwt.InvalidAudienceError):
        await oidc_server.decode(token, audience=unique_resource())


async def test_scope_the_resource_does_not_define_is_left_out_of_the_token(oidc_server: OidcServer) -> None:
    target = unique_resource()

    tokens = await oidc_server.client_credentials(target, ["payroll:write", "tools:read"])

    assert tokens["scope"] == "tools:read"
    assert (await oidc_server.decode(tokens["access_token"], audience=target))["scope"] == "tools:read"


async def test_authorization_code_flow_signs_in_the_hinted_account(oidc_server: OidcServer) -> None:
    target = unique_resource()

    tokens = await oidc_server.authorization_code_flow(account="bob", resource=target, scopes=["tools:write"])

    claims = await oidc_server.decode(tokens["access_token"], audience=target)
    assert claims["sub"] == "bob"
    assert claims["client_id"] == PUBLIC_CLIENT
    assert claims["scope"] == "tools:write"
    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"]


async def test_authorization_without_login_hint_signs_in_the_default_account(oidc_server: OidcServer) -> None:
    target = unique_resource()

    tokens = await oidc_server.authorization_code_flow(resource=target)

    assert (await oidc_server.decode(tokens["access_token"], audience=target))["sub"] == "alice"


async def test_confidential_client_redeems_its_code_with_its_secret(oidc_server: OidcServer) -> None:
    target = unique_resource()

    tokens = await oidc_server.authorization_code_flow(account="alice", resource=target, client_id=CONFIDENTIAL_CLIENT)

    claims = await oidc_server.decode(tokens["access_token"], audience=target)
    assert claims["client_id"] == CONFIDENTIAL_CLIENT


async def test_openid_sign_in_returns_an_id_token_with_the_account_claims(oidc_server: OidcServer) -> None:
    tokens = await oidc_server.authorization_code_flow(account="alice", scopes=["openid", "email", "profile"])

    id_token = await oidc_server.decode(tokens["id_token"], audience=PUBLIC_CLIENT)
    assert id_token["sub"] == "alice"
    assert id_token["email"] == "alice@example.com"
    assert id_token["email_verified"] is True
    assert id_token["hd"] == "example.com"
    assert (await oidc_server.userinfo(tokens["access_token"]))["email"] == "alice@example.com"


async def test_unknown_account_ends_the_flow_with_access_denied(oidc_server: OidcServer) -> None:
    with pytest.raises(AuthorizationServerError) as denied:
        await oidc_server.authorize(account="mallory", resource=unique_resource())
    assert denied.value.error == "access_denied"
    assert "mallory" in denied.value.description


async def test_code_is_only_redeemed_with_its_pkce_verifier(oidc_server: OidcServer) -> None:
    response = await oidc_server.authorize(account="alice", resource=unique_resource())
    wrong_verifier, _ = pkce_pair()
    forged = dataclasses.replace(response, code_verifier=wrong_verifier)

    with pytest.raises(AuthorizationServerError) as refused:
        await oidc_server.exchange_code(forged)
    assert refused.value.error == "invalid_grant"


async def test_authorization_request_without_pkce_is_refused(oidc_server: OidcServer) -> None:
    url = oidc_server.authorization_url(code_challenge="", state="s", resource=unique_resource())
    url = url.replace("&code_challenge=&code_challenge_method=S256", "")

    callback = await oidc_server.follow_authorization(url)

    assert "error=invalid_request" in callback


async def test_refresh_token_grant_issues_a_fresh_access_token_and_rotates(oidc_server: OidcServer) -> None:
    target = unique_resource()
    first = await oidc_server.authorization_code_flow(account="bob", resource=target)

    second = await oidc_server.refresh(first["refresh_token"], resource=target)

    claims = await oidc_server.decode(second["access_token"], audience=target)
    assert claims["sub"] == "bob"
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    with pytest.raises(AuthorizationServerError) as reused:
        await oidc_server.refresh(first["refresh_token"], resource=target)
    assert reused.value.error == "invalid_grant"


async def test_introspection_reports_opaque_tokens_active_until_revoked(oidc_server: OidcServer) -> None:
    target = unique_resource()
    await oidc_server.add_resource(target, format="opaque", scopes=["tools:read"])
    token = (await oidc_server.client_credentials(target))["access_token"]
    assert token.count(".") == 0

    active = await oidc_server.introspect(token)
    assert active["active"] is True
    assert active["aud"] == target
    assert active["scope"] == "tools:read"
    assert active["client_id"] == SERVICE_CLIENT
    assert active["iss"] == oidc_server.issuer

    await oidc_server.revoke(token, client_id=SERVICE_CLIENT)
    assert await oidc_server.introspect(token) == {"active": False}
    assert await oidc_server.introspect("not-a-token-this-server-issued") == {"active": False}


async def test_refresh_tokens_can_be_introspected(oidc_server: OidcServer) -> None:
    tokens = await oidc_server.authorization_code_flow(account="carol", resource=unique_resource())

    answer = await oidc_server.introspect(tokens["refresh_token"], token_type_hint="refresh_token")

    assert answer["active"] is True
    assert answer["sub"] == "carol"
    assert answer["client_id"] == PUBLIC_CLIENT


async def test_jwt_access_tokens_are_not_introspectable(oidc_server: OidcServer) -> None:
    token = (await oidc_server.client_credentials(unique_resource()))["access_token"]

    with pytest.raises(AuthorizationServerError) as refused:
        await oidc_server.introspect(token)
    assert refused.value.error == "unsupported_token_type"


async def test_public_client_cannot_introspect(oidc_server: OidcServer) -> None:
    target = unique_resource()
    await oidc_server.add_resource(target, format="opaque")
    token = (await oidc_server.client_credentials(target))["access_token"]

    assert await oidc_server.introspect(token, client_id=PUBLIC_CLIENT) == {"active": False}


async def test_admin_endpoints_need_the_admin_token(oidc_server: OidcServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{oidc_server.issuer}/__admin/keys/rotate")
    assert response.status_code == 403


async def test_rotation_keeps_old_tokens_valid_until_the_old_keys_are_retired(
    oidc_server_factory: Callable[..., OidcServer],
) -> None:
    server = oidc_server_factory()
    rs_target, es_target = unique_resource(), unique_resource()
    await server.add_resource(es_target, alg="ES256")
    before = await server.key_state()
    old_rs = (await server.client_credentials(rs_target))["access_token"]
    old_es = (await server.client_credentials(es_target))["access_token"]

    after = await server.rotate_keys()
    new_rs = (await server.client_credentials(rs_target))["access_token"]
    new_es = (await server.client_credentials(es_target))["access_token"]

    assert after.current["RS256"] != before.current["RS256"]
    assert after.current["ES256"] != before.current["ES256"]
    assert jwt.get_unverified_header(new_rs)["kid"] == after.current["RS256"]
    assert jwt.get_unverified_header(new_es)["kid"] == after.current["ES256"]
    assert set(before.published) < set(after.published)
    for token, target in ((old_rs, rs_target), (old_es, es_target), (new_rs, rs_target), (new_es, es_target)):
        assert (await server.decode(token, audience=target))["aud"] == target

    retired = await server.retire_old_keys()

    assert sorted(retired.published) == sorted(after.current.values())
    for token, target in ((old_rs, rs_target), (old_es, es_target)):
        with pytest.raises(jwt.InvalidKeyError):
            await server.decode(token, audience=target)
    for token, target in ((new_rs, rs_target), (new_es, es_target)):
        assert (await server.decode(token, audience=target))["aud"] == target


async def test_sign_in_and_refresh_survive_a_rotation(oidc_server_factory: Callable[..., OidcServer]) -> None:
    server = oidc_server_factory()
    target = unique_resource()
    tokens = await server.authorization_code_flow(account="bob", resource=target)

    await server.rotate_keys()
    refreshed = await server.refresh(tokens["refresh_token"], resource=target)

    current = (await server.key_state()).current
    assert jwt.get_unverified_header(refreshed["access_token"])["kid"] == current["RS256"]
    assert (await server.decode(refreshed["access_token"], audience=target))["sub"] == "bob"


async def test_extra_server_with_its_own_clients_accounts_and_resources(
    oidc_server_factory: Callable[..., OidcServer],
) -> None:
    only = unique_resource()
    server = oidc_server_factory(
        default_account=None,
        accounts={"dana": {"email": "dana@corp.example", "email_verified": True, "hd": "corp.example"}},
        resources={only: resource(scopes=["files:read"], ttl=60)},
        access_token_claims=["email"],
    )

    with pytest.raises(AuthorizationServerError) as no_account:
        await server.authorize(resource=only, scopes=["files:read"])
    assert no_account.value.error == "access_denied"
    with pytest.raises(AuthorizationServerError) as unknown_resource:
        await server.client_credentials(unique_resource(), ["files:read"])
    assert unknown_resource.value.error == "invalid_target"

    tokens = await server.authorization_code_flow(account="dana", resource=only, scopes=["files:read"])
    claims = await server.decode(tokens["access_token"], audience=only)
    assert claims["email"] == "dana@corp.example"
    assert claims["exp"] - claims["iat"] == 60

    await server.add_account("erin", email="erin@corp.example")
    await server.set_default_account("erin")
    tokens = await server.authorization_code_flow(resource=only, scopes=["files:read"])
    assert (await server.decode(tokens["access_token"], audience=only))["sub"] == "erin"
