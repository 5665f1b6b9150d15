"""Who may ask for tokens: redirect-URI rules, dynamic registration (RFC 7591) and
Client ID Metadata Documents (a client id that is an https URL of its metadata).

Every client is public (PKCE, no secret). A metadata document is fetched with
strict limits: https only, no redirects, a size cap, a deadline, and never from a
private, loopback or link-local address (``allow_loopback`` lets tests serve
documents from loopback over plain http; the settings refuse it on Cloud Run).
Documents that validated are kept briefly per process (``MetadataDocuments``).

Every URL here comes from a client: a malformed one (a bad IPv6 literal, a port
out of range) is a ``ClientError`` naming it, never an exception from ``urlsplit``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
from cachetools import TTLCache

from mcp_auth import bounded_json

MAX_DOCUMENT_BYTES = 5 * 1024
FETCH_TIMEOUT = 3.0
MAX_REDIRECT_URIS = 10
DOCUMENT_CACHE_SECONDS = 60.0
DOCUMENT_CACHE_ENTRIES = 256
_ALLOWED_GRANTS = {"authorization_code", "refresh_token"}
_REGISTERED_ID = re.compile(r"mcp-[A-Za-z0-9_-]{24}")


class ClientError(Exception):
    """A client or redirect URI that cannot be used; ``error`` is the OAuth error code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_name: str | None = None


def _loopback_host(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def split_url(url: str) -> SplitResult:
    """``urlsplit`` with the checks it leaves for later: raises ``ValueError`` for a malformed IPv6
    literal (at once) or a port that is not a number from 1 to 65535 (``urlsplit`` only raises when
    ``.port`` is read, and reads ``:0`` as no port at all)."""
    parts = urlsplit(url)
    if parts.port == 0:
        raise ValueError("Port out of range 1-65535")
    return parts


def check_redirect_uri(uri: Any) -> str:
    """https anywhere, http only on loopback (RFC 8252), or an app's private-use scheme; never a fragment."""
    if not isinstance(uri, str) or len(uri) > 2000:
        raise ClientError("invalid_redirect_uri", "Each redirect URI must be a string of at most 2000 characters.")
    try:
        parts = split_url(uri)
    except ValueError as exc:
        raise ClientError("invalid_redirect_uri", f"Redirect URI {uri!r} is not a valid URL ({exc}).") from None
    if parts.fragment or "#" in uri:
        raise ClientError("invalid_redirect_uri", f"Redirect URIs must not have a fragment: {uri!r}.")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and _loopback_host(parts.hostname):
        return uri
    if "." in parts.scheme and parts.scheme not in ("http", "https") and parts.path:  # com.example.app:/callback
        return uri
    raise ClientError(
        "invalid_redirect_uri",
        f"Redirect URI {uri!r} is not allowed: use https, http on a loopback address, or a reverse-DNS app scheme.",
    )


def client_from_metadata(metadata: Any, *, client_id: str) -> Client:
    if not isinstance(metadata, dict):
        raise ClientError("invalid_client_metadata", "The client metadata must be a JSON object.")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
        raise ClientError("invalid_redirect_uri", f"redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs.")
    grants = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grants, list) or not all(isinstance(g, str) and g in _ALLOWED_GRANTS for g in grants):
        raise ClientError("invalid_client_metadata", "grant_types may only be authorization_code and refresh_token.")
    if metadata.get("response_types", ["code"]) != ["code"]:
        raise ClientError("invalid_client_metadata", "response_types must be ['code'].")
    name = metadata.get("client_name")
    return Client(
        client_id=client_id,
        redirect_uris=tuple(check_redirect_uri(u) for u in uris),
        client_name=name[:200] if isinstance(name, str) else None,
    )


def register(metadata: Any) -> tuple[Client, dict[str, Any]]:
    """Validate an RFC 7591 request; the client is public whatever auth method it asked for."""
    client = client_from_metadata(metadata, client_id=f"mcp-{secrets.token_urlsafe(18)}")
    stored = {
        "client_id": client.client_id,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",  # nosec B105 - 'none' is the RFC 7591 token_endpoint_auth_method value
    }
    if client.client_name:
        stored["client_name"] = client.client_name
    return client, stored


def is_metadata_url(client_id: str) -> bool:
    """An https URL with a host and a path (its port and the rest are checked when it is fetched)."""
    try:
        parts = urlsplit(client_id)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")


def is_registered_id(client_id: str) -> bool:
    """The shape of the ids ``register`` issues; nothing else can name a registered client."""
    return _REGISTERED_ID.fullmatch(client_id) is not None


async def _vetted_address(host: str, port: int, *, allow_loopback: bool) -> str:
    """Resolve ``host``; refuse it if any address is not public. Returns the address to connect to,
    so a second DNS answer (rebinding) cannot redirect the fetch."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise ClientError("invalid_client", f"The client's host {host!r} does not resolve.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if allow_loopback and address.is_loopback:
            continue
        if not address.is_global:
            raise ClientError(
                "invalid_client", "The client metadata document is on a private or reserved address; refused."
            )
    if not infos:
        raise ClientError("invalid_client", f"The client's host {host!r} does not resolve.")
    return str(infos[0][4][0])


async def fetch_metadata_document(
    client_id: str,
    *,
    http: httpx.AsyncClient,
    allow_loopback: bool = False,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    deadline: float = FETCH_TIMEOUT,
) -> Client:
    """Fetch and validate the Client ID Metadata Document at ``client_id``."""
    if len(client_id) > 2000 or not is_metadata_url(client_id):
        raise ClientError("invalid_client", "A URL client id must be an https URL with a path.")
    try:
        parts = split_url(client_id)
    except ValueError as exc:
        raise ClientError("invalid_client", f"The client_id is not a valid URL ({exc}).") from None
    if parts.username or parts.password or parts.fragment:
        raise ClientError("invalid_client", "A URL client id must not carry credentials or a fragment.")
    host, port = parts.hostname or "", parts.port or 443
    address = await _vetted_address(host, port, allow_loopback=allow_loopback)
    literal = f"[{address}]" if ":" in address else address
    scheme = "http" if allow_loopback and _loopback_host(host) else "https"  # tests serve loopback without TLS
    url = f"{scheme}://{literal}:{port}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    headers = {"Accept": "application/json", "Host": parts.netloc}
    try:
        async with asyncio.timeout(deadline):
            async with http.stream(
                "GET", url, follow_redirects=False, headers=headers, extensions={"sni_hostname": host}
            ) as r:
                if r.status_code != 200:
                    raise ClientError("invalid_client", f"The client metadata document answered HTTP {r.status_code}.")
                body = b""
                async for chunk in r.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise ClientError(
                            "invalid_client", f"The client metadata document is larger than {max_bytes} bytes."
                        )
    except TimeoutError:
        raise ClientError("invalid_client", "The client metadata document took too long to fetch.") from None
    except httpx.HTTPError as exc:
        raise ClientError(
            "invalid_client", f"The client metadata document could not be fetched ({type(exc).__name__})."
        ) from None
    try:
        document = bounded_json.loads(body)
    except bounded_json.JsonTooDeep as exc:
        raise ClientError("invalid_client", f"The client metadata document is refused: {exc}") from None
    except ValueError:
        raise ClientError("invalid_client", "The client metadata document is not JSON.") from None
    if not isinstance(document, dict) or document.get("client_id") != client_id:
        raise ClientError("invalid_client", "The client metadata document's client_id is not its own URL.")
    if document.get("token_endpoint_auth_method", "none") != "none":
        raise ClientError("invalid_client", "Only public clients (token_endpoint_auth_method 'none') are supported.")
    return client_from_metadata(document, client_id=client_id)


class MetadataDocuments:
    """Client metadata documents that validated, kept ``ttl`` seconds per URL (at most ``max_entries``),
    so a client's repeated sign-ins cost one fetch a minute. Failures are never kept: a client that
    fixes its document is seen at once. Per process; ``timer`` is the clock (tests pass their own)."""

    def __init__(
        self,
        *,
        ttl: float = DOCUMENT_CACHE_SECONDS,
        max_entries: int = DOCUMENT_CACHE_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients: TTLCache[str, Client] = TTLCache(maxsize=max_entries, ttl=ttl, timer=timer)

    async def client(self, client_id: str, *, http: httpx.AsyncClient, allow_loopback: bool = False) -> Client:
        cached = self._clients.get(client_id)
        if cached is not None:
            return cached
        client = await fetch_metadata_document(client_id, http=http, allow_loopback=allow_loopback)
        self._clients[client_id] = client
        return client
