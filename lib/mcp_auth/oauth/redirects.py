"""The answer that sends the browser back to the client's redirect URI with OAuth parameters."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response


def client_url(uri: str, params: dict[str, str]) -> str:
    """``uri`` (a redirect URI registered for the client) with the OAuth ``params`` added to its query."""
    separator = "&" if "?" in uri else "?"
    return f"{uri}{separator}{urlencode(params)}"


def redirect_to_client(uri: str, params: dict[str, str]) -> Response:
    return RedirectResponse(client_url(uri, params), status_code=302, headers={"Cache-Control": "no-store"})
