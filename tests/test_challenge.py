"""Framework errors as HTTP answers (lib/mcp_auth/challenge.py): RFC 6750 challenges that survive hostile
text, the status of each error class, and what a client is told to do next."""

from __future__ import annotations

import json

import pytest

from mcp_auth.challenge import error_code, error_response, plain_error, www_authenticate
from mcp_auth.errors import (
    ConfigError,
    CredentialUnavailable,
    DisabledUser,
    ExpiredToken,
    InsufficientScope,
    InvalidToken,
    JwksUnavailable,
    McpAuthError,
    MissingToken,
    SecretUnavailable,
    StoreUnavailable,
    UnknownUser,
    WrongAudience,
)
from tests._fixtures.http import challenge

METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
ADVERTISED = ("mcp:tools", "notes:read")
RFC_6750_DESCRIPTION = {chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F))}


def _header(error, **options) -> str:
    return www_authenticate(
        error, resource_metadata=options.pop("metadata", METADATA), scopes=options.pop("scopes", ADVERTISED)
    )


def test_quotes_and_backslashes_in_quoted_values_are_escaped_and_read_back_unchanged():
    metadata = 'https://mcp.example.com/a"b\\c'
    header = _header(InsufficientScope(['odd"scope', "back\\slash"]), metadata=metadata)
    assert 'resource_metadata="https://mcp.example.com/a\\"b\\\\c"' in header
    assert 'scope="odd\\"scope back\\\\slash"' in header
    params = challenge(header)
    assert params["resource_metadata"] == metadata and params["scope"] == 'odd"scope back\\slash'


def test_error_description_keeps_only_the_characters_rfc_6750_allows():
    message = 'bad "token"\r\nX-Evil: 1 \\ caf\u00e9\t\x00end\x7f'
    header = _header(InvalidToken(message))
    assert "\r" not in header and "\n" not in header
    description = challenge(header)["error_description"]
    assert description == "bad tokenX-Evil: 1  cafend"
    assert set(description) <= RFC_6750_DESCRIPTION
    body = json.loads(error_response(InvalidToken(message), resource_metadata=METADATA).body)
    assert body["error_description"] == message  # the JSON body is no header: the message is kept whole


def test_no_error_code_when_no_credential_was_sent():
    header = _header(MissingToken())
    params = challenge(header)
    assert params == {"resource_metadata": METADATA, "scope": "mcp:tools notes:read"}  # RFC 6750 §3.1
    response = error_response(MissingToken(), resource_metadata=METADATA, scopes=ADVERTISED)
    assert response.status_code == 401
    assert json.loads(response.body)["error"] == "unauthorized"


@pytest.mark.parametrize("error", [InvalidToken("bad signature"), ExpiredToken(), WrongAudience()])
def test_a_refused_credential_is_invalid_token_with_its_reason(error):
    params = challenge(_header(error))
    assert params["error"] == "invalid_token" and params["error_description"] == error.message
    assert params["scope"] == "mcp:tools notes:read"  # what the deployment advertises


def test_insufficient_scope_names_the_required_scopes_not_the_advertised_ones():
    error = InsufficientScope(["notes:write", "admin:x"])
    params = challenge(_header(error))
    assert params["error"] == "insufficient_scope" and params["scope"] == "notes:write admin:x"
    response = error_response(error, resource_metadata=METADATA, scopes=ADVERTISED)
    assert response.status_code == 403
    assert json.loads(response.body)["error"] == "insufficient_scope"


def test_without_advertised_scopes_the_challenge_has_no_scope():
    assert "scope" not in challenge(_header(InvalidToken("x"), scopes=()))


@pytest.mark.parametrize(
    ("error", "status", "code", "challenged"),
    [
        (MissingToken(), 401, "unauthorized", True),
        (InvalidToken("x"), 401, "invalid_token", True),
        (ExpiredToken(), 401, "invalid_token", True),
        (WrongAudience(), 401, "invalid_token", True),
        (InsufficientScope(["a"]), 403, "insufficient_scope", True),
        (UnknownUser(), 403, "unknown_user", False),
        (DisabledUser(), 403, "disabled_user", False),
        (JwksUnavailable("issuer down"), 503, "jwks_unavailable", False),
        (SecretUnavailable("secret manager down"), 503, "secret_unavailable", False),
        (StoreUnavailable("firestore down"), 503, "store_unavailable", False),
        (CredentialUnavailable("platform down"), 503, "credential_unavailable", False),
        (ConfigError("bad setting"), 500, "config_error", False),
    ],
)
def test_each_error_class_has_its_status_code_and_challenge(error, status, code, challenged):
    response = error_response(error, resource_metadata=METADATA, scopes=ADVERTISED)
    body = json.loads(response.body)
    assert (response.status_code, body["error"]) == (status, code)
    assert body["error_description"] == error.message
    assert response.headers["cache-control"] == "no-store"
    assert ("www-authenticate" in response.headers) is challenged  # only authentication errors challenge


@pytest.mark.parametrize(
    "error", [JwksUnavailable("x"), SecretUnavailable("x"), StoreUnavailable("x"), CredentialUnavailable("x")]
)
def test_an_upstream_error_tells_the_client_when_to_retry(error):
    response = error_response(error, resource_metadata=METADATA)
    assert response.headers["retry-after"] == str(error.retry_after) == "5"


@pytest.mark.parametrize("error", [InvalidToken("x"), InsufficientScope(["a"]), DisabledUser(), ConfigError("x")])
def test_only_upstream_errors_carry_retry_after(error):
    assert "retry-after" not in error_response(error, resource_metadata=METADATA).headers


def test_error_codes_for_logs_are_snake_case_class_names():
    class TooManyThings(McpAuthError):
        pass

    assert [error_code(e) for e in (ExpiredToken(), DisabledUser(), TooManyThings("x"))] == [
        "expired_token",
        "disabled_user",
        "too_many_things",
    ]


def test_a_plain_error_is_json_no_store_with_its_extra_headers():
    response = plain_error(405, "method_not_allowed", "POST only.", {"Allow": "POST"})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.headers["cache-control"] == "no-store" and response.media_type == "application/json"
    assert json.loads(response.body) == {"error": "method_not_allowed", "error_description": "POST only."}
