"""The authorization server's signing keys: EC P-256 private keys (PEM) in Secret Manager.

The two newest enabled versions of the secret are both published in the JWKS and
both verify. The *older* of the two signs, so a new key is published everywhere
before anything is signed with it: add a version (published), wait one secret
refresh interval, disable the old version (the new one now signs). With a single
enabled version, it signs.

The same versions also give the keys that seal what a sign-in keeps of the upstream provider
(``recheck.py``): 32 bytes derived from each PEM with HKDF-SHA256 under a label of their own, so no
second secret is needed and a rotation of the signing key rotates them too (``connections.sealing.Sealer``
seals with the newest and opens with either of the two).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm

from mcp_auth.auth.jwks import SigningKey
from mcp_auth.errors import ConfigError, InvalidToken

KeySource = Callable[[], Awaitable[Sequence[bytes]]]
ALGORITHM = "ES256"
SEALING_LABEL = b"mcp-auth oauth upstream sealing v1"


class _Key:
    __slots__ = ("kid", "pem", "private", "public_jwk")

    def __init__(self, pem: bytes) -> None:
        try:
            private = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError(
                "The OAuth signing-key secret is not an unencrypted PEM private key: store an EC P-256 key "
                "(openssl ecparam -name prime256v1 -genkey -noout)."
            ) from None
        if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
            raise ConfigError("The OAuth signing-key secret must hold an EC P-256 (prime256v1) private key.")
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
        members = {name: public[name] for name in ("crv", "kty", "x", "y")}
        digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
        self.kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()  # RFC 7638 thumbprint
        self.private, self.pem = private, pem
        self.public_jwk = {**members, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


class SigningKeys:
    """Signs access tokens and answers ``signing_keys(kid)`` like a ``JwksCache``, in process."""

    def __init__(self, source: KeySource) -> None:
        self._source = source
        self._parsed: dict[bytes, _Key] = {}

    async def _keys(self) -> list[_Key]:
        payloads = list(await self._source())
        if not payloads:
            raise ConfigError("The OAuth signing-key secret has no enabled version.")
        keys = []
        for pem in payloads[:2]:
            if pem not in self._parsed:
                self._parsed = {**{k: v for k, v in self._parsed.items() if k in payloads}, pem: _Key(pem)}
            keys.append(self._parsed[pem])
        return keys

    async def sealing_keys(self) -> list[bytes]:
        """AES-256 keys derived from the two newest versions, newest first (a ``sealing.KeySource``)."""
        return [
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEALING_LABEL).derive(key.pem)
            for key in await self._keys()
        ]

    async def sign(self, claims: Mapping[str, Any]) -> str:
        key = (await self._keys())[-1]
        return jwt.encode(dict(claims), key.private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "at+jwt"})

    async def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk for key in await self._keys()]}

    async def signing_keys(self, kid: str | None) -> tuple[SigningKey, ...]:
        for key in await self._keys():
            if key.kid == kid:
                return (
                    SigningKey(kid, jwt.PyJWK.from_dict(key.public_jwk, algorithm=ALGORITHM), frozenset({ALGORITHM})),
                )
        raise InvalidToken("The token was signed with a key this server does not publish: sign in again.")
