"""``SecretStore``: secrets from Secret Manager, cached per instance.

Each (secret, version) read is cached. After ``refresh_interval`` the next read
fetches again (concurrent reads of one secret share that fetch). If Secret
Manager cannot be reached, the cached copy keeps serving until ``max_age`` after
it was fetched, then reads fail with ``SecretManagerUnreachable`` (503). A secret
that was deleted, or a version that was disabled or destroyed, is dropped from
the cache at once: revoking a version takes effect within one refresh interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import anyio.to_thread

from mcp_auth.errors import ConfigError, SecretUnavailable
from mcp_auth.secrets.client import Payload, SecretManagerClient
from mcp_auth.secrets.errors import SecretManagerUnreachable
from mcp_auth.secrets.names import SecretRef, check_project, resolve

logger = logging.getLogger("mcp_auth.secrets")

# ("get", ref) for one version; ("versions", ref, count) for the newest enabled ones.
_Key = tuple[str, SecretRef] | tuple[str, SecretRef, int]
_Payloads = tuple[Payload, ...]
_Fetch = Callable[[], _Payloads]


@dataclass(slots=True)
class _Entry:
    payloads: tuple[Payload, ...] = field(repr=False)
    fetched_at: float
    refresh_at: float
    expires_at: float


class SecretStore:
    """Reads secrets from Secret Manager, with caching, rotation and fail-closed start-up.

    ``project`` holds the secrets; ``endpoint`` overrides the Secret Manager URL (an
    emulator, called with anonymous credentials) or is None for the real service with
    Application Default Credentials. Cached values are re-read after ``refresh_interval``
    seconds and used for at most ``max_age`` seconds (default three refresh intervals)
    when Secret Manager cannot be reached; after a failed refresh the next attempt waits
    ``retry_interval`` seconds. ``deadline`` bounds one fetch, retries included.
    ``clock`` returns monotonic seconds.
    """

    def __init__(
        self,
        *,
        project: str,
        endpoint: str | None = None,
        refresh_interval: float = 300.0,
        max_age: float | None = None,
        retry_interval: float | None = None,
        deadline: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._project = check_project(project)
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise ConfigError(
                "The Secret Manager endpoint override must be a URL such as http://127.0.0.1:8085; "
                f"got {endpoint[:100]!r}."
            )
        if not refresh_interval > 0:
            raise ConfigError(f"refresh_interval must be a positive number of seconds; got {refresh_interval}.")
        max_age = 3 * refresh_interval if max_age is None else max_age
        if not max_age >= refresh_interval:
            raise ConfigError(f"max_age ({max_age} s) must be at least refresh_interval ({refresh_interval} s).")
        retry_interval = min(30.0, refresh_interval) if retry_interval is None else retry_interval
        if not 0 < retry_interval <= max_age:
            raise ConfigError(
                f"retry_interval must be positive and at most max_age ({max_age} s); got {retry_interval}."
            )
        if not deadline > 0:
            raise ConfigError(f"deadline must be a positive number of seconds; got {deadline}.")
        self._endpoint = endpoint
        self._refresh_interval = float(refresh_interval)
        self._max_age = float(max_age)
        self._retry_interval = float(retry_interval)
        self._clock = clock
        self._client = SecretManagerClient(endpoint=endpoint, deadline=deadline)
        self._entries: dict[_Key, _Entry] = {}
        self._inflight: dict[_Key, asyncio.Future[_Payloads]] = {}

    def __repr__(self) -> str:
        return (
            f"SecretStore(project={self._project!r}, endpoint={self._endpoint!r}, "
            f"refresh_interval={self._refresh_interval}, max_age={self._max_age}, "
            f"cached={len(self._entries)})"
        )

    @property
    def project(self) -> str:
        return self._project

    # -- reading -----------------------------------------------------------

    async def get(self, name: str, *, version: str = "latest") -> bytes:
        """The payload of one version of a secret: ``latest`` or a pinned number."""
        ref = resolve(name, project=self._project, version=version)
        payloads = await self._read(("get", ref), partial(self._fetch_one, ref))
        return payloads[0].data

    async def versions(self, name: str, *, count: int = 2) -> list[bytes]:
        """The payloads of the ``count`` newest enabled versions, newest first.

        During a rotation this is the new value and the one it replaces, so a
        verifier can accept both while the new one rolls out; once the old version
        is disabled it drops out within one refresh interval.
        """
        if not isinstance(count, int) or count < 1:
            raise ConfigError(f"count must be a positive integer; got {count!r}.")
        ref = resolve(name, project=self._project)
        if ref.version != "latest":
            raise ConfigError(f"versions() reads the newest enabled versions of '{ref.secret}': pass no version.")
        payloads = await self._read(("versions", ref, count), partial(self._fetch_many, ref, count))
        return [p.data for p in payloads]

    async def require(self, names: Iterable[str]) -> None:
        """Read every named secret now, so that a start-up fails closed.

        Raises ``ConfigError`` if any secret or version is missing, disabled,
        destroyed or not readable, and ``SecretManagerUnreachable`` if Secret Manager
        could not be reached; either way the message names every failing secret.
        """
        refs = [resolve(name, project=self._project) for name in names]
        results = await asyncio.gather(
            *(self._read(("get", ref), partial(self._fetch_one, ref)) for ref in refs),
            return_exceptions=True,
        )
        failures: list[tuple[SecretRef, SecretUnavailable]] = []
        for ref, result in zip(refs, results, strict=True):
            if isinstance(result, SecretUnavailable):
                failures.append((ref, result))
            elif isinstance(result, BaseException):
                raise result
        if not failures:
            logger.info("Loaded %d required secret(s) from project %s", len(refs), self._project)
            return
        names_list = ", ".join(f"'{ref.secret}'" for ref, _ in failures)
        details = " ".join(exc.message for _, exc in failures)
        if all(isinstance(exc, SecretManagerUnreachable) for _, exc in failures):
            raise SecretManagerUnreachable(
                f"Cannot start: required secret(s) {names_list} could not be read. {details}",
                secret=failures[0][0].secret,
            )
        raise ConfigError(f"Cannot start: required secret(s) {names_list} are not usable. {details}")

    # -- cache management --------------------------------------------------

    def forget(self, name: str | None = None) -> None:
        """Drop cached values: of one secret (all versions), or of every secret."""
        if name is None:
            self._entries.clear()
            return
        ref = resolve(name, project=self._project)
        for key in [k for k in self._entries if k[1].secret_path == ref.secret_path]:
            del self._entries[key]

    def close(self) -> None:
        """Close the HTTP session; the store must not be used afterwards."""
        self._entries.clear()
        self._client.close()

    # -- internals ---------------------------------------------------------

    async def _read(self, key: _Key, fetch: _Fetch) -> _Payloads:
        entry = self._entries.get(key)
        now = self._clock()
        if entry is not None and now < entry.refresh_at:
            if now < entry.expires_at:
                return entry.payloads
            raise self._expired(key[1])  # the last attempt failed too: fail fast until the next one
        try:
            return await asyncio.shield(self._shared_fetch(key, fetch))
        except SecretManagerUnreachable as exc:
            entry = self._entries.get(key)
            if entry is None:
                raise
            return self._fall_back(key[1], entry, exc)
        except SecretUnavailable as exc:
            if self._entries.pop(key, None) is not None:
                logger.warning("Dropped the cached %s: %s", key[1], exc.message)
            raise

    def _fall_back(self, ref: SecretRef, entry: _Entry, exc: SecretManagerUnreachable) -> _Payloads:
        """After a failed refresh: the cached value while it is usable, then a clear error."""
        now = self._clock()
        usable = now < entry.expires_at
        first = entry.refresh_at <= now  # the first of the callers that shared the failed attempt
        if first:
            entry.refresh_at = now + self._retry_interval
            if usable:
                entry.refresh_at = min(entry.refresh_at, entry.expires_at)
                logger.warning(
                    "Secret Manager unreachable; serving the cached %s fetched %.0f s ago for %.0f s more",
                    ref,
                    now - entry.fetched_at,
                    entry.expires_at - now,
                )
            else:
                logger.error("Secret Manager unreachable and the cached %s has expired", ref)
        if usable:
            return entry.payloads
        raise self._expired(ref) from exc

    def _expired(self, ref: SecretRef) -> SecretManagerUnreachable:
        return SecretManagerUnreachable(
            f"Secret Manager has been unreachable for longer than {self._max_age:.0f} s, so the cached "
            f"copy of secret '{ref.secret}' in project '{ref.project}' expired; retry later.",
            secret=ref.secret,
        )

    def _shared_fetch(self, key: _Key, fetch: _Fetch) -> asyncio.Future[_Payloads]:
        """One fetch per key at a time; callers that arrive meanwhile wait for it."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._fetch_and_store(key, fetch))
            future.add_done_callback(partial(self._fetch_done, key))
            self._inflight[key] = future
        return future

    def _fetch_done(self, key: _Key, future: asyncio.Future[_Payloads]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.cancelled():
            future.exception()  # retrieved here, so an unawaited failure is never reported as lost

    async def _fetch_and_store(self, key: _Key, fetch: _Fetch) -> _Payloads:
        payloads = await anyio.to_thread.run_sync(fetch)
        now = self._clock()
        self._entries[key] = _Entry(
            payloads=payloads,
            fetched_at=now,
            refresh_at=now + self._refresh_interval,
            expires_at=now + self._max_age,
        )
        logger.debug("Fetched %s (version(s) %s)", key[1], ", ".join(p.version for p in payloads))
        return payloads

    def _fetch_one(self, ref: SecretRef) -> _Payloads:
        return (self._client.access(ref),)

    def _fetch_many(self, ref: SecretRef, count: int) -> _Payloads:
        return tuple(self._client.enabled_versions(ref, count=count))
