"""``POST /api/webhooks/credential-updated``: the platform says a user's credential changed.

    method POST, Content-Type application/json, body <= 16 KiB          405 / 415 / 413
    X-Webhook-Timestamp within 5 minutes of now                          401 missing_signature / stale_timestamp
    X-Webhook-Signature v1=HMAC-SHA256(key, "{timestamp}.{body}")       401 invalid_signature
    body {"event_id", "user_id", "provider"}                             400 malformed_body
    -> bump users/{uid}/credential_versions/{provider} (once per event)  200 {"status": "invalidated"|"duplicate"}

The signature is checked before the body is parsed. Rejections are logged with
their reason and the caller's address, never with the signature or the body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from mcp_auth import bounded_json
from mcp_auth.credentials import signature
from mcp_auth.credentials.model import validate_provider
from mcp_auth.errors import McpAuthError
from mcp_auth.store.credential_versions import CredentialVersions
from mcp_auth.store.users import validate_uid

logger = logging.getLogger("mcp_auth.credentials.webhook")

PATH = "/api/webhooks/credential-updated"
MAX_BODY_BYTES = 16 * 1024
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

KeySource = Callable[[], Awaitable[Sequence[bytes]]]


class _Rejected(Exception):
    def __init__(self, status: int, code: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.description, self.headers = status, code, description, headers or {}


class CredentialWebhook:
    """ASGI app: verifies a signed credential-updated event and invalidates the credential everywhere.

    The edge caps the body at ``max_body_bytes`` before this app reads it (``mcp_auth.edge``)."""

    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        *,
        keys: KeySource,
        versions: CredentialVersions,
        on_invalidate: Callable[[str, str], None] | None = None,
        replay_window: int = signature.REPLAY_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._versions = versions
        self._on_invalidate = on_invalidate
        self._window = replay_window
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            body = await self._verified_body(request)
            user_id, provider, event_id = _event(body)
            try:
                fresh = await self._versions.bump(user_id, provider, event_id=event_id)
            except McpAuthError as exc:
                logger.error("Credential webhook could not record the change: %s", exc.message)
                raise _Rejected(
                    503, "unavailable", "The change could not be recorded; retry later.", {"Retry-After": "5"}
                ) from None
        except _Rejected as rejected:
            if rejected.status < 500:
                logger.warning(
                    "Rejected a credential webhook call from %s: %s (%s)",
                    _client(request),
                    rejected.code,
                    rejected.description,
                )
            response = JSONResponse(
                {"error": rejected.code, "error_description": rejected.description},
                status_code=rejected.status,
                headers={"Cache-Control": "no-store", **rejected.headers},
            )
            await response(scope, receive, send)
            return
        if self._on_invalidate is not None:
            self._on_invalidate(user_id, provider)
        status = "invalidated" if fresh else "duplicate"
        logger.info("Credential webhook: %s credential of user %s (event %s) %s", provider, user_id, event_id, status)
        await JSONResponse({"status": status}, headers={"Cache-Control": "no-store"})(scope, receive, send)

    async def _verified_body(self, request: Request) -> bytes:
        if request.method != "POST":
            raise _Rejected(405, "method_not_allowed", "This endpoint accepts POST only.", {"Allow": "POST"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Rejected(415, "unsupported_media_type", "Send the event as application/json.")
        timestamps = request.headers.getlist(signature.TIMESTAMP_HEADER)
        signatures = request.headers.getlist(signature.SIGNATURE_HEADER)
        if not timestamps or not signatures:
            raise _Rejected(
                401,
                "missing_signature",
                f"Sign the request: send {signature.TIMESTAMP_HEADER} and {signature.SIGNATURE_HEADER}.",
            )
        if len(timestamps) > 1 or len(signatures) > 1:
            raise _Rejected(400, "malformed_signature", "Send each signature header exactly once.")
        raw_ts = timestamps[0].strip()
        if not raw_ts.isdigit() or len(raw_ts) > 12:
            raise _Rejected(400, "malformed_signature", f"{signature.TIMESTAMP_HEADER} must be Unix seconds.")
        timestamp = int(raw_ts)
        if abs(self._clock() - timestamp) > self._window:
            raise _Rejected(
                401,
                "stale_timestamp",
                f"The timestamp is more than {self._window} s from the server's clock; sign it anew.",
            )
        digests = signature.parse_signatures(signatures[0])
        if digests is None:
            raise _Rejected(
                400,
                "malformed_signature",
                f"{signature.SIGNATURE_HEADER} must be 'v1=<hex HMAC-SHA256>' (comma-separated).",
            )
        body = await _read_body(request)
        try:
            keys = await self._keys()
        except McpAuthError as exc:
            logger.error("Credential webhook signing key unavailable: %s", exc.message)
            raise _Rejected(
                503, "unavailable", "The signing key could not be read; retry later.", {"Retry-After": "5"}
            ) from None
        if not signature.matches(keys, timestamp, body, digests):
            raise _Rejected(401, "invalid_signature", "The signature does not match the body and timestamp.")
        return body


async def _read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        raise _Rejected(400, "malformed_body", "The request body ended early.") from None


def _event(body: bytes) -> tuple[str, str, str]:
    try:
        data: Any = bounded_json.loads(body)
    except ValueError:
        raise _Rejected(400, "malformed_body", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise _Rejected(400, "malformed_body", "The body must be a JSON object.")
    user_id, provider, event_id = data.get("user_id"), data.get("provider"), data.get("event_id")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise _Rejected(400, "malformed_body", "event_id must be 1-128 characters of letters, digits and . _ : -.")
    try:
        validate_uid(user_id)  # type: ignore[arg-type]
        validate_provider(provider)  # type: ignore[arg-type]
    except McpAuthError as exc:
        raise _Rejected(400, "malformed_body", exc.message) from None
    return user_id, provider, event_id  # type: ignore[return-value]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
