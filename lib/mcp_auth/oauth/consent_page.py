"""The consent page's text: who is asking, in words a user can check, and where the answer goes; and the
helpers the authorization server's other pages share (``describe_destination``, ``host_of``: ``refusal.py``);
the page skeleton and headers are ``mcp_auth.pages``.

A client chooses its own ``client_name``, so a name proves nothing: ``https://evil.example/c.json``
can call itself "Claude". What the page puts first is what the client cannot choose:

* a client identified by a metadata document URL: that URL's **host** (shown in ASCII, so a
  look-alike Unicode host shows as ``xn--…``); the name follows, marked as the client's own claim;
* a dynamically registered client: that it is **unverified** (anyone can register any name);
* the host the browser is sent to afterwards, with a visible **warning** when it is not the
  client's own host.

Every value is HTML-escaped, and the name is isolated (``<bdi>``) so right-to-left marks in it
cannot reorder the sentence around it.
"""

from __future__ import annotations

import html
from urllib.parse import SplitResult

from mcp_auth.oauth.clients import is_metadata_url, split_url
from mcp_auth.pages import html_page

_CONSENT = """{who}
<p>It wants to use the tools at <strong>{resource}</strong> as <strong>{user}</strong>.</p>
<p>After you answer, you will be sent to <strong>{destination}</strong>.</p>
{warning}<form method="post" action="{action}">
<input type="hidden" name="approval" value="{approval}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
"""
ALERT = 'role="alert" style="border: 2px solid #b00000; padding: 0.6em; color: #b00000"'
"""The attributes of a paragraph that must not be missed."""
_HOST = '<p style="font-size: 1.3em">An app published at <strong>{host}</strong> asks for access.</p>\n'
_UNVERIFIED = (
    '<p style="font-size: 1.3em">An <strong>unverified app</strong> asks for access.</p>\n'
    "<p>It registered itself with this server, which cannot confirm who runs it. Allow only if you "
    "started this sign-in yourself, from an app you trust.</p>\n"
)
_NAME = "<p>It calls itself &ldquo;<bdi>{name}</bdi>&rdquo; (the app's own claim, not checked).</p>\n"
_WARNING = (
    f"<p {ALERT}>"
    "<strong>Warning:</strong> the answer goes to <strong>{destination}</strong>, not to "
    "<strong>{host}</strong>, where this app is published. Allow only if you expected that.</p>\n"
)


def render_consent_page(
    *,
    client_id: str,
    client_name: str | None,
    redirect_uri: str,
    resource: str,
    user: str,
    action: str,
    approval: str,
) -> str:
    """The consent page (HTML) for one pending authorization request."""
    name = _NAME.format(name=html.escape(client_name)) if client_name else ""
    client_host = host_of(client_id) if is_metadata_url(client_id) else None
    destination_host = host_of(redirect_uri)
    destination = describe_destination(redirect_uri)
    warning = ""
    if client_host is not None:
        who = _HOST.format(host=html.escape(client_host)) + name
        if destination_host is None or destination_host.lower() != client_host.lower():
            warning = _WARNING.format(destination=html.escape(destination), host=html.escape(client_host))
    else:
        who = _UNVERIFIED + name
    body = _CONSENT.format(
        who=who,
        resource=html.escape(resource),
        user=html.escape(user),
        destination=html.escape(destination),
        warning=warning,
        action=html.escape(action),
        approval=html.escape(approval),
    )
    return html_page("Allow access?", body)


def _parts(url: str) -> SplitResult | None:
    try:
        return split_url(url)
    except ValueError:
        return None


def host_of(url: str) -> str | None:
    """``host[:port]`` of ``url`` in ASCII (IDNA), None when it has no host."""
    parts = _parts(url)
    if parts is None or not parts.hostname:
        return None
    host = parts.hostname
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = ascii(host).strip("'")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def describe_destination(redirect_uri: str) -> str:
    """Where a browser sent to ``redirect_uri`` ends, in words: a host, an app on this computer, or the app
    that handles a private-use scheme."""
    host = host_of(redirect_uri)
    if host is None:
        parts = _parts(redirect_uri)
        scheme = parts.scheme if parts is not None and parts.scheme else redirect_uri[:60]
        return f"the app that handles {scheme}: links on this device"
    if _is_loopback(host):
        return f"an app on this computer ({host})"
    return host


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1 : host.index("]")]
    return name in ("localhost", "127.0.0.1", "::1") or name.startswith("127.")
