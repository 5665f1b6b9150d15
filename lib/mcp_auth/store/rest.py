"""Point reads of one Firestore document over the REST API, so a cold instance answers sooner.

Importing the gRPC client (``google.cloud.firestore``) costs a few hundred milliseconds, and its
channel and first call more. A cold instance's first request reads two documents: the user record
(``users.py``) and the layout version (``layout.py``). Those two reads go over the REST API with the
process's pooled httpx client (``mcp_auth.http``) where that needs nothing more:

    FIRESTORE_EMULATOR_HOST set   http://<host>/v1/…                       Authorization: Bearer owner
    K_SERVICE set (Cloud Run)     https://firestore.googleapis.com/v1/…    the instance's service-account
                                                                           token from the metadata server
    anywhere else                 no REST reader: the gRPC client reads, like every other use of Firestore

Only a repository built from a client factory (``functools.partial(firestore_client, …)``: the client
is not made yet) reads this way; one handed a client keeps using it. Values decode to what the gRPC
client's ``snapshot.to_dict()`` gives (timestamps cut to microseconds, like its ``DatetimeWithNanoseconds``),
and ``update_time`` is the same, so ``UserRecord.version`` does not depend on which way a record was
read. A document holding a reference or a geo point (library objects), or whose answer is over
``MAX_BYTES``, is read with the gRPC client after all.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from mcp_auth.bounded_json import loads
from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.firestore import EMULATOR_PROJECT, TIMEOUT, firestore_client

GOOGLE_API = "https://firestore.googleapis.com"
MAX_BYTES = 4 * 1024 * 1024
"""The largest answer read (a document is at most 1 MiB; its JSON a few times that at worst)."""
MAX_DEPTH = 80
"""JSON nesting allowed in a document (Firestore nests maps and arrays 20 deep: about 3 JSON levels each)."""
TRANSIENT = frozenset({429, 500, 502, 503, 504})
REFRESH_MARGIN = 60.0
"""Seconds before its expiry that a metadata-server token is replaced."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The parts of the gRPC client's ``DocumentSnapshot`` that the request path reads."""

    exists: bool
    data: dict[str, Any] = field(default_factory=dict)
    update_time: datetime | None = None

    def to_dict(self) -> dict[str, Any] | None:
        return self.data if self.exists else None


class MetadataToken:
    """The instance's access token from the metadata server (``GCE_METADATA_HOST`` overrides its host, as
    in google-auth), reused until ``margin`` seconds before it expires; concurrent callers share one fetch."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, margin: float = REFRESH_MARGIN) -> None:
        self._clock, self._margin = clock, margin
        self._token, self._renew_at = "", float("-inf")
        self._pending: asyncio.Future[str] | None = None

    async def get(self, deadline: float | None = None) -> str:
        """The token; ``deadline`` (the loop's time) bounds a fetch, ``TIMEOUT`` from now if None."""
        if self._token and self._clock() < self._renew_at:
            return self._token
        pending = self._pending
        if pending is None or pending.done() or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._pending = asyncio.ensure_future(self._fetch(deadline))
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(pending)

    def forget(self) -> None:
        """Fetch a new token next time (Firestore refused this one)."""
        self._token, self._renew_at = "", float("-inf")

    async def _fetch(self, deadline: float | None) -> str:
        host = os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_ROOT") or "metadata.google.internal"
        url = f"http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
        status, body = await fetch(url, {"Metadata-Flavor": "Google"}, what="The metadata server", deadline=deadline)
        try:
            answer = loads(body) if status == 200 else {}
            token, lifetime = answer["access_token"], float(answer["expires_in"])
            if not isinstance(token, str) or not token:
                raise TypeError("no access_token")
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreUnavailable(
                f"The metadata server answered {status} without an access token ({type(exc).__name__}): the "
                "instance cannot reach Firestore. Check that the service has a service account; retry shortly."
            ) from None
        self._token, self._renew_at = token, self._clock() + lifetime - self._margin
        return token


_metadata_token = MetadataToken()


class DocumentReader:
    """Reads single documents of one database over REST (see the module docstring for when)."""

    def __init__(self, *, project: str, database: str, base_url: str, token: MetadataToken | None) -> None:
        """``token`` None: the emulator, which takes ``Bearer owner``."""
        self._token, self._where = token, f"Firestore ({base_url})"
        self._url = f"{base_url}/v1/projects/{project}/databases/{database}/documents/"

    async def get(self, collection: str, document: str) -> Snapshot | None:
        """``collection/document`` (both validated ids); a missing document is ``Snapshot(exists=False)``.
        None: read it with the gRPC client instead (its answer is over ``MAX_BYTES``, or it holds a value
        that only the gRPC library represents: a reference, a geo point)."""
        path, deadline = f"{collection}/{document}", asyncio.get_running_loop().time() + TIMEOUT
        token = "owner" if self._token is None else await self._token.get(deadline)
        try:
            status, body = await fetch(
                self._url + quote(path, safe="/"),
                {"Authorization": f"Bearer {token}"},
                what=self._where,
                deadline=deadline,
            )
        except TooLarge:
            return None
        if status == 200:
            try:
                answer = loads(body, max_depth=MAX_DEPTH)
                data = {k: _value(v) for k, v in answer.get("fields", {}).items()}
                return Snapshot(exists=True, data=data, update_time=parse_time(answer["updateTime"]))
            except _GrpcOnly:
                return None
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise StoreUnavailable(
                    f"Firestore's answer for {path} is not a document ({type(exc).__name__}: {str(exc)[:80]}); "
                    "retry shortly, and report it if it persists."
                ) from None
        message = _error_message(body)
        if status == 404 and "does not exist" not in message:  # not the database's "does not exist"
            return Snapshot(exists=False)
        if status in (401, 403) and self._token is not None:
            self._token.forget()
        hint = {
            401: "the access token was refused; retry",
            403: "give the service's account the Cloud Datastore User role (roles/datastore.user)",
            404: "check the project and the database setting (MCP_AUTH_FIRESTORE_DATABASE)",
        }.get(status, "retry shortly")
        raise StoreUnavailable(f"Firestore refused to read {path} ({status}: {message[:200]}): {hint}.")


class _GrpcOnly(Exception):
    """A value the REST reader leaves to the gRPC client."""


def _value(value: dict[str, Any]) -> Any:
    """One typed JSON value (``{"stringValue": "x"}``) as the gRPC client's ``to_dict()`` gives it."""
    ((kind, raw),) = value.items()
    if kind in ("stringValue", "booleanValue", "nullValue"):
        return raw
    if kind == "integerValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)  # a number, or "NaN" / "Infinity" / "-Infinity"
    if kind == "timestampValue":
        return parse_time(raw)
    if kind == "mapValue":
        return {k: _value(v) for k, v in raw.get("fields", {}).items()}
    if kind == "arrayValue":
        return [_value(v) for v in raw.get("values", [])]
    if kind == "bytesValue":
        return base64.b64decode(raw, validate=True)
    if kind in ("referenceValue", "geoPointValue"):  # library objects (a DocumentReference, a GeoPoint)
        raise _GrpcOnly(kind)
    raise ValueError(f"a value of an unknown kind {kind[:40]!r}")


def document_reader(source: object) -> DocumentReader | None:
    """A REST reader for the database ``source`` reaches, when ``source`` is a client factory and this
    process can read over REST; None: read with the gRPC client."""
    if not (isinstance(source, functools.partial) and source.func is firestore_client and not source.args):
        return None
    project, database = source.keywords.get("project"), source.keywords.get("database", "(default)")
    emulator = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if emulator:
        return DocumentReader(
            project=project or EMULATOR_PROJECT, database=database, base_url=f"http://{emulator}", token=None
        )
    if os.environ.get("K_SERVICE") and project:
        return DocumentReader(project=project, database=database, base_url=GOOGLE_API, token=_metadata_token)
    return None


async def fetch(url: str, headers: dict[str, str], *, what: str, deadline: float | None = None) -> tuple[int, bytes]:
    """GET ``url``: its status and body (at most ``MAX_BYTES``). Network errors, timeouts and 429/5xx are
    retried with backoff until ``deadline`` (the loop's time; ``TIMEOUT`` seconds from now if None), like
    ``firestore.bounded_retry()``."""
    import httpx  # on first use: a function that never reads over REST does not import it

    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + TIMEOUT if deadline is None else deadline, 0.1
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                status, body = await _get(url, headers)
        except (httpx.TransportError, TimeoutError) as exc:
            problem = type(exc).__name__
        else:
            if status not in TRANSIENT:
                return status, body
            problem = f"status {status}"
        if loop.time() + delay >= deadline:
            raise StoreUnavailable(f"{what} did not answer in time ({problem}); retry shortly.")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    from mcp_auth.http import http_client

    async with http_client().stream("GET", url, headers=headers) as response:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_BYTES:
            raise TooLarge(response.url.host)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise TooLarge(response.url.host)
        return response.status_code, bytes(body)


class TooLarge(StoreUnavailable):
    def __init__(self, host: str) -> None:
        super().__init__(f"The answer from {host} is larger than {MAX_BYTES // 2**20} MiB; retry shortly.")


def parse_time(text: str) -> datetime:
    """An RFC 3339 UTC time (``2026-01-02T03:04:05.123456789Z``), cut to microseconds as the gRPC client's is."""
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC time: {text[:40]!r}")
    whole, _, fraction = text[:-1].partition(".")
    parsed = datetime.fromisoformat(whole)
    if parsed.tzinfo is not None or (fraction and not fraction.isdigit()):
        raise ValueError(f"not a UTC time: {text[:40]!r}")
    return parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")), tzinfo=UTC)


def _error_message(body: bytes) -> str:
    """The message of a Google API error body, else the body's start."""
    try:
        message = loads(body)["error"]["message"]
        return message if isinstance(message, str) else str(message)
    except (ValueError, TypeError, KeyError):
        return body[:200].decode("utf-8", "replace")
