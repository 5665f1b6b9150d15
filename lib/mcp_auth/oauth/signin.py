"""Who may sign in through the upstream OpenID provider, and to which user record.

Rules (at least one is configured; any one admits), after the provider has verified the email:

    domains               Google (the issuer https://accounts.google.com): the ID token's ``hd``, the
                          Google Workspace domain that manages the account, is one of them. The
                          email's domain alone admits no one: anyone can register a personal Google
                          account with an address they once received mail at.
                          Any other provider: the verified email's domain is one of them. The rule
                          then relies on that provider's email verification and nothing more.
    emails                the verified email is one of these addresses
    require_user_record   the account reaches an existing user record

Users are identified by issuer + ``sub`` (never reassigned), not by email: ``IdentityLinks`` maps
each account to its uid and keeps the email as an attribute. An account's first sign-in claims the
record named by its email only where the provider owns the address (with Google: a Workspace
account, or a Gmail address; with other providers: any verified address), and only if no other
account has claimed it.

These rules are the deployment's admission decision: an account that ``domains`` or ``emails``
admits and that reaches no user record gets one at sign-in, with the default scopes and toolsets,
whatever ``MCP_AUTH_FIRST_LOGIN`` says (that policy is for users of the other providers, whom
nothing admitted before their first request). An existing record, disabled or not, is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp_auth.store.identities import Identity
from mcp_auth.store.users import UserRecord

if TYPE_CHECKING:
    from mcp_auth.store.identities import IdentityLinks
    from mcp_auth.store.users import UserRepository

logger = logging.getLogger("mcp_auth.oauth")
GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_CONSUMER_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Addresses Google itself owns; any other address of a personal Google account was verified once, not owned."""


class SignInRefused(Exception):
    """The upstream account may not sign in here (``access_denied``); the message is shown to the user."""


def is_google(issuer: str) -> bool:
    """Whether the upstream is Google, whose ID tokens name the managing Workspace domain in ``hd``."""
    return issuer.rstrip("/") == GOOGLE_ISSUER


class SignInPolicy:
    """The sign-in rules of one deployment (see the module docstring).

    ``google`` says whether ``hd`` decides the domain rule; it follows ``issuer`` unless given (a test
    provider can play Google by passing ``google=True``). With ``users``, an account a rule admits gets a
    record with ``default_scopes`` and ``default_toolsets`` if it reaches none.
    """

    def __init__(
        self,
        *,
        issuer: str,
        links: IdentityLinks,
        google: bool | None = None,
        domains: Sequence[str] = (),
        emails: Sequence[str] = (),
        require_user_record: bool = False,
        users: UserRepository | None = None,
        default_scopes: Sequence[str] = (),
        default_toolsets: Sequence[str] = (),
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.google = is_google(issuer) if google is None else google
        self._links = links
        self._domains = frozenset(d.lower() for d in domains)
        self._emails = frozenset(e.lower() for e in emails)
        self._require_record = require_user_record
        self._users = users
        self._default_scopes, self._default_toolsets = frozenset(default_scopes), frozenset(default_toolsets)

    async def user_id(self, claims: dict[str, Any]) -> str:
        """The uid the account described by the verified ID token ``claims`` signs in as.

        Raises ``SignInRefused`` (with a message for the user) when no rule admits the account;
        ``StoreUnavailable`` when Firestore cannot answer.
        """
        identity = self._identity(claims)
        expected: str | None = None
        admitted = self._admits(identity, claims)
        if not admitted:
            reason = self._workspace_refusal(identity, claims)
            if not self._require_record:
                raise self._refused(identity, reason or f"The account {identity.email} may not sign in to this server.")
            expected, exists = await self._links.resolve(identity)
            if not exists:
                raise self._refused(identity, reason or self._no_record(identity))
        link = await self._links.link(identity)
        if expected is not None and link.uid != expected:  # another account claimed that record meanwhile
            raise self._refused(identity, self._no_record(identity))
        users = self._users
        if admitted and users is not None and await users.get(link.uid) is None:
            # create-if-absent: a concurrent sign-in's or an administrator's record wins
            await users.create(UserRecord(uid=link.uid, scopes=self._default_scopes, toolsets=self._default_toolsets))
            logger.info("user record created at sign-in: uid %s, with the default scopes and toolsets", link.uid)
        logger.info("signed in: uid %s, account %s at %s (%s)", link.uid, identity.sub, self.issuer, identity.email)
        return link.uid

    def _identity(self, claims: dict[str, Any]) -> Identity:
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is not True:
            raise SignInRefused("This account has no verified email address.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= 255:
            raise SignInRefused("The sign-in provider's ID token names no account (sub).")
        email = email.lower()
        return Identity(issuer=self.issuer, sub=sub, email=email, email_vouched=self._vouches(email, claims))

    def _vouches(self, email: str, claims: dict[str, Any]) -> bool:
        """Whether the provider owns the verified address, so that it may claim a record named by it."""
        if not self.google:
            return True
        return _hosted_domain(claims) is not None or _domain(email) in GOOGLE_CONSUMER_DOMAINS

    def _admits(self, identity: Identity, claims: dict[str, Any]) -> bool:
        email = identity.email or ""
        if self._domains:
            domain = _hosted_domain(claims) if self.google else _domain(email)
            if domain in self._domains:
                return True
        return email in self._emails

    def _workspace_refusal(self, identity: Identity, claims: dict[str, Any]) -> str | None:
        """With Google: why an address in an allowed domain is refused (no Workspace of that domain manages it)."""
        email = identity.email or ""
        domain = _domain(email)
        if not self.google or domain not in self._domains:
            return None
        hd = _hosted_domain(claims)
        if hd is None:
            return (
                f"The account {email} is a personal Google account, not one managed by the Google Workspace "
                f"of {domain}: sign in with your {domain} work account."
            )
        return (
            f"The account {email} is managed by the Google Workspace of {hd}, which may not sign in to "
            f"this server: sign in with your {domain} work account."
        )

    @staticmethod
    def _no_record(identity: Identity) -> str:
        return f"The account {identity.email} has no user record on this server: ask an administrator to add you."

    def _refused(self, identity: Identity, message: str) -> SignInRefused:
        logger.info("sign-in refused: account %s at %s (%s)", identity.sub, self.issuer, identity.email)
        return SignInRefused(message)


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[1]


def _hosted_domain(claims: dict[str, Any]) -> str | None:
    hd = claims.get("hd")
    return hd.lower() if isinstance(hd, str) and hd else None
