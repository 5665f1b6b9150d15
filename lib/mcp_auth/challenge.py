"""Turn framework errors into HTTP answers (RFC 6750 challenges for auth errors)."""

from __future__ import annotations

import json

from starlette.responses import Response

from mcp_auth.errors import AuthError, InsufficientScope, McpAuthError, UpstreamError

_NO_STORE = {"Cache-Control": "no-store"}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def www_authenticate(error: AuthError, *, resource_metadata: str, scopes: tuple[str, ...] = ()) -> str:
    params = [f"resource_metadata={_quote(resource_metadata)}"]
    scope = " ".join(error.required) if isinstance(error, InsufficientScope) else " ".join(scopes)
    if scope:
        params.append(f"scope={_quote(scope)}")
    if error.error:
        params.append(f"error={_quote(error.error)}")
        params.append(f"error_description={_quote(_header_safe(error.message))}")
    return "Bearer " + ", ".join(params)


def _header_safe(text: str) -> str:
    # RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


def error_response(error: McpAuthError, *, resource_metadata: str, scopes: tuple[str, ...] = ()) -> Response:
    headers = dict(_NO_STORE)
    code = getattr(error, "error", None) or _code(error)
    body: dict[str, object] = {"error": code, "error_description": error.message}
    if isinstance(error, AuthError):
        headers["WWW-Authenticate"] = www_authenticate(error, resource_metadata=resource_metadata, scopes=scopes)
        if error.error is None:
            body["error"] = "unauthorized"
    if isinstance(error, UpstreamError):
        headers["Retry-After"] = str(error.retry_after)
    return Response(json.dumps(body), status_code=error.status, headers=headers, media_type="application/json")


def error_code(error: McpAuthError) -> str:
    """A stable snake_case reason for logs and metrics (``expired_token``, ``disabled_user``, …)."""
    return _code(error)


def _code(error: McpAuthError) -> str:
    name = type(error).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def plain_error(status: int, code: str, description: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"error": code, "error_description": description})
    return Response(body, status_code=status, headers={**_NO_STORE, **(headers or {})}, media_type="application/json")
