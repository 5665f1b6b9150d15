"""Entra ID groups overage: the account's groups asked of Microsoft Graph when the ID token cannot hold them.

An ID token lists at most 200 groups. For an account in more, Entra leaves ``groups`` out and says so: the
token carries ``_claim_names: {"groups": "src1"}`` with ``_claim_sources`` (or, from some flows, ``hasgroups:
true``). The account's groups must then be read from Microsoft Graph with the access token Entra issued with
the ID token (delegated ``User.Read``, which the entra preset asks for)::

    GET {graph}/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999   (paged: @odata.nextLink)

``member_groups`` does so at sign-in and at each refresh's re-check (``upstream.Upstream``), so a person
removed from a mapped group loses its toolsets by the next refresh as with groups in the token. The group
object ids it returns are what the ``groups`` claim would have held (direct and nested security groups).

Bounded: at most ``MAX_PAGES`` pages of at most ``MAX_ANSWER`` bytes, each a JSON list of objects with a
GUID ``id``; more than ``presets.MAX_GROUPS`` groups is refused as a token with that many would be (assign
only the groups the app needs: *Token configuration → groups assigned to the application*, which also
avoids the overage). A next page is followed only on the same Graph origin. Graph refusing the token (401)
refuses the sign-in; Graph refusing the app (403: the permission not granted), unreachable, rate-limiting
or failing (429, 5xx) is ``GraphUnavailable`` (an ``UpstreamError``): the sign-in is not decided (a refresh
answers 503 and its refresh token stays valid).

The Graph base URL is ``GRAPH``; tests pass a loopback stand-in's to ``Upstream`` (no setting changes it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from mcp_auth import bounded_json
from mcp_auth.errors import UpstreamError
from mcp_auth.presets import MAX_GROUPS, SignInRefused

GRAPH = "https://graph.microsoft.com"
MAX_PAGES = 3
MAX_ANSWER = 512 * 1024
PATH = "/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999"


class GraphUnavailable(UpstreamError):
    """Graph cannot answer now, or refuses this deployment's app: nothing is decided about the account.
    ``grant``: at a refresh, what to keep of the provider's answer (its rotated refresh token) all the same."""

    grant: dict[str, Any] | None = None


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def overage(claims: Mapping[str, Any]) -> bool:
    """Whether the ID token ``claims`` say the account's groups were left out (too many to send)."""
    if "groups" in claims:
        return False
    names = claims.get("_claim_names")
    return claims.get("hasgroups") is True or (isinstance(names, dict) and "groups" in names)


async def member_groups(
    http: Callable[[], httpx.AsyncClient], graph: str, access_token: Any, *, account: str | None = None
) -> list[str]:
    """The object ids of the groups the account of ``access_token`` is a member of (directly or nested);
    ``account`` names it on a refusal (display only)."""
    try:
        return await _member_groups(http, graph, access_token)
    except SignInRefused as exc:
        raise SignInRefused(str(exc), account=account) from None


async def _member_groups(http: Callable[[], httpx.AsyncClient], graph: str, access_token: Any) -> list[str]:
    if not isinstance(access_token, str) or not 0 < len(access_token) <= 16_384:
        raise SignInRefused(
            "Your account is in too many groups for Microsoft to list them in the sign-in, and Microsoft gave no "
            "access token to read them with: ask your administrator to check the app registration."
        )
    graph = graph.rstrip("/")
    origin = _origin(graph)
    url: str | None = f"{graph}{PATH}"
    groups: set[str] = set()
    for _ in range(MAX_PAGES):
        if url is None:
            break
        page = await _read(http, url, access_token)
        values, following = page.get("value"), page.get("@odata.nextLink")
        if not isinstance(values, list) or len(values) > 999:
            raise _malformed()
        for item in values:
            group = item.get("id") if isinstance(item, dict) else None
            if not isinstance(group, str) or not _GUID.fullmatch(group):
                raise _malformed()
            groups.add(group.lower())
        if len(groups) > MAX_GROUPS:
            raise _too_many(len(groups))
        if following is not None and (not isinstance(following, str) or _origin(following) != origin):
            raise _malformed()
        url = following
    else:
        if url is not None:  # more pages than a list of MAX_GROUPS needs
            raise _malformed()
    return sorted(groups)


async def _read(http: Callable[[], httpx.AsyncClient], url: str, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        async with http().stream("GET", url, headers=headers, timeout=10.0, follow_redirects=False) as response:
            status = response.status_code
            if status == 401:
                raise SignInRefused(
                    "Microsoft Graph did not accept this sign-in's access token to list your groups: sign in again."
                )
            if status == 403:
                raise GraphUnavailable(
                    "Microsoft Graph refused to list the account's groups (HTTP 403): grant the app registration "
                    "the delegated Microsoft Graph permission User.Read (with admin consent)."
                )
            if status == 429 or status >= 500:
                raise GraphUnavailable(f"Microsoft Graph answered HTTP {status} listing the groups: retry.")
            if status != 200:
                raise SignInRefused(f"Microsoft Graph answered HTTP {status} listing your groups: try again later.")
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER:
                    raise _malformed()
    except httpx.HTTPError as exc:
        raise GraphUnavailable(f"Microsoft Graph could not be reached ({type(exc).__name__}): retry.") from exc
    try:
        document = bounded_json.loads(body)
    except ValueError:
        raise _malformed() from None
    if not isinstance(document, dict):
        raise _malformed()
    return document


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _malformed() -> SignInRefused:
    return SignInRefused(
        "Microsoft Graph's list of your groups is malformed or too large: the sign-in is refused; try again later."
    )


def _too_many(count: int) -> SignInRefused:
    return SignInRefused(
        f"Your account is in {count} or more groups, more than {MAX_GROUPS}: ask your administrator to send "
        "only the groups assigned to this application (Entra: Token configuration, groups assigned to the "
        "application)."
    )
