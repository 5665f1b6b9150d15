"""Verification cost per credential kind: a miss (full verification) and a cache hit.

Keys are generated here for the run. RS256/ES256 keys are published as a JWKS
and introspection is answered by a loopback HTTP server in a thread of this
process (so an introspection miss includes one local HTTP round trip).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.cache import CachedProvider
from mcp_auth.auth.introspection import IntrospectionProvider
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider

ISSUER = "https://issuer.bench/"
AUDIENCE = "https://mcp.bench/mcp"


@contextlib.contextmanager
def _serve(routes: dict[str, Callable[[bytes], bytes]]) -> Iterator[str]:
    """A loopback HTTP server answering POST/GET on ``routes`` with JSON; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = routes[self.path](self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _claims(uid: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": uid,
        "iat": now,
        "exp": now + 3600,
        "scope": "mcp:tools",
        "jti": secrets.token_hex(8),
    }


async def _per_call(call: Callable[[Credentials], Awaitable[Any]], credentials: list[Credentials]) -> float:
    """Mean seconds per call over ``credentials`` (one call each)."""
    started = time.perf_counter()
    for item in credentials:
        await call(item)
    return (time.perf_counter() - started) / len(credentials)


async def measure(*, iterations: int) -> dict[str, dict[str, float]]:
    """Per credential kind: ``miss_us`` (provider alone), ``cached_miss_us`` (through the cache), ``hit_us``."""
    hs_key = secrets.token_bytes(32)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa", "alg": "RS256", "use": "sig"},
            {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec", "alg": "ES256", "use": "sig"},
        ]
    }
    signers: dict[str, Callable[[str], str]] = {
        "HS256": lambda uid: jwt.encode(_claims(uid), hs_key, algorithm="HS256"),
        "RS256": lambda uid: jwt.encode(_claims(uid), rsa_key, algorithm="RS256", headers={"kid": "rsa"}),
        "ES256": lambda uid: jwt.encode(_claims(uid), ec_key, algorithm="ES256", headers={"kid": "ec"}),
    }

    def introspect(_body: bytes) -> bytes:
        now = int(time.time())
        return json.dumps(
            {
                "active": True,
                "sub": "bench-user",
                "aud": AUDIENCE,
                "iss": ISSUER,
                "exp": now + 3600,
                "scope": "mcp:tools",
                "client_id": "bench",
            }
        ).encode()

    results: dict[str, dict[str, float]] = {}
    with _serve({"/jwks": lambda _body: json.dumps(jwks).encode(), "/introspect": introspect}) as base:
        async with JwksCache(f"{base}/jwks") as key_set:
            provider = JwtProvider(issuer=ISSUER, audience=AUDIENCE, hs_keys=[hs_key], jwks=key_set)
            for alg, sign in signers.items():
                tokens = [Credentials(bearer=sign(f"user-{i}")) for i in range(iterations)]
                await provider.authenticate(tokens[0])  # JWKS fetched once, outside the measurement
                results[alg] = await _pair(provider, tokens, iterations)
        slow = max(50, iterations // 20)
        introspection = IntrospectionProvider(
            endpoint=f"{base}/introspect", client_id="bench", client_secret="bench-secret", audience=AUDIENCE
        )
        try:
            tokens = [Credentials(bearer=secrets.token_urlsafe(32)) for _ in range(slow)]
            await introspection.authenticate(tokens[0])  # connection pool warmed outside the measurement
            results["introspection"] = await _pair(introspection, tokens, iterations)
        finally:
            await introspection.aclose()
    return results


async def _pair(provider: Any, tokens: list[Credentials], hits: int) -> dict[str, float]:
    miss = await _per_call(provider.authenticate, tokens)
    cached = CachedProvider(provider, ttl=300)
    cached_miss = await _per_call(cached.authenticate, tokens)
    same = [tokens[0]] * max(hits, 10_000)
    hit = await _per_call(cached.authenticate, same)
    return {"miss_us": miss * 1e6, "cached_miss_us": cached_miss * 1e6, "hit_us": hit * 1e6, "n": len(tokens)}


def run(*, iterations: int) -> dict[str, dict[str, float]]:
    return asyncio.run(measure(iterations=iterations))
