"""The page a person sees when the sign-in at the provider succeeded but this server refuses the account
(another Entra tenant, a personal Google account, not in the GitHub organization, an unverified address
for a domain rule, ...).

Sent straight back to the client as ``error=access_denied``, what the person sees depends on the client,
often nothing useful. So the callback answers with this page (403, the consent page's headers): what
happened and what to do, in the refusal's own words (``SignInRefused``), the account they signed in as
where it is known (display only), and a link that returns to the client's ``redirect_uri`` with
``error=access_denied`` (and ``state``, ``iss``), which ends the client's flow as the redirect did. A
person who cancels at the provider is still sent back at once: there is nothing to explain.

Every value is escaped and bounded. Control and invisible formatting characters (right-to-left overrides
among them) are dropped from what the page quotes, since a refusal may quote claim values; the account and
the app's name are also isolated (``<bdi>``), so they cannot reorder the sentence around them.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping
from typing import Any

from starlette.responses import HTMLResponse, Response

from mcp_auth.oauth.consent_page import ALERT, describe_destination, host_of
from mcp_auth.oauth.redirects import client_url
from mcp_auth.pages import PAGE_HEADERS, html_page
from mcp_auth.presets import SignInRefused

MAX_REASON = 600
MAX_ACCOUNT = 120
MAX_NAME = 80
PROVIDERS = {
    "google": "Google",
    "entra": "Microsoft",
    "github": "GitHub",
    "okta": "Okta",
    "auth0": "Auth0",
    "keycloak": "Keycloak",
}
"""How the page names the sign-in provider, by preset (any other: "the sign-in provider")."""

_BODY = """<p style="font-size: 1.2em">{signed_in}</p>
<p {alert}><strong>Why:</strong> {reason}</p>
<p>{app_capital} gets no access to your account.</p>
<p><a href="{url}" style="display: inline-block; padding: 0.5em 1em; border: 1px solid #444; border-radius: 4px;
text-decoration: none; color: inherit">Return to {app}</a></p>
<p>The link takes you back to {destination}, which is told that the sign-in was refused. To use another
account, start the sign-in again from {app}; if {provider} signs you straight back in with the same account,
sign out of {provider} first. If you should be let in, send the reason above to the administrator of
{server}.</p>
"""


def refusal_response(
    refused: SignInRefused, *, pending: Mapping[str, Any], back: Mapping[str, str], issuer: str, preset: str | None
) -> Response:
    """The refusal page for the authorization request ``pending`` (``back``: its ``state`` and ``iss``)."""
    reason = plain(str(refused), MAX_REASON)
    url = client_url(pending["redirect_uri"], {"error": "access_denied", "error_description": reason, **back})
    page = render_refusal_page(
        reason=reason,
        account=refused.account,
        client_name=pending.get("client_name"),
        redirect_uri=pending["redirect_uri"],
        return_url=url,
        provider=PROVIDERS.get(preset or ""),
        server=host_of(issuer) or issuer,
    )
    return HTMLResponse(page, status_code=403, headers=PAGE_HEADERS)


def render_refusal_page(
    *,
    reason: str,
    account: str | None,
    client_name: str | None,
    redirect_uri: str,
    return_url: str,
    provider: str | None,
    server: str,
) -> str:
    """The refusal page (HTML): ``reason`` says what happened and what to do; ``account`` is who the person
    signed in as (None: not known); ``return_url`` the client's redirect URI with the error."""
    provider = html.escape(provider or "the sign-in provider")
    name = plain(client_name or "", MAX_NAME)
    app = f"&ldquo;<bdi>{html.escape(name)}</bdi>&rdquo;" if name else "the app"
    shown = plain(account or "", MAX_ACCOUNT)
    if shown:
        signed_in = (
            f"You signed in to {provider} as <strong><bdi>{html.escape(shown)}</bdi></strong>, "
            "but this server does not accept that account."
        )
    else:
        signed_in = f"You signed in to {provider}, but this server does not accept that account."
    body = _BODY.format(
        signed_in=signed_in,
        alert=ALERT,
        reason=html.escape(plain(reason, MAX_REASON)),
        app=app,
        app_capital=app if name else "The app",
        url=html.escape(return_url),
        destination=html.escape(describe_destination(redirect_uri)),
        provider=provider,
        server=f"<strong>{html.escape(server)}</strong>",
    )
    return html_page("Sign-in refused", body)


def plain(text: str, limit: int) -> str:
    """``text`` without control and invisible formatting characters, at most ``limit`` characters (cut
    with an ellipsis)."""
    head = text[: limit * 4]  # the work is bounded whatever the length
    kept = "".join(ch for ch in head if unicodedata.category(ch) not in ("Cc", "Cf"))
    if len(kept) > limit or len(head) < len(text):
        return kept[: limit - 1].rstrip() + "…"
    return kept
