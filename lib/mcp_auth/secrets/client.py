"""Blocking calls to Secret Manager, and the translation of their failures into
the errors of ``mcp_auth.secrets.errors``.

google-cloud-secret-manager 2.32 has no async REST transport, so everything here
runs in a worker thread; ``SecretStore`` takes care of that.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests
from google.api_core import exceptions as api
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry, if_exception_type
from google.auth import exceptions as auth_errors
from google.auth.credentials import AnonymousCredentials
from google.cloud.secretmanager_v1 import SecretManagerServiceClient, SecretVersion
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import rest as rest_transport

from mcp_auth.errors import SecretUnavailable
from mcp_auth.secrets.errors import (
    SecretManagerUnreachable,
    SecretNotFound,
    SecretVersionDestroyed,
    SecretVersionDisabled,
)
from mcp_auth.secrets.names import SecretRef

T = TypeVar("T")

# Failures worth retrying within one call's deadline, and that mean "unreachable".
_TRANSIENT: tuple[type[Exception], ...] = (
    api.InternalServerError,
    api.BadGateway,
    api.ServiceUnavailable,
    api.GatewayTimeout,
    api.TooManyRequests,
    requests.ConnectionError,
    requests.Timeout,
    auth_errors.TransportError,
)
#: What a call that gave up raises: a transient failure, or the retry's own deadline.
_UNREACHABLE: tuple[type[Exception], ...] = (*_TRANSIENT, api.RetryError)


class RedactPayloads(logging.Filter):
    """Blanks response payloads in the REST transport's DEBUG records.

    The generated transport logs each response body when DEBUG logging is on; for
    AccessSecretVersion that body is the secret.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        response = getattr(record, "httpResponse", None)
        if isinstance(response, dict) and response.get("payload") is not None:
            record.httpResponse = {**response, "payload": "<redacted>"}
        return True


TRANSPORT_LOGGER = logging.getLogger(rest_transport.__name__)
if not any(isinstance(f, RedactPayloads) for f in TRANSPORT_LOGGER.filters):
    TRANSPORT_LOGGER.addFilter(RedactPayloads())


@dataclass(frozen=True, slots=True)
class Payload:
    """One accessed version: its number and its bytes (never shown in a repr)."""

    version: str
    data: bytes = field(repr=False)


class SecretManagerClient:
    """A thread-safe wrapper over ``SecretManagerServiceClient`` (REST transport).

    With an ``endpoint`` (an emulator) requests carry anonymous credentials;
    without one the client uses Application Default Credentials. The underlying
    client is built on first use, in the calling (worker) thread.
    """

    def __init__(self, *, endpoint: str | None, deadline: float) -> None:
        self._endpoint = endpoint
        self._deadline = deadline
        self._retry = Retry(
            predicate=if_exception_type(*_TRANSIENT),
            initial=0.1,
            maximum=1.0,
            multiplier=2.0,
            timeout=deadline,
        )
        self._lock = threading.Lock()
        self._client: SecretManagerServiceClient | None = None

    @property
    def host(self) -> str:
        return self._endpoint or "secretmanager.googleapis.com"

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.transport.close()  # type: ignore[no-untyped-call]

    def access(self, ref: SecretRef) -> Payload:
        """Read one version (a number or ``latest``)."""

        def call() -> Payload:
            response = self._sm().access_secret_version(name=ref.path, retry=self._retry, timeout=self._deadline)
            return Payload(version=response.name.rsplit("/", 1)[-1], data=response.payload.data)

        return self._call(ref, call)

    def enabled_versions(self, ref: SecretRef, *, count: int) -> list[Payload]:
        """Read the ``count`` newest enabled versions, newest first."""

        def numbers() -> list[int]:
            pager = self._sm().list_secret_versions(
                request={"parent": ref.secret_path, "filter": "state:ENABLED"},
                retry=self._retry,
                timeout=self._deadline,
            )
            # Filter again: not every Secret Manager implementation applies the filter.
            found = [int(v.name.rsplit("/", 1)[-1]) for v in pager if v.state == SecretVersion.State.ENABLED]
            return sorted(found, reverse=True)

        payloads: list[Payload] = []
        for number in self._call(ref, numbers):
            try:
                payloads.append(self.access(SecretRef(ref.project, ref.secret, str(number))))
            except (SecretVersionDisabled, SecretVersionDestroyed, SecretNotFound):
                continue  # disabled or destroyed between listing and reading
            if len(payloads) == count:
                break
        if not payloads:
            raise SecretNotFound(ref.secret, "latest", project=ref.project, secret_exists=True)
        return payloads

    # -- internals ---------------------------------------------------------

    def _sm(self) -> SecretManagerServiceClient:
        with self._lock:
            if self._client is None:
                if self._endpoint is not None:
                    self._client = SecretManagerServiceClient(
                        transport="rest",
                        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                        client_options=ClientOptions(api_endpoint=self._endpoint),
                    )
                else:
                    self._client = SecretManagerServiceClient(transport="rest")
            return self._client

    def _call(self, ref: SecretRef, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except api.NotFound as exc:
            raise self._not_found(ref, exc) from exc
        except (api.BadRequest, api.FailedPrecondition) as exc:
            raise self._refused(ref, exc) from exc
        except (api.Forbidden, api.Unauthorized) as exc:
            raise SecretUnavailable(
                f"Secret Manager denied access to secret '{ref.secret}' in project '{ref.project}' "
                f"({exc.code}): grant the service account roles/secretmanager.secretAccessor on it."
            ) from exc
        except _UNREACHABLE as exc:
            raise self._unreachable(ref, exc) from exc
        except auth_errors.DefaultCredentialsError as exc:
            raise SecretUnavailable(
                "No Google credentials were found for Secret Manager: run with a service account, "
                "or set MCP_AUTH_SECRET_MANAGER_ENDPOINT to use an emulator."
            ) from exc
        except api.GoogleAPICallError as exc:
            raise SecretUnavailable(
                f"Secret Manager refused to read secret '{ref.secret}' in project '{ref.project}' "
                f"({exc.code} {type(exc).__name__})."
            ) from exc

    def _unreachable(self, ref: SecretRef, exc: BaseException) -> SecretManagerUnreachable:
        cause = exc.cause if isinstance(exc, api.RetryError) and exc.cause is not None else exc
        return SecretManagerUnreachable(
            f"Secret Manager at {self.host} could not be reached to read secret '{ref.secret}' "
            f"in project '{ref.project}' ({type(cause).__name__}); retry later.",
            secret=ref.secret,
        )

    def _not_found(self, ref: SecretRef, exc: api.NotFound) -> SecretUnavailable:
        # Secret Manager says "Secret [...] not found" for a missing secret and
        # "Secret Version [...] not found" for a missing version; the metadata
        # call below needs more than the accessor role, so it is the fallback.
        message = exc.message or ""
        if message.startswith("Secret Version ["):
            exists: bool | None = True
        elif message.startswith("Secret ["):
            exists = False
        else:
            try:
                self._sm().get_secret(name=ref.secret_path, retry=self._retry, timeout=self._deadline)
                exists = True
            except api.NotFound:
                exists = False
            except _UNREACHABLE as again:
                return self._unreachable(ref, again)
            except api.GoogleAPICallError:
                exists = None
        return SecretNotFound(ref.secret, ref.version, project=ref.project, secret_exists=exists)

    def _refused(self, ref: SecretRef, exc: api.GoogleAPICallError) -> SecretUnavailable:
        state = _state_in(exc.message or "")
        if state is None:
            try:
                version = self._sm().get_secret_version(name=ref.path, retry=self._retry, timeout=self._deadline)
                state = SecretVersion.State(version.state).name
            except _UNREACHABLE as again:
                return self._unreachable(ref, again)
            except api.GoogleAPICallError:
                state = None
        if state == "DISABLED":
            return SecretVersionDisabled(ref.secret, ref.version, project=ref.project)
        if state == "DESTROYED":
            return SecretVersionDestroyed(ref.secret, ref.version, project=ref.project)
        return SecretUnavailable(
            f"Secret Manager refused to read secret '{ref.secret}' version {ref.version} in project "
            f"'{ref.project}' ({exc.code} {type(exc).__name__})."
        )


def _state_in(message: str) -> str | None:
    for state in ("DESTROYED", "DISABLED"):
        if state in message:
            return state
    return None
