"""Provider presets: which claims of an upstream ID token name the account, and which checks make them safe.

    google     Google (Workspace): ``sub``; ``email`` counts only with ``email_verified`` true; ``hd`` names the
               Workspace that manages the account and alone decides a domain rule. No groups in the ID token.
    entra      Microsoft Entra ID: ``oid`` (the object id, stable across the tenant's apps) is the account,
               within the tenant ``tid``, which must be one of the configured tenants (and match the issuer).
               ``email`` and ``preferred_username`` are never verified by Entra: shown, never used to
               identify, admit or find a record. Groups from ``groups`` (object ids) and app roles from ``roles``;
               for an account in too many groups for the ID token, from Microsoft Graph (``oauth/graph.py``,
               with the delegated ``User.Read`` the preset asks for).
    okta       plain OpenID Connect: ``sub``, ``email`` with ``email_verified``, ``groups`` where sent.
    auth0      the same (Auth0 sends groups only in a namespaced custom claim: set the groups claim).
    keycloak   the same (a realm's "groups" mapper sends ``groups``).
    oidc       any other provider: the subject, email and groups claim names are settings.
    github     GitHub (or GitHub Enterprise Server): plain OAuth 2, no ID token. ``oauth/github.py`` reads the
               account from the API into this shape: ``sub`` the numeric user id, ``login`` (shown only),
               ``email`` the primary address only if GitHub verified it, ``groups`` the account's teams
               (``org/team``) in the required organization, whose membership it has checked.

Every preset asks for offline access (``offline_access``; Google: ``access_type=offline`` with
``prompt=consent``), so that each refresh of our tokens can ask the provider about the account again
(``oauth/recheck.py``); deployment-chosen scopes replace the preset's and must then include it.

``read_account(preset, claims)`` turns verified ID token claims into an ``Account``; anything malformed,
hostile or oversized is refused with ``SignInRefused`` and a message for the person signing in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRESETS = ("google", "entra", "okta", "auth0", "keycloak", "oidc", "github")
GOOGLE_ISSUER = "https://accounts.google.com"
ENTRA_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
ENTRA_DISCOVERY = "https://login.microsoftonline.com/organizations/v2.0"
"""Where a multi-tenant Entra deployment discovers the endpoints (its ID tokens name the user's tenant)."""
MAX_SUBJECT = 255
MAX_EMAIL = 320
MAX_GROUPS = 256
"""More group names than this in one ID token are refused, not cut (which ones were dropped would be arbitrary)."""
MAX_GROUP = 256
TENANT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""An Entra tenant id: a GUID, lower-case."""
GITHUB_ISSUER = "https://github.com"
GITHUB_API = "https://api.github.com"
GITHUB_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
"""A GitHub organization's login."""
GITHUB_TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
"""A team's slug (the lower-case name in its URL)."""
CLAIM_NAME = re.compile(r"^[A-Za-z0-9_.:/\-]{1,200}$")
"""A claim name a setting may choose (Auth0's namespaced claims are URLs)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SignInRefused(Exception):
    """The upstream account may not sign in here (``access_denied``); the message, shown to the user, says what
    happened and what to do. ``account`` names the account where it is known (display only: an unverified
    address or name may be it; never used to decide anything)."""

    def __init__(self, message: str, *, account: str | None = None) -> None:
        super().__init__(message)
        self.account = account


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    scopes: tuple[str, ...]
    subject_claim: str = "sub"
    email_claim: str = "email"
    verifies_email: bool = True
    """The provider's ``email_verified`` claim may vouch for the address (Entra sends none it means)."""
    shown_claims: tuple[str, ...] = ()
    """Further claims shown as the account's name where no verified email is (never used otherwise)."""
    groups_claims: tuple[str, ...] = ("groups",)
    hosted_domain: bool = False
    tenants: tuple[str, ...] = ()
    organization: str | None = None
    """github: the organization an account must be an active member of (checked through the API at sign-in)."""
    teams: tuple[str, ...] = ()
    """github: team slugs in ``organization``; with any, the account must be in one of them."""
    authorization_params: tuple[tuple[str, str], ...] = ()
    """Further parameters of the upstream authorization request (Google's way of asking for offline access)."""


@dataclass(frozen=True, slots=True)
class Account:
    """An upstream account as one preset reads its verified ID token."""

    subject: str
    email: str | None
    """A verified address, lower-cased; None when the provider did not verify one (or never does)."""
    shown_as: str | None
    """How the consent page names the account (the verified email, else an unverified name): display only."""
    hosted_domain: str | None = None
    tenant: str | None = None
    groups: tuple[str, ...] = ()


def build_preset(
    name: str,
    *,
    tenants: tuple[str, ...] = (),
    scopes: tuple[str, ...] = (),
    subject_claim: str | None = None,
    email_claim: str | None = None,
    groups_claim: str | None = None,
    organization: str | None = None,
    teams: tuple[str, ...] = (),
) -> Preset:
    """The preset ``name`` with the deployment's choices (``ValueError`` saying what is wrong)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown provider preset {name!r}; known: {', '.join(PRESETS)}.")
    if name != "oidc" and (subject_claim or email_claim):
        raise ValueError(f"The subject and email claims are fixed by the {name} preset; choose them with oidc only.")
    if name == "google" and groups_claim:
        raise ValueError("Google's ID tokens carry no groups: leave the groups claim unset with the google preset.")
    for claim in (subject_claim, email_claim, groups_claim):
        if claim and not CLAIM_NAME.fullmatch(claim):
            raise ValueError(f"A claim name is 1-200 letters, digits and _ . : / -, got {claim[:40]!r}.")
    if name == "entra":
        if not tenants:
            raise ValueError("The entra preset needs the tenant id(s) whose users may sign in.")
        bad = [t for t in tenants if not TENANT.fullmatch(t)]
        if bad:
            raise ValueError(f"An Entra tenant id is a GUID (Entra admin center > Overview), got {bad[0][:40]!r}.")
    elif tenants:
        raise ValueError("Tenant ids are for the entra preset only.")
    if name == "github":
        _check_github(organization, teams, scopes, groups_claim)
    elif organization or teams:
        raise ValueError("A required GitHub organization and teams are for the github preset only.")
    default_scopes = ("openid", "email", "profile")
    offline = (*default_scopes, "offline_access")  # a refresh token, so that each refresh asks the provider again
    groups = (groups_claim,) if groups_claim else ("groups",)
    presets = {
        "google": Preset(
            "google",
            default_scopes,
            groups_claims=(),
            hosted_domain=True,
            authorization_params=(("access_type", "offline"), ("prompt", "consent")),
        ),
        "entra": Preset(
            "entra",
            (*offline, "User.Read"),  # Graph: the groups of an account in too many for its ID token (groups overage)
            subject_claim="oid",
            verifies_email=False,
            shown_claims=("email", "preferred_username"),
            groups_claims=(groups_claim,) if groups_claim else ("groups", "roles"),
            tenants=tenants,
        ),
        "okta": Preset("okta", (*offline, "groups"), groups_claims=groups),
        "auth0": Preset("auth0", offline, groups_claims=groups),
        "keycloak": Preset("keycloak", offline, groups_claims=groups),
        "oidc": Preset(
            "oidc",
            offline,
            subject_claim=subject_claim or "sub",
            email_claim=email_claim or "email",
            groups_claims=groups,
        ),
        "github": Preset(
            "github",
            ("read:user", "user:email", *(("read:org",) if organization else ())),
            shown_claims=("login",),
            organization=organization,
            teams=teams,
        ),
    }
    preset = presets[name]
    if scopes:
        if "openid" not in scopes:
            raise ValueError("The upstream scopes must include openid (the sign-in needs an ID token).")
        if "offline_access" in preset.scopes and "offline_access" not in scopes:
            raise ValueError(
                "The upstream scopes must include offline_access: each refresh asks the provider about the "
                "account again with the refresh token it gives (docs/authorization-server.md)."
            )
        preset = Preset(**{**_fields(preset), "scopes": scopes})
    return preset


def _check_github(
    organization: str | None, teams: tuple[str, ...], scopes: tuple[str, ...], groups: str | None
) -> None:
    if scopes or groups:
        raise ValueError(
            "The github preset asks GitHub for the scopes it needs and reads teams as groups: leave "
            "the upstream scopes and the groups claim unset."
        )
    if organization is not None and not GITHUB_ORG.fullmatch(organization):
        raise ValueError(f"A GitHub organization is its login (letters, digits, -), got {organization[:40]!r}.")
    if teams and not organization:
        raise ValueError("Required GitHub teams need the organization they belong to.")
    bad = [t for t in teams if not GITHUB_TEAM.fullmatch(t)]
    if bad:
        raise ValueError(f"A GitHub team is its slug (lower-case letters, digits, - and _), got {bad[0][:40]!r}.")


def _fields(preset: Preset) -> dict[str, Any]:
    return {name: getattr(preset, name) for name in Preset.__slots__}


def default_issuer(preset: Preset) -> str | None:
    """The issuer the preset implies (Google's; the one Entra tenant's, or Entra's multi-tenant endpoint)."""
    if preset.name == "google":
        return GOOGLE_ISSUER
    if preset.name == "entra":
        return ENTRA_ISSUER.format(tenant=preset.tenants[0]) if len(preset.tenants) == 1 else ENTRA_DISCOVERY
    if preset.name == "github":
        return GITHUB_ISSUER
    return None


def github_api(issuer: str) -> str:
    """GitHub's REST API for the web base ``issuer``: api.github.com, or GitHub Enterprise Server's /api/v3."""
    issuer = issuer.rstrip("/")
    return GITHUB_API if issuer == GITHUB_ISSUER else f"{issuer}/api/v3"


def read_account(preset: Preset, claims: Mapping[str, Any]) -> Account:
    """The account the verified ID token ``claims`` describe, as ``preset`` reads them."""
    email = _email(claims.get(preset.email_claim))
    verified = email if preset.verifies_email and claims.get("email_verified") is True else None
    shown = verified or _shown(preset, claims)
    subject = claims.get(preset.subject_claim)
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT or _CONTROL.search(subject):
        raise SignInRefused(
            f"The sign-in provider's ID token names no usable account ({preset.subject_claim}): "
            "ask your administrator to check the provider's configuration.",
            account=shown,
        )
    tenant = _tenant(preset, claims, shown)
    if preset.organization is not None and claims.get("organization") != preset.organization:
        raise SignInRefused(
            f"Your GitHub account's membership of {preset.organization} could not be confirmed.", account=shown
        )
    hd = claims.get("hd") if preset.hosted_domain else None
    hosted = hd.lower() if isinstance(hd, str) and 0 < len(hd) <= 253 and not _CONTROL.search(hd) else None
    return Account(
        subject=subject,
        email=verified,
        shown_as=shown,
        hosted_domain=hosted,
        tenant=tenant,
        groups=_groups(preset, claims, shown),
    )


def _shown(preset: Preset, claims: Mapping[str, Any]) -> str | None:
    """How to name an account with no verified address: the first usable of its email and shown claims."""
    for name in (preset.email_claim, *preset.shown_claims):
        value = claims.get(name)
        if isinstance(value, str) and 0 < len(value) <= MAX_EMAIL and not _CONTROL.search(value):
            return value
    return None


def _tenant(preset: Preset, claims: Mapping[str, Any], shown: str | None) -> str | None:
    if preset.name != "entra":
        return None
    tid = claims.get("tid")
    if not isinstance(tid, str) or not TENANT.fullmatch(tid):
        raise SignInRefused(
            "Microsoft did not say which organisation (tenant) your account belongs to, so this server cannot "
            "accept it: sign in with the work or school account your organisation gave you.",
            account=shown,
        )
    if tid not in preset.tenants:
        raise SignInRefused(
            f"Your Microsoft account belongs to another organisation (Microsoft Entra tenant {tid}) than the "
            "ones this server accepts. Sign in with the work account your organisation gave you, or ask your "
            "administrator whether your organisation can be allowed.",
            account=shown,
        )
    return tid


def _email(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_EMAIL or _CONTROL.search(value) or value.count("@") != 1:
        return None
    local, domain = value.split("@")
    return value.lower() if local and "." in domain and not domain.startswith(".") else None


def _groups(preset: Preset, claims: Mapping[str, Any], shown: str | None) -> tuple[str, ...]:
    names: list[str] = []
    for claim in preset.groups_claims:
        value = claims.get(claim)
        if value is None:
            continue
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise SignInRefused(
                f"The sign-in provider sent a malformed {claim} claim (not a list of names): ask your administrator "
                "to check the provider's configuration.",
                account=shown,
            )
        if len(value) > MAX_GROUPS:
            raise SignInRefused(
                f"The sign-in provider sent {len(value)} {claim}, more than {MAX_GROUPS}: ask your administrator "
                "to send only the groups assigned to this application.",
                account=shown,
            )
        for item in value:
            if not isinstance(item, str) or not 0 < len(item) <= MAX_GROUP or _CONTROL.search(item):
                raise SignInRefused(
                    f"The sign-in provider sent a malformed name in its {claim} claim: ask your administrator to "
                    "check the provider's configuration.",
                    account=shown,
                )
            names.append(item)
    return tuple(sorted(set(names)))
