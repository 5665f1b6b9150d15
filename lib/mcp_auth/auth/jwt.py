"""JWT bearer tokens: HS256/384/512 with shared keys, RS/PS/ES/EdDSA through a JWKS.

The token header's ``alg`` picks the key source, and each source only ever
verifies its own algorithms: an HS token is checked against the configured
HMAC keys and nothing else, an asymmetric token against the JWKS keys whose
type matches the algorithm. ``alg: none`` is never accepted. Header fields that
name keys elsewhere (``jku``, ``x5u``, an embedded ``jwk``) are ignored.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import ASYMMETRIC_ALGORITHMS, JwksCache
from mcp_auth.errors import ConfigError, ExpiredToken, InvalidToken, MissingToken, WrongAudience
from mcp_auth.principal import Principal

#: Smallest HMAC key per algorithm (RFC 7518 §3.2: at least the hash size).
HS_MIN_KEY_BYTES: Mapping[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}
DEFAULT_JWKS_ALGORITHMS: tuple[str, ...] = ("RS256", "PS256", "ES256", "EdDSA")
MAX_TOKEN_BYTES = 8192
API_KEY_PREFIX = "mak_"
_PRINTABLE_ALG = re.compile(r"[A-Za-z0-9_+-]{1,20}")


def _malformed(detail: str) -> InvalidToken:
    return InvalidToken(f"The token is malformed ({detail}): send a complete, unmodified JWT.")


def scopes_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated string) or else ``scp`` (list or string)."""
    if "scope" in claims:
        name, value = "scope", claims["scope"]
    elif "scp" in claims:
        name, value = "scp", claims["scp"]
    else:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if name == "scp" and isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(item for item in value if item)
    raise InvalidToken(f"The token's '{name}' claim is not a space-separated string or a list of strings.")


def client_id_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The OAuth client the token was issued to: ``client_id``, else ``azp``."""
    for name in ("client_id", "azp"):
        value = claims.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidToken(f"The token's '{name}' claim is not a string.")
            return value
    return None


def _audiences(audience: str | Sequence[str] | None) -> tuple[str, ...]:
    values = (audience,) if isinstance(audience, str) else tuple(audience or ())
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(
            "JwtProvider needs audience: the canonical URL of this server (the 'aud' every token must carry)."
        )
    return values


class JwtProvider:
    """Verifies JWT bearer tokens and turns their claims into a ``Principal``.

    Keyword-only settings:

    * ``issuer`` (required): the exact ``iss`` accepted.
    * ``audience`` (required): one value or several; a token's ``aud`` must contain one.
    * ``hs_keys``: HMAC keys (bytes, >= 32 each); several are tried in order, for rotation.
    * ``jwks``: a ``JwksCache`` for the issuer's asymmetric keys. At least one source is required.
    * ``hs_algorithms`` / ``jwks_algorithms``: accepted algorithms per source.
    * ``leeway``: clock skew allowed on ``exp``/``nbf``/``iat``, 0-60 s (default 30).
    * ``user_id_claim``: the claim holding the user id (default ``sub``).
    * ``own_issuer_only``: ``accepts`` only tokens that claim ``issuer`` (unverified), so that a provider
      chain hands the other JWTs to the next provider (the built-in authorization server beside ``jwt``).

    The constructor raises ``ConfigError`` naming the bad setting. ``authenticate``
    raises ``MissingToken``, ``InvalidToken``, ``ExpiredToken``, ``WrongAudience``
    or (JWKS unreachable and no keys cached) ``JwksUnavailable``.
    """

    def __init__(
        self,
        *,
        issuer: str | None,
        audience: str | Sequence[str] | None,
        hs_keys: Sequence[bytes] | None = None,
        hs_key_source: Callable[[], Awaitable[Sequence[bytes]]] | None = None,
        jwks: JwksCache | None = None,
        hs_algorithms: Collection[str] = tuple(HS_MIN_KEY_BYTES),
        jwks_algorithms: Collection[str] = DEFAULT_JWKS_ALGORITHMS,
        leeway: float = 30.0,
        user_id_claim: str = "sub",
        max_token_bytes: int = MAX_TOKEN_BYTES,
        name: str = "jwt",
        own_issuer_only: bool = False,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigError("JwtProvider needs issuer: the exact 'iss' of the tokens to accept.")
        self._issuer = issuer
        self._audience = _audiences(audience)
        self._hs_keys = self._check_hs_keys(hs_keys or ())
        if self._hs_keys and hs_key_source is not None:
            raise ConfigError("JwtProvider takes hs_keys or hs_key_source, not both.")
        self._hs_key_source = hs_key_source
        if not self._hs_keys and hs_key_source is None and jwks is None:
            raise ConfigError("JwtProvider needs a key source: hs_keys, hs_key_source, jwks, or both.")
        self._jwks = jwks
        unknown = set(hs_algorithms) - set(HS_MIN_KEY_BYTES)
        if unknown:
            raise ConfigError(f"JwtProvider hs_algorithms may only name HS256/HS384/HS512, got {sorted(unknown)}.")
        unknown = set(jwks_algorithms) - ASYMMETRIC_ALGORITHMS
        if unknown:
            raise ConfigError(
                f"JwtProvider jwks_algorithms may only name {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}; "
                f"got {sorted(unknown)}."
            )
        has_hs = bool(self._hs_keys) or hs_key_source is not None
        self._hs_algorithms = frozenset(hs_algorithms) if has_hs else frozenset()
        self._jwks_algorithms = frozenset(jwks_algorithms) if jwks is not None else frozenset()
        if not isinstance(leeway, int | float) or not 0 <= leeway <= 60:
            raise ConfigError(f"JwtProvider leeway must be between 0 and 60 seconds, got {leeway!r}.")
        self._leeway = float(leeway)
        if not isinstance(user_id_claim, str) or not user_id_claim:
            raise ConfigError("JwtProvider user_id_claim must name a claim, e.g. 'sub'.")
        self._user_id_claim = user_id_claim
        if not isinstance(max_token_bytes, int) or not 1024 <= max_token_bytes <= 65536:
            raise ConfigError(f"JwtProvider max_token_bytes must be between 1024 and 65536, got {max_token_bytes!r}.")
        self._max_token_bytes = max_token_bytes
        self.name = name
        self._own_issuer_only = own_issuer_only
        self._options: dict[str, Any] = {"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True}

    @staticmethod
    def _check_hs_keys(keys: Sequence[bytes]) -> tuple[bytes, ...]:
        if isinstance(keys, bytes | str):
            raise ConfigError("JwtProvider hs_keys must be a list of keys (several are accepted for rotation).")
        checked = []
        for number, key in enumerate(keys, 1):
            if not isinstance(key, bytes | bytearray):
                raise ConfigError(f"JwtProvider HS key #{number} must be bytes, got {type(key).__name__}.")
            if len(key) < HS_MIN_KEY_BYTES["HS256"]:
                raise ConfigError(
                    f"JwtProvider HS key #{number} is {len(key)} bytes; HMAC keys need at least 32 random bytes."
                )
            if key.lstrip().startswith((b"-----BEGIN", b"ssh-", b"ecdsa-")):
                raise ConfigError(f"JwtProvider HS key #{number} looks like a public/private key, not an HMAC secret.")
            checked.append(bytes(key))
        return tuple(checked)

    def accepts(self, credentials: Credentials) -> bool:
        """A bearer token shaped like a JWT (three dot-separated parts), not an API key."""
        token = credentials.bearer
        if token is None or token.startswith(API_KEY_PREFIX) or token.count(".") != 2:
            return False
        return not self._own_issuer_only or _unverified_issuer(token, self._max_token_bytes) == self._issuer

    async def authenticate(self, credentials: Credentials) -> Principal:
        token = credentials.bearer
        if token is None:
            raise MissingToken()
        if len(token) > self._max_token_bytes or not token.isascii():
            raise InvalidToken(
                f"The token is larger than {self._max_token_bytes} bytes or not ASCII: send a compact JWT."
            )
        header = _read_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise _malformed("its header has no 'alg'")
        if alg in self._hs_algorithms:
            minimum = HS_MIN_KEY_BYTES[alg]
            hs_keys = self._hs_keys or self._check_hs_keys(list(await self._hs_key_source()))  # type: ignore[misc]
            keys: list[Any] = [key for key in hs_keys if len(key) >= minimum]
            if not keys:
                raise InvalidToken(f"No configured HMAC key is long enough for {alg} (it needs {minimum} bytes).")
        elif alg in self._jwks_algorithms and self._jwks is not None:
            signing_keys = await self._jwks.signing_keys(header.get("kid"))
            keys = [k.key for k in signing_keys if alg in k.algorithms]
            if not keys:
                raise InvalidToken(f"The token's key ('kid') cannot verify {alg} signatures.")
        else:
            accepted = ", ".join(sorted(self._hs_algorithms | self._jwks_algorithms))
            shown = repr(alg) if _PRINTABLE_ALG.fullmatch(alg) else "this algorithm"  # never echo odd input
            raise InvalidToken(f"Tokens signed with {shown} are not accepted here (accepted: {accepted}).")
        claims = self._verify(token, alg, keys)
        return self._principal(claims)

    def _verify(self, token: str, alg: str, keys: list[Any]) -> dict[str, Any]:
        # PyJWT here, not at import: it loads cryptography's key and certificate modules (about 20 ms), which a
        # cold start would pay before its first request; the first token verified pays it instead, once
        import jwt
        from jwt.exceptions import (
            DecodeError,
            ExpiredSignatureError,
            ImmatureSignatureError,
            InvalidAudienceError,
            InvalidIssuerError,
            InvalidSignatureError,
            MissingRequiredClaimError,
            PyJWTError,
        )

        for key in keys:
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    issuer=self._issuer,
                    audience=self._audience,
                    leeway=self._leeway,
                    options=self._options,  # type: ignore[arg-type]
                )
            except InvalidSignatureError:
                continue  # rotation: try the next key
            except ExpiredSignatureError:
                raise ExpiredToken() from None
            except InvalidAudienceError:
                raise WrongAudience() from None
            except MissingRequiredClaimError as error:
                if error.claim == "aud":
                    raise WrongAudience("The token has no audience ('aud'): it must name this server.") from None
                raise InvalidToken(f"The token has no '{error.claim}' claim.") from None
            except InvalidIssuerError:
                raise InvalidToken("The token was issued by an issuer this server does not trust ('iss').") from None
            except ImmatureSignatureError:
                raise InvalidToken(
                    "The token is not valid yet ('nbf' or 'iat' in the future): check the issuer's clock."
                ) from None
            except DecodeError as error:
                raise _malformed(_reason(error)) from None
            except PyJWTError as error:
                raise InvalidToken(f"The token was rejected: {_reason(error)}.") from None
        raise InvalidToken("The token's signature does not verify: it was altered or signed with another key.")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        user_id = claims.get(self._user_id_claim)
        if not isinstance(user_id, str) or not user_id:
            raise InvalidToken(f"The token has no subject: its '{self._user_id_claim}' claim is missing or empty.")
        exp = claims["exp"]
        return Principal(
            user_id=user_id,
            auth_method="jwt",
            scopes=scopes_from_claims(claims),
            client_id=client_id_from_claims(claims),
            claims=claims,
            expires_at=float(exp),
        )


def _unverified_issuer(token: str, max_bytes: int) -> str | None:
    """The ``iss`` a JWT claims, unverified: read only to choose among providers (None if unreadable)."""
    if len(token) > max_bytes:
        return None
    segment = token.split(".")[1]
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


def _read_header(token: str) -> dict[str, Any]:
    """The unverified header, read only to choose the key; PyJWT parses the whole token again."""
    if token.count(".") != 2:
        raise _malformed("a JWT has three dot-separated parts")
    segment = token[: token.index(".")]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):  # binascii.Error, UnicodeDecodeError and JSONDecodeError included
        raise _malformed("its header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise _malformed("its header is not a JSON object")
    if not isinstance(header.get("kid", ""), str):
        raise _malformed("its 'kid' is not a string")
    return header


def _reason(error: Exception) -> str:
    """PyJWT's message, trimmed; it never contains the token itself."""
    text = str(error).split(":", 1)[0] or type(error).__name__
    return text[:120]
