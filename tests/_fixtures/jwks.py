"""A stand-in authorization server on loopback: a JWKS endpoint and an RFC 7662
introspection endpoint, served over real HTTP by a thread, plus freshly
generated signing keys, token helpers and JWT providers wired to them.

The server can be made slow (holds requests until released or stopped),
gated (holds requests until the test opens the gate, to line up concurrent
callers), failing (HTTP 500) or rotated (new key set); ``down_url`` is a port
where nothing listens. Every request is recorded (method, path), so tests can
count fetches and check that nothing else was asked for.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider

JWKS_PATH = "/jwks"
INTROSPECT_PATH = "/introspect"
ISSUER = "https://issuer.test"
AUDIENCE = "https://mcp.example.test/mcp"


class _Handler(BaseHTTPRequestHandler):
    server: IssuerServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._serve(lambda: self.server.jwks if self.path == JWKS_PATH else None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self._serve(lambda: self.server.introspect(self.path, self.headers.get("Authorization"), body))

    def _serve(self, answer: Any) -> None:
        server = self.server
        server.requests.append((self.command, self.path))
        server.arrived.set()
        try:
            if server.mode == "slow":
                server.released.wait(60)
                return
            if server.mode == "gated":
                server.gate.wait(60)
            if server.mode == "error":
                self._send(500, b'{"error":"server_error"}')
                return
            if server.mode == "garbage":
                self._send(200, b"<html>not json</html>")
                return
            document = answer()
            if document is None:
                self._send(404, b'{"error":"not_found"}')
            elif isinstance(document, tuple):
                self._send(document[0], json.dumps(document[1]).encode())
            else:
                self._send(200, json.dumps(document).encode())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class IssuerServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "ok"  # ok | slow | gated | error | garbage
        self.jwks: dict[str, Any] = {"keys": []}
        self.requests: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.arrived = threading.Event()  # set by every request
        self.released = threading.Event()
        self.client_id = "mcp-resource-server"
        self.client_secret = base64.b64encode(os.urandom(24)).decode() + "+/:"  # needs form-encoding
        self.tokens: dict[str, dict[str, Any]] = {}  # opaque token -> introspection response

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def introspection_url(self) -> str:
        return self.base_url + INTROSPECT_PATH

    def fetches(self, method: str = "GET", path: str = JWKS_PATH) -> int:
        return sum(1 for request in self.requests if request == (method, path))

    def introspect(self, path: str, authorization: str | None, body: str) -> Any:
        if path != INTROSPECT_PATH:
            return None
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            pair = base64.b64decode(encoded, validate=True).decode()
        except ValueError:
            pair = ""
        client_id, _, secret = (unquote_plus(part) for part in pair.partition(":"))
        if scheme != "Basic" or (client_id, secret) != (self.client_id, self.client_secret):
            return (401, {"error": "invalid_client"})
        token = parse_qs(body).get("token", [""])[0]
        return self.tokens.get(token, {"active": False})

    def stop(self) -> None:
        self.released.set()
        self.gate.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def issuer_server() -> Iterator[IssuerServer]:
    server = IssuerServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="issuer-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(10)


@pytest.fixture
def down_url() -> Iterator[str]:
    """A loopback URL where nothing listens: connecting is refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound, never listening: the port stays ours and refuses connections
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any
    public_jwk: dict[str, Any] = field(repr=False)

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **(headers or {})})


def _jwk(private: Any, kid: str, alg: str | None) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(public, as_dict=True)
    data.update({"kid": kid, "use": "sig"})
    if alg:
        data["alg"] = alg
    return data


def make_signing_key(kind: str, kid: str, *, alg: str | None = None, declare_alg: bool = True) -> SigningKey:
    """A new key pair: kind is rsa, ec or ed25519."""
    if kind == "rsa":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alg = alg or "RS256"
    elif kind == "ec":
        private = ec.generate_private_key(ec.SECP256R1())
        alg = alg or "ES256"
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        alg = alg or "EdDSA"
    return SigningKey(kid, alg, private, _jwk(private, kid, alg if declare_alg else None))


@pytest.fixture(scope="session")
def rsa_signing_key() -> SigningKey:
    return make_signing_key("rsa", "rsa-1")


@pytest.fixture(scope="session")
def ec_signing_key() -> SigningKey:
    return make_signing_key("ec", "ec-1")


@pytest.fixture(scope="session")
def ed_signing_key() -> SigningKey:
    return make_signing_key("ed25519", "ed-1")


@pytest.fixture
def hs_keys() -> list[bytes]:
    """Two fresh HMAC keys: the current one and the previous one (rotation)."""
    return [os.urandom(32), os.urandom(32)]


def claims_for(issuer: str, audience: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid claim set; pass a claim as None to leave it out."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": "tools:read tools:write",
        "client_id": "client-1",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ``ISSUER`` and ``AUDIENCE``."""
    return claims_for(ISSUER, AUDIENCE, **overrides)


def hs_token(key: bytes, alg: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(jwt_claims(**overrides), key, algorithm=alg)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand, for headers and signatures no library would produce."""
    parts = (json.dumps(header).encode(), json.dumps(payload).encode())
    return ".".join([*(b64url(part) for part in parts), b64url(signature)])


async def assert_rejected(provider: Any, token: str, error: type[Exception], match: str) -> Exception:
    """The token is refused with exactly this error type, and the message never echoes the token."""
    with pytest.raises(error, match=match) as raised:
        await provider.authenticate(Credentials(bearer=token))
    assert type(raised.value) is error
    for segment in token.split("."):
        if len(segment) > 8:
            assert segment not in str(raised.value)
    return raised.value


@pytest.fixture
def published_jwks(issuer_server: IssuerServer, rsa_signing_key, ec_signing_key, ed_signing_key) -> IssuerServer:
    """The issuer server publishing the RSA, EC and Ed25519 test keys."""
    keys = (rsa_signing_key, ec_signing_key, ed_signing_key)
    issuer_server.jwks = {"keys": [key.public_jwk for key in keys]}
    return issuer_server


@pytest.fixture
async def jwks_cache(published_jwks: IssuerServer) -> AsyncIterator[JwksCache]:
    async with JwksCache(published_jwks.jwks_url, fetch_timeout=2, refresh_cooldown=0) as cache:
        yield cache


@pytest.fixture
def jwt_provider(jwks_cache: JwksCache, hs_keys: list[bytes]) -> JwtProvider:
    """Accepts HS tokens signed with ``hs_keys`` and asymmetric tokens from ``published_jwks``."""
    return JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=hs_keys, jwks=jwks_cache)


@pytest.fixture
def jwks_only_provider(jwks_cache: JwksCache) -> JwtProvider:
    return JwtProvider(issuer=ISSUER, audience=AUDIENCE, jwks=jwks_cache)
