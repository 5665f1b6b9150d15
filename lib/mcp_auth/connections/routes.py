"""The connect pages, two exact paths per provider, served by the function itself.

    GET  /connect/{p}?link=…            verify the link (not yet used); set a confirmation cookie;
                                        a page naming the user the account will be connected to
    POST /connect/{p}  link, confirm    the page's form: the cookie must match ``confirm``; use the link
                                        once, keeping beside it the sealed PKCE verifier and the hash of
                                        a browser binding; set the binding cookie; 303 to the provider
    GET  /connect/{p}/callback?code&state   verify the signed state; the binding cookie must match the
                                        record; finish the record once; exchange the code with the
                                        verifier; seal the tokens in the vault; "you can return to your client"

Why the confirmation: a link forwarded to someone else would otherwise connect *their* account to the
sender's user in one click; the page names the user, and only a form posted from it (same origin,
with the cookie it set: double submit, ``SameSite=Strict``) goes on. Why the binding: an authorize URL
(with its state) sent to someone else must not finish in their browser; the callback needs the cookie
set in the browser that pressed Continue (``SameSite=Lax``, so it comes back with the provider's redirect).
No link, state, code, verifier or token reaches a log line or a page; failures are HTML pages that say
what to do, with the status of the failure (400 refused, 429 too many, 502 the provider failed, 503 Firestore).

Every request to these pages comes without a credential, so each one spends the client address's
allowance of the deployment's ``ip`` limit (``MCP_AUTH_RATE_LIMIT_IP``, the same windows the MCP endpoint's
failed authentications spend), counted by the one rate limiter (``ratelimit/``: shared Firestore windows,
a bounded LRU of keys per instance) under the address key (``proxies.address_key``: an IPv6 client's /64).
A used-up allowance is a 429 page with ``Retry-After``, before any link is read.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_auth.connections.links import ConnectLinks, LinkClaims, LinkRefused
from mcp_auth.connections.oauth2 import GrantRejected, ProviderClient
from mcp_auth.connections.pages import PAGE_HEADERS, render_confirm_page, render_message_page
from mcp_auth.connections.sealing import Sealer, Unsealable
from mcp_auth.errors import CredentialUnavailable, McpAuthError, UpstreamError
from mcp_auth.proxies import address_key, client_origin
from mcp_auth.store.connections import link_digest

if TYPE_CHECKING:
    from mcp_auth.connections.vault import TokenVault
    from mcp_auth.ratelimit import RateLimiter
    from mcp_auth.rates import Rate

logger = logging.getLogger("mcp_auth.connections")

FORM_BYTES = 4 * 1024
"""The confirmation form: a link (at most 1 KiB) and a 43-character token, with room for encoding."""
MAX_QUERY_CHARS = 4 * 1024
CONFIRM_COOKIE = "mcp_connect_confirm"
_CODE = re.compile(r"[\x21-\x7e]{1,2048}")
_ERROR = re.compile(r"[a-z_]{1,64}")
Handler = Callable[[Request], Awaitable[Response]]
Admission = Callable[[Request], Awaitable[Response | None]]
LIMIT_KIND = "ip"
"""The limiter's kind the connect pages count under: the deployment's per-address limit."""


class _Refused(Exception):
    """A page-level refusal: the status, an error code for the log line, and what the person should do."""

    def __init__(self, status: int, code: str, *paragraphs: str) -> None:
        super().__init__(code)
        self.status, self.code, self.paragraphs = status, code, paragraphs


class ConnectRoutes:
    """``/connect/{p}`` and ``/connect/{p}/callback`` for every provider of the vault."""

    def __init__(
        self,
        *,
        vault: TokenVault,
        links: ConnectLinks,
        sealer: Sealer,
        base_url: str,
        resource: str,
        ttl: int = 600,
        clock: Callable[[], float] = time.time,
        limiter: RateLimiter | None = None,
        rate: Rate | None = None,
    ) -> None:
        """``limiter`` and ``rate``: every request spends one unit of the client address's window (none: unlimited)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"base_url must be an origin (https://host), got {base_url[:100]!r}")
        self._vault = vault
        self._links = links
        self._sealer = sealer
        self._base = base_url.rstrip("/")
        self._secure = parts.scheme == "https"
        self._resource = resource
        self._ttl = ttl
        self._clock = clock
        self._limiter = limiter
        self._rate = rate

    def __repr__(self) -> str:
        return f"ConnectRoutes(providers={sorted(self._vault.providers)})"

    @property
    def routes(self) -> dict[str, ASGIApp]:
        table: dict[str, ASGIApp] = {}
        for name, client in self._vault.providers.items():
            table[f"/connect/{name}"] = _Page(
                functools.partial(self._start, client=client),
                {"GET", "HEAD", "POST"},
                max_body_bytes=FORM_BYTES,
                admit=self._admit,
            )
            table[f"/connect/{name}/callback"] = _Page(
                functools.partial(self._callback, client=client), {"GET", "HEAD"}, max_body_bytes=0, admit=self._admit
            )
        return table

    def callback_url(self, provider: str) -> str:
        """The redirect URI to register at the provider (the OAuth app's callback URL)."""
        return f"{self._base}/connect/{provider}/callback"

    async def _admit(self, request: Request) -> Response | None:
        """None if the client address may make one more request to the connect pages, else the 429 page."""
        if self._limiter is None or self._rate is None:
            return None
        decision = await self._limiter.check(LIMIT_KIND, _address(request), self._rate)
        if decision.allowed:
            return None
        refused = _Refused(
            429,
            "too_many_requests",
            f"Too many requests from your network address (at most {decision.limit} in {self._rate.period} s).",
            f"Wait {decision.retry_after} s, then open the connect link from your client again.",
        )
        response = _refusal(refused)
        response.headers["Retry-After"] = str(decision.retry_after)
        return response

    # -- /connect/{p} -------------------------------------------------------------------

    async def _start(self, request: Request, client: ProviderClient) -> Response:
        if request.method == "POST":
            return await self._confirmed(request, client)
        link = _one(_query(request), "link")
        claims = await self._links.verify(link, provider=client.provider.name)
        await self._links.refuse_used(claims)
        confirm = secrets.token_urlsafe(32)
        page = render_confirm_page(
            provider=client.provider.label,
            user=claims.uid,
            resource=self._resource,
            action=f"{self._base}/connect/{client.provider.name}",
            link=link or "",
            confirm=confirm,
        )
        response = HTMLResponse(page, headers=PAGE_HEADERS)
        self._cookie(response, CONFIRM_COOKIE, confirm, path=f"/connect/{client.provider.name}", same_site="strict")
        return response

    async def _confirmed(self, request: Request, client: ProviderClient) -> Response:
        provider = client.provider
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise _Refused(415, "unsupported_media_type", "Answer this page with its own button.")
        form = _form(await request.body())
        expected = request.cookies.get(CONFIRM_COOKIE, "")
        if not expected or not _same(expected, _one(form, "confirm") or ""):
            raise _Refused(
                400,
                "unconfirmed",
                "This page was not opened in this browser, or it was opened again elsewhere.",
                "Open the connect link your client showed you again, and press the button on the page it opens.",
            )
        claims = await self._links.verify(_one(form, "link"), provider=provider.name)
        verifier = secrets.token_urlsafe(48) if provider.pkce else None
        binding = secrets.token_urlsafe(32)
        sealed = await self._sealer.seal(verifier.encode(), context=_context(claims)) if verifier else None
        await self._links.consume(claims, {"call_id": claims.call_id, "verifier": sealed, "browser": _digest(binding)})
        params = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": self.callback_url(provider.name),
            "state": await self._links.state(claims),
        }
        if provider.scopes:
            params["scope"] = " ".join(provider.scopes)
        if verifier:
            params |= {"code_challenge": _challenge(verifier), "code_challenge_method": "S256"}
        separator = "&" if urlsplit(provider.authorize_url).query else "?"
        response = RedirectResponse(f"{provider.authorize_url}{separator}{urlencode(params)}", status_code=303)
        response.headers.update(PAGE_HEADERS)
        self._cookie(response, _binding_cookie(provider.name), binding, path=f"/connect/{provider.name}/callback")
        response.delete_cookie(CONFIRM_COOKIE, path=f"/connect/{provider.name}")
        return response

    # -- /connect/{p}/callback ----------------------------------------------------------

    async def _callback(self, request: Request, client: ProviderClient) -> Response:
        provider = client.provider
        query = _query(request)
        claims = await self._links.verify_state(_one(query, "state"), provider=provider.name)
        record = await self._links.pending(claims)
        binding = request.cookies.get(_binding_cookie(provider.name), "")
        if not binding or not _same(_digest(binding), str(record.data.get("browser") or "")):
            raise _Refused(
                400,
                "other_browser",
                f"This {provider.label} sign-in was started in another browser (or a newer one replaced it here).",
                "Finish it in the browser where you pressed Continue, or call the tool again for a new link.",
            )
        error, code = _one(query, "error"), _one(query, "code")
        if error is not None:
            await self._links.finish(claims, record, {"verifier": None})
            shown = error if _ERROR.fullmatch(error) else "an error"
            logger.info("A %s connection was not made: the provider answered %s", provider.name, shown)
            return self._page(
                200,
                f"{provider.label} was not connected",
                f"{provider.label} answered {shown}: nothing was connected.",
                "You can close this page. Call the tool again when you want to connect.",
                clear=provider.name,
            )
        if code is None or not _CODE.fullmatch(code):
            raise _Refused(400, "invalid_code", f"{provider.label} sent you back without a usable code: start again.")
        verifier = await self._verifier(claims, record.data.get("verifier"))
        await self._links.finish(claims, record, {"verifier": None})
        try:
            tokens = await client.exchange(code, redirect_uri=self.callback_url(provider.name), verifier=verifier)
        except GrantRejected:
            raise _Refused(
                400, "grant_rejected", f"{provider.label} did not accept this sign-in: call the tool again."
            ) from None
        await self._vault.store(claims.uid, provider.name, tokens)
        logger.info("A user connected %s", provider.name)
        return self._page(
            200,
            f"{provider.label} is connected",
            f"Your {provider.label} account is now connected for {claims.uid}.",
            "You can close this page and return to your client.",
            clear=provider.name,
        )

    async def _verifier(self, claims: LinkClaims, sealed: object) -> str | None:
        if sealed is None:
            return None
        try:
            return (await self._sealer.open(str(sealed), context=_context(claims))).decode()
        except (Unsealable, UnicodeDecodeError):
            raise _Refused(
                400, "unreadable_verifier", "This sign-in cannot be finished: call the tool again."
            ) from None

    # -- inside -------------------------------------------------------------------------

    def _page(self, status: int, title: str, *paragraphs: str, clear: str | None = None) -> Response:
        response = HTMLResponse(render_message_page(title, *paragraphs), status_code=status, headers=PAGE_HEADERS)
        if clear is not None:
            response.delete_cookie(_binding_cookie(clear), path=f"/connect/{clear}/callback")
        return response

    def _cookie(self, response: Response, name: str, value: str, *, path: str, same_site: str = "lax") -> None:
        response.set_cookie(
            name,
            value,
            max_age=self._ttl,
            path=path,
            secure=self._secure,
            httponly=True,
            samesite=same_site,  # type: ignore[arg-type]
        )


class _Page:
    """One connect route as plain ASGI: its methods, its body cap (``max_body_bytes``, enforced by the edge
    before this runs), and every refusal as a page that says what to do, never a 500."""

    def __init__(
        self, handler: Handler, methods: set[str], *, max_body_bytes: int, admit: Admission | None = None
    ) -> None:
        self._handler, self._methods, self._admit = handler, methods, admit
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        refused = await self._admit(request) if self._admit is not None else None  # the address's allowance
        response = refused or await self._answer(request)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        if request.method not in self._methods:
            allow = ", ".join(sorted(self._methods))
            response = _refusal(_Refused(405, "method_not_allowed", f"This page answers {allow} only."))
            response.headers["Allow"] = allow
            return response
        try:
            return await self._handler(request)
        except _Refused as exc:
            return _refusal(exc)
        except LinkRefused as exc:
            return _refusal(_Refused(exc.status, exc.error, exc.message))
        except GrantRejected:
            return _refusal(_Refused(400, "grant_rejected", "The provider refused this sign-in: start again."))
        except CredentialUnavailable as exc:  # the provider could not be reached or issued nothing usable
            return _refusal(_Refused(502, "provider_failed", exc.message, "Call the tool again in a moment."))
        except UpstreamError as exc:  # Firestore or Secret Manager cannot answer now
            response = _refusal(_Refused(503, "unavailable", exc.message, "Try again in a moment."))
            response.headers["Retry-After"] = "5"
            return response
        except McpAuthError as exc:
            return _refusal(_Refused(exc.status, "refused", exc.message))


def _refusal(refused: _Refused) -> Response:
    logger.info("Connect page refused: %s (HTTP %d)", refused.code, refused.status)
    titles = {405: "Not here", 415: "Not here", 429: "Too many requests", 502: "Try again", 503: "Try again"}
    page = render_message_page(titles.get(refused.status, "This did not work"), *refused.paragraphs)
    return HTMLResponse(page, status_code=refused.status, headers=PAGE_HEADERS)


def _address(request: Request) -> str:
    """The client's address key as the edge resolved it (trusting only configured load balancers)."""
    from mcp_auth.observe import record_of

    record = record_of(request.scope)
    ip = record.remote_ip if record is not None else client_origin(request.scope, request.headers).ip
    return address_key(ip)


def _query(request: Request) -> Mapping[str, list[str]]:
    raw = request.scope.get("query_string", b"")
    if len(raw) > MAX_QUERY_CHARS:
        raise _Refused(400, "oversized_query", "This address is too long to be a connect page's: start again.")
    try:
        return parse_qs(raw.decode("latin-1"), max_num_fields=16)
    except ValueError:
        raise _Refused(400, "malformed_query", "This address is not a connect page's: start again.") from None


def _form(body: bytes) -> Mapping[str, list[str]]:
    try:
        return parse_qs(body.decode("utf-8"), max_num_fields=8, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "malformed_form", "Answer this page with its own button.") from None


def _one(values: Mapping[str, list[str]], name: str) -> str | None:
    """The single value of ``name``; a repeated parameter is refused (no guessing which one counts)."""
    found = values.get(name)
    if not found:
        return None
    if len(found) > 1:
        raise _Refused(400, "repeated_parameter", f"The parameter {name} appears more than once: start again.")
    return found[0]


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _context(claims: LinkClaims) -> str:
    return f"users/{claims.uid}/connect_links/{link_digest(claims.nonce)}"


def _binding_cookie(provider: str) -> str:
    return f"mcp_connect_{provider}"
