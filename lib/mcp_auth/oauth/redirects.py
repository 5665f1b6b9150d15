"""The answer that sends the browser back to the client's redirect URI with OAuth parameters."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response


def redirect_to_client(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(
        f"{uri}{separator}{urlencode(params)}", status_code=302, headers={"Cache-Control": "no-store"}
    )
