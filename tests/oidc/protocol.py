"""OAuth values and small protocol helpers shared by the test authorization server's helper."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx


class AuthorizationServerError(Exception):
    """The authorization server answered with an OAuth error (or an unexpected response)."""

    def __init__(self, error: str, description: str = "", status: int | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class AuthorizationResponse:
    """What came back to the redirect URI, plus the PKCE verifier needed to redeem the code."""

    code: str
    state: str
    code_verifier: str
    redirect_uri: str
    callback_url: str


@dataclass(frozen=True)
class KeyState:
    current: dict[str, str]  # alg (RS256, ES256) -> kid that signs now
    published: list[str]  # every kid in the JWKS


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def same_endpoint(url: str, redirect_uri: str) -> bool:
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.hostname, a.port, a.path) == (b.scheme, b.hostname, b.port, b.path)


def with_login_hint(url: str, account: str) -> str:
    if "login_hint" in parse_qs(urlsplit(url).query):
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'login_hint': account})}"


def oauth_json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        error = body.get("error", "unexpected_response") if isinstance(body, dict) else "unexpected_response"
        description = body.get("error_description", "") if isinstance(body, dict) else response.text[:300]
        raise AuthorizationServerError(str(error), str(description), response.status_code)
    return body
