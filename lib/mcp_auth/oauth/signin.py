"""Who may sign in through the upstream OpenID provider, and to which user record.

The ID token is read by the deployment's provider preset (``presets.py``): which claim is the account,
which email counts as verified, the tenant and the groups. Rules (at least one is configured; any one
admits):

    domains               Google: the ID token's ``hd``, the Google Workspace domain that manages the
                          account, is one of them. The email's domain alone admits no one: anyone can
                          register a personal Google account with an address they once received mail at.
                          Okta, Auth0, Keycloak, generic OpenID: the verified email's domain is one of
                          them. The rule then relies on that provider's email verification and nothing
                          more. Entra ID: not available (Entra verifies no email).
    emails                the verified email is one of these addresses (not with Entra ID)
    tenants               Entra ID: the account's tenant (``tid``) is one of them; checked for every
                          account, and it admits unless ``require_user_record`` is set
    organization          GitHub: the account is an active member of this organization (and of one of
                          its required teams); checked for every account, and it admits unless another
                          rule is set, which must then admit too
    require_user_record   the account reaches an existing user record

An email the provider has not verified is never used: not to identify the account, not for a rule, not
to find a record.

Users are identified by issuer + ``sub`` (never reassigned), not by email: ``IdentityLinks`` maps
each account to its uid and keeps the email as an attribute. An account's first sign-in claims the
record named by its email only where the provider owns the address (with Google: a Workspace
account, or a Gmail address; with other providers: any verified address), and only if no other
account has claimed it.

The rules are applied again at each refresh of a token, to the provider's answer then
(``SignInPolicy.recheck``, from ``recheck.py``), and the groups stored anew.

These rules are the deployment's admission decision: an account that ``domains`` or ``emails``
admits and that reaches no user record gets one at sign-in, with the default scopes and toolsets,
whatever ``MCP_AUTH_FIRST_LOGIN`` says (that policy is for users of the other providers, whom
nothing admitted before their first request). An existing record, disabled or not, is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp_auth.presets import ENTRA_DISCOVERY, ENTRA_ISSUER, GOOGLE_ISSUER, Account, Preset, build_preset, read_account
from mcp_auth.presets import SignInRefused as SignInRefused  # re-exported: the refusal shown to the user
from mcp_auth.store.identities import Identity
from mcp_auth.store.users import UserRecord

if TYPE_CHECKING:
    from mcp_auth.oauth.groups import GroupGrants
    from mcp_auth.store.identities import IdentityLinks
    from mcp_auth.store.users import UserRepository

logger = logging.getLogger("mcp_auth.oauth")
GOOGLE_CONSUMER_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Addresses Google itself owns; any other address of a personal Google account was verified once, not owned."""
__all__ = ["GOOGLE_ISSUER", "SignInPolicy", "SignInRefused", "is_google"]


def is_google(issuer: str) -> bool:
    """Whether the upstream is Google, whose ID tokens name the managing Workspace domain in ``hd``."""
    return issuer.rstrip("/") == GOOGLE_ISSUER


class SignInPolicy:
    """The sign-in rules of one deployment (see the module docstring).

    ``preset`` reads the ID token (default: google for Google's issuer, else oidc; ``google=True`` picks the
    google preset for a test provider playing Google). With ``users``, an account a rule admits gets a
    record with ``default_scopes`` and ``default_toolsets`` if it reaches none. With ``grants``, the account's
    groups and what they grant are stored on its record at each sign-in.
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
        preset: Preset | None = None,
        grants: GroupGrants | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        if preset is None:
            preset = build_preset("google" if (is_google(issuer) if google is None else google) else "oidc")
        self.preset = preset
        self.google = preset.name == "google"
        if preset.name == "entra" and (domains or emails):
            raise ValueError("Entra ID verifies no email: admit its accounts by tenant, not by domain or address.")
        self._grants = grants
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
        account = read_account(self.preset, claims)
        identity = self._identity(account)
        expected: str | None = None
        admitted = self._admits(identity, account)
        if not admitted:
            reason = self._refusal(identity, account)
            if not self._require_record:
                refusal = reason or (
                    f"The account {_named(identity, account)} may not sign in to this server: sign in with another "
                    "account, or ask your administrator to give this one access."
                )
                raise self._refused(identity, account, refusal)
            expected, exists = await self._links.resolve(identity)
            if not exists:
                raise self._refused(identity, account, reason or self._no_record(identity, account))
        link = await self._links.link(identity)
        if expected is not None and link.uid != expected:  # another account claimed that record meanwhile
            raise self._refused(identity, account, self._no_record(identity, account))
        users = self._users
        if admitted and users is not None and await users.get(link.uid) is None:
            # create-if-absent: a concurrent sign-in's or an administrator's record wins
            await users.create(UserRecord(uid=link.uid, scopes=self._default_scopes, toolsets=self._default_toolsets))
            logger.info("user record created at sign-in: uid %s, with the default scopes and toolsets", link.uid)
        if self._grants is not None:
            await self._grants.apply(link.uid, account.groups)
        logger.info("signed in: uid %s, account %s at %s", link.uid, identity.sub, identity.issuer)
        return link.uid

    async def recheck(self, uid: str, claims: dict[str, Any]) -> None:
        """At a refresh of ``uid``'s tokens: the provider's ``claims`` now must still be admitted by the rules,
        and the account's groups now are stored with what they grant (``SignInRefused`` if not admitted).
        The step has checked that they describe the same account."""
        account = read_account(self.preset, claims)
        identity = self._identity(account)
        if not self._require_record and not self._admits(identity, account):
            reason = self._refusal(identity, account)
            refusal = reason or f"The account {_named(identity, account)} may no longer sign in here."
            raise self._refused(identity, account, refusal)
        if self._grants is not None:
            await self._grants.apply(uid, account.groups)
        logger.info(
            "refresh re-checked with the provider: uid %s, account %s at %s", uid, identity.sub, identity.issuer
        )

    def _identity(self, account: Account) -> Identity:
        issuer = self.issuer
        if self.preset.name == "entra" and issuer == ENTRA_DISCOVERY and account.tenant is not None:
            issuer = ENTRA_ISSUER.format(tenant=account.tenant)  # oid is unique within its tenant
        return Identity(issuer=issuer, sub=account.subject, email=account.email, email_vouched=self._vouches(account))

    def _vouches(self, account: Account) -> bool:
        """Whether the provider owns the verified address, so that it may claim a record named by it."""
        if account.email is None:
            return False
        if not self.google:
            return True
        return account.hosted_domain is not None or _domain(account.email) in GOOGLE_CONSUMER_DOMAINS

    def _admits(self, identity: Identity, account: Account) -> bool:
        if self.preset.tenants and not self._require_record:
            return True  # read_account has checked the tenant
        if self.preset.organization and not (self._domains or self._emails or self._require_record):
            return True  # GitHub: the step and read_account have checked the membership
        email = identity.email
        if email is None:
            return False
        if self._domains:
            domain = account.hosted_domain if self.google else _domain(email)
            if domain in self._domains:
                return True
        return email in self._emails

    def _refusal(self, identity: Identity, account: Account) -> str | None:
        """Why an account is refused, where more can be said than "may not sign in"."""
        if identity.email is None and (self._domains or self._emails):
            return (
                "The sign-in provider has not verified this account's email address, so it cannot be admitted by "
                "its address or domain: ask your administrator to verify it at the provider, then sign in again."
            )
        email = identity.email or ""
        domain = _domain(email) if email else ""
        if not self.google or domain not in self._domains:
            return None
        hd = account.hosted_domain
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
    def _no_record(identity: Identity, account: Account) -> str:
        named = _named(identity, account)
        return f"The account {named} has no user record on this server: ask an administrator to add you."

    def _refused(self, identity: Identity, account: Account, message: str) -> SignInRefused:
        logger.info("sign-in refused: account %s at %s", identity.sub, identity.issuer)
        return SignInRefused(message, account=account.shown_as or identity.email)


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[1]


def _named(identity: Identity, account: Account) -> str:
    """The account in a message: its verified address, else how the provider names it, else its subject."""
    return identity.email or account.shown_as or identity.sub
