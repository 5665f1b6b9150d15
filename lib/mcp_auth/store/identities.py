"""Identity links: which user record an upstream account (issuer + ``sub``) signs in to.

    identities/{key}    key = SHA-256 of issuer and sub; uid, issuer, sub, email, created_at, updated_at
    users/{uid}.identity    the key of the one account that has claimed a record it did not create

An OpenID provider never reassigns a ``sub``; an email address can change hands. So an account
is found by its link, and its email is only an attribute, refreshed at each sign-in. The first
sign-in of an account links it

* to the record named by its email, if that record exists, no other account has claimed it, and
  the provider vouches for the address (records keyed by email from before links existed, and
  records an administrator created ahead of the first sign-in); the claim is a conditional write
  on the record, so of two accounts with the same email exactly one gets it;
* otherwise to a uid derived from issuer and sub (``u-`` and 32 hex digits), which no other
  account can reach.

The link itself is written with create-if-absent, so concurrent first sign-ins of one account
agree on one uid. Links never expire: no TTL policy, and only single-document reads (no index).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp_auth.errors import StoreUnavailable, UnknownUser, UserError
from mcp_auth.store.firestore import TIMEOUT, bounded_retry
from mcp_auth.store.users import USERS, InvalidUserId, validate_uid

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient, AsyncDocumentReference

IDENTITIES = "identities"
CLAIM_FIELD = "identity"
_CLAIM_ATTEMPTS = 3


class AlreadyClaimed(UserError):
    """The record belongs to another account; taking it needs an explicit ``replace``."""


@dataclass(frozen=True, slots=True)
class Identity:
    """An upstream account as its verified ID token describes it."""

    issuer: str
    sub: str
    email: str | None
    """The verified email address, lower-cased (None if the token has none)."""
    email_vouched: bool = False
    """The provider owns the address (not merely saw it verified once): it may claim a record named by it."""

    @property
    def key(self) -> str:
        return identity_key(self.issuer, self.sub)


@dataclass(frozen=True, slots=True)
class Link:
    key: str
    uid: str
    issuer: str
    sub: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Assignment:
    """What an administrator's ``assign`` changed."""

    link: Link
    previous_uid: str | None
    """The uid this account reached before (None if it had never signed in)."""
    displaced: Link | None
    """The other account that had claimed the record and reaches it no longer."""


def identity_key(issuer: str, sub: str) -> str:
    """The link's document id: SHA-256 of the issuer and the sub (an issuer URL holds no NUL)."""
    return hashlib.sha256(f"{issuer.rstrip('/')}\x00{sub}".encode()).hexdigest()


def derived_uid(issuer: str, sub: str) -> str:
    """The uid of an account that claimed no existing record: opaque, stable, a valid document id."""
    return f"u-{identity_key(issuer, sub)[:32]}"


def _now() -> datetime:
    return datetime.now(UTC)


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"The user store is unavailable ({type(exc).__name__}); retry shortly.")


def _claimable_uid(email: str | None) -> str | None:
    if email is None:
        return None
    try:
        return validate_uid(email)
    except InvalidUserId:
        return None  # an address Firestore cannot use as a document id names no record


class IdentityLinks:
    """Reads and writes of ``identities/{key}`` and the claim marker on ``users/{uid}``."""

    def __init__(self, client: AsyncClient | Callable[[], AsyncClient]) -> None:
        self._client = client

    @property
    def client(self) -> AsyncClient:
        return self._client() if callable(self._client) else self._client

    def _link_ref(self, key: str) -> AsyncDocumentReference:
        return self.client.collection(IDENTITIES).document(key)

    def _user_ref(self, uid: str) -> AsyncDocumentReference:
        return self.client.collection(USERS).document(validate_uid(uid))

    async def _guard(self, call: Any) -> Any:
        from google.api_core import exceptions as gexc

        try:
            return await call
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            raise _unavailable(exc) from exc

    async def _read(self, ref: AsyncDocumentReference) -> Any:
        return await self._guard(ref.get(timeout=TIMEOUT, retry=bounded_retry()))

    # -- reading -----------------------------------------------------------------
    async def get(self, issuer: str, sub: str) -> Link | None:
        return await self._get(identity_key(issuer, sub))

    async def _get(self, key: str) -> Link | None:
        snap = await self._read(self._link_ref(key))
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        return Link(key=key, uid=data["uid"], issuer=data["issuer"], sub=data["sub"], email=data.get("email"))

    async def owner(self, uid: str) -> str | None:
        """The key of the account that claimed ``users/{uid}`` (None if unclaimed or missing)."""
        snap = await self._read(self._user_ref(uid))
        return (snap.to_dict() or {}).get(CLAIM_FIELD) if snap.exists else None

    async def has_record(self, uid: str) -> bool:
        return bool((await self._read(self._user_ref(uid))).exists)

    async def resolve(self, identity: Identity) -> tuple[str, bool]:
        """(uid, has a user record): where ``identity`` would sign in now; writes nothing."""
        link = await self._get(identity.key)
        if link is not None:
            return link.uid, await self.has_record(link.uid)
        named = _claimable_uid(identity.email) if identity.email_vouched else None
        if named is not None:
            snap = await self._read(self._user_ref(named))
            if snap.exists and (snap.to_dict() or {}).get(CLAIM_FIELD) in (None, identity.key):
                return named, True
        uid = derived_uid(identity.issuer, identity.sub)
        return uid, await self.has_record(uid)

    # -- signing in -------------------------------------------------------------
    async def link(self, identity: Identity) -> Link:
        """The account's link, created on its first sign-in (see the module docstring); the email
        attribute of an existing link is brought up to date."""
        from google.api_core import exceptions as gexc

        key = identity.key
        existing = await self._get(key)
        if existing is not None:
            if identity.email is not None and existing.email != identity.email:
                await self._guard(
                    self._link_ref(key).update(
                        {"email": identity.email, "updated_at": _now()}, timeout=TIMEOUT, retry=bounded_retry()
                    )
                )
                return Link(key=key, uid=existing.uid, issuer=existing.issuer, sub=existing.sub, email=identity.email)
            return existing
        uid = derived_uid(identity.issuer, identity.sub)
        named = _claimable_uid(identity.email) if identity.email_vouched else None
        if named is not None and await self._claim(named, key):
            uid = named
        now = _now()
        issuer = identity.issuer.rstrip("/")
        document = {
            "uid": uid,
            "issuer": issuer,
            "sub": identity.sub,
            "email": identity.email,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self._link_ref(key).create(document, timeout=TIMEOUT, retry=bounded_retry())
        except gexc.AlreadyExists:
            stored = await self._get(key)  # a concurrent first sign-in of the same account wrote it first
            if stored is None:
                raise StoreUnavailable("The account link vanished while it was being created; retry.") from None
            return stored
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            raise _unavailable(exc) from exc
        return Link(key=key, uid=uid, issuer=issuer, sub=identity.sub, email=identity.email)

    async def _claim(self, uid: str, key: str) -> bool:
        """Mark ``users/{uid}`` as claimed by ``key`` unless another account has: True if it is ours."""
        from google.api_core import exceptions as gexc

        ref = self._user_ref(uid)
        for _ in range(_CLAIM_ATTEMPTS):
            snap = await self._read(ref)
            if not snap.exists:
                return False
            owner = (snap.to_dict() or {}).get(CLAIM_FIELD)
            if owner is not None:
                return bool(owner == key)
            option = self.client.write_option(last_update_time=snap.update_time)
            try:
                await ref.update({CLAIM_FIELD: key, "updated_at": _now()}, option=option, timeout=TIMEOUT)
                return True
            except (gexc.FailedPrecondition, gexc.Aborted):
                continue  # changed since read (perhaps claimed): read again
            except gexc.NotFound:
                return False
            except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
                raise _unavailable(exc) from exc
        raise StoreUnavailable("The user record kept changing while this sign-in claimed it; retry.")

    # -- administration ------------------------------------------------------------
    async def assign(self, *, issuer: str, sub: str, uid: str, replace: bool = False) -> Assignment:
        """Point an account at the existing record ``uid`` and mark the record as its own.

        A record claimed by another account is taken from it only with ``replace``; that account's
        link is then removed, so its next sign-in gets a uid of its own.
        """
        from google.api_core import exceptions as gexc

        key = identity_key(issuer, sub)
        snap = await self._read(self._user_ref(uid))
        if not snap.exists:
            raise UnknownUser(f"No user record {uid!r}: create it first.")
        owner = (snap.to_dict() or {}).get(CLAIM_FIELD)
        displaced = await self._get(owner) if owner not in (None, key) else None
        if owner not in (None, key) and not replace:
            raise AlreadyClaimed(
                f"User {uid!r} belongs to another account"
                f"{f' ({displaced.email})' if displaced and displaced.email else ''}: "
                "pass --replace to take it from that account."
            )
        previous = await self._get(key)
        option = self.client.write_option(last_update_time=snap.update_time)
        try:
            await self._user_ref(uid).update({CLAIM_FIELD: key, "updated_at": _now()}, option=option, timeout=TIMEOUT)
        except (gexc.FailedPrecondition, gexc.Aborted, gexc.NotFound):
            raise StoreUnavailable(f"User {uid!r} changed while it was being linked; run the command again.") from None
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            raise _unavailable(exc) from exc
        if displaced is not None and displaced.uid == uid:
            await self._guard(self._link_ref(displaced.key).delete(timeout=TIMEOUT, retry=bounded_retry()))
        now = _now()
        document: dict[str, Any] = {"uid": uid, "issuer": issuer.rstrip("/"), "sub": sub, "updated_at": now}
        if previous is None:
            document.update(email=None, created_at=now)
        await self._guard(self._link_ref(key).set(document, merge=True, timeout=TIMEOUT, retry=bounded_retry()))
        link = Link(key=key, uid=uid, issuer=document["issuer"], sub=sub, email=previous.email if previous else None)
        return Assignment(link=link, previous_uid=previous.uid if previous else None, displaced=displaced)
