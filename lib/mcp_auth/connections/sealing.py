"""Tokens sealed at rest: AES-256-GCM under the application key from Secret Manager.

    sealed = "v1.<key id>.<nonce>.<ciphertext+tag>"      (base64url, no padding)

The key id is the first 8 bytes of SHA-256 of the key, hex: it names the key without revealing
it, so a rotation needs no version bookkeeping. ``Sealer`` encrypts with the newest enabled
version of the secret and decrypts with any of the newest two (``SecretStore.versions``): add a
version, and new writes use it while old ciphertexts still open; disable the old version once
every token has been rewritten (each refresh rewrites, and a user who reconnects does too).
The associated data binds a ciphertext to its user and provider, so a sealed token copied to
another user's document does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Awaitable, Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mcp_auth.errors import ConfigError, McpAuthError

KeySource = Callable[[], Awaitable[Sequence[bytes]]]
"""The key's versions, newest first (``lambda: secrets.versions(name, count=2)``)."""
_VERSION = "v1"
_MAX_SEALED = 64 * 1024


class Unsealable(McpAuthError):
    """A sealed value that no current key opens (tampered, another user's, or sealed under a retired key)."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """Seals and opens small secrets (tokens) bound to a context string."""

    def __init__(self, keys: KeySource, *, secret_name: str = "MCP_AUTH_CONNECTIONS_KEY_SECRET") -> None:  # noqa: S107
        self._keys = keys
        self._name = secret_name

    def __repr__(self) -> str:
        return f"Sealer(key={self._name!r})"

    async def _current(self) -> list[tuple[str, AESGCM]]:
        found = []
        for key in await self._keys():
            if len(key) != 32:
                raise ConfigError(
                    f"{self._name} must hold exactly 32 bytes (an AES-256 key), found a version of {len(key)} bytes: "
                    "add a version made with `head -c 32 /dev/urandom`."
                )
            found.append((key_id(key), AESGCM(key)))
        if not found:
            raise ConfigError(f"{self._name} has no enabled version.")
        return found

    async def seal(self, plaintext: bytes, *, context: str) -> str:
        kid, aead = (await self._current())[0]
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, plaintext, f"{_VERSION}.{kid}.{context}".encode())
        return f"{_VERSION}.{kid}.{_b64(nonce)}.{_b64(sealed)}"

    async def open(self, sealed: str, *, context: str) -> bytes:
        parts = sealed.split(".") if isinstance(sealed, str) and len(sealed) <= _MAX_SEALED else []
        if len(parts) != 4 or parts[0] != _VERSION:
            raise Unsealable("The sealed value is malformed.")
        _, kid, nonce, body = parts
        for current_kid, aead in await self._current():
            if current_kid == kid:
                try:
                    return aead.decrypt(_unb64(nonce), _unb64(body), f"{_VERSION}.{kid}.{context}".encode())
                except (InvalidTag, ValueError):
                    raise Unsealable("The sealed value does not open under its key.") from None
        raise Unsealable("The sealed value's key is not among the current key versions.")

    async def key_id(self) -> str:
        """The id of the key new values are sealed with."""
        return (await self._current())[0][0]
