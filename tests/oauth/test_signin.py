"""Who may sign in and as which user, on the Firestore emulator: with Google only ``hd`` satisfies a
domain rule, and users are the upstream account (issuer + sub), not the email address."""

from __future__ import annotations

import uuid

import pytest

from mcp_auth.oauth.signin import GOOGLE_ISSUER, SignInPolicy, SignInRefused, is_google
from mcp_auth.store.identities import IdentityLinks, derived_uid
from mcp_auth.store.users import UserRecord, UserRepository
from tests.store.warmup import warm


@pytest.fixture
async def links(user_repo: UserRepository) -> IdentityLinks:
    await warm(user_repo)
    return IdentityLinks(user_repo._client)


def _sub() -> str:
    return uuid.uuid4().hex


def _email(domain: str = "example.com") -> str:
    return f"u{uuid.uuid4().hex[:10]}@{domain}"


def _google(links: IdentityLinks, **rules) -> SignInPolicy:
    return SignInPolicy(issuer=GOOGLE_ISSUER, links=links, **rules)


def _claims(email: str, sub: str | None = None, **extra) -> dict:
    return {"sub": sub or _sub(), "email": email, "email_verified": True, **extra}


def test_google_is_recognised_by_its_issuer_and_can_be_played_by_another_provider(links):
    assert is_google("https://accounts.google.com/") and not is_google("https://login.example.com")
    assert _google(links, domains=["example.com"]).google
    assert not SignInPolicy(issuer="https://login.example.com", links=links, domains=["example.com"]).google
    assert SignInPolicy(issuer="http://127.0.0.1:9999", links=links, google=True, domains=["example.com"]).google


async def test_a_google_account_without_hd_is_refused_even_with_an_address_in_the_allowed_domain(links, user_repo):
    email = _email()
    await user_repo.create(UserRecord(uid=email, toolsets=frozenset({"notes"})))  # the employee's record
    with pytest.raises(SignInRefused, match="personal Google account.*sign in with your example.com work account"):
        await _google(links, domains=["example.com"]).user_id(_claims(email))
    assert await links.owner(email) is None  # the refused account claimed nothing


async def test_a_google_account_managed_by_another_workspace_is_refused_with_its_domain_named(links):
    with pytest.raises(SignInRefused, match="managed by the Google Workspace of other.org"):
        await _google(links, domains=["example.com"]).user_id(_claims(_email(), hd="other.org"))


async def test_a_google_workspace_account_of_an_allowed_domain_is_admitted_whatever_its_address(links):
    sub = _sub()
    policy = _google(links, domains=["Example.com"])
    assert await policy.user_id(_claims(_email(), sub, hd="example.com")) == derived_uid(GOOGLE_ISSUER, sub)
    assert await policy.user_id(_claims(_email("alias.dev"), hd="EXAMPLE.COM"))


async def test_other_providers_admit_by_the_verified_email_domain_and_ignore_hd(links):
    policy = SignInPolicy(issuer="https://login.example.net", links=links, domains=["example.com"])
    assert await policy.user_id(_claims(_email()))
    outsider = _email("other.org")
    with pytest.raises(SignInRefused, match="may not sign in.*ask your administrator") as refused:
        await policy.user_id(_claims(outsider, hd="example.com"))
    assert refused.value.account == outsider  # the refusal page names who signed in


async def test_an_unverified_address_names_the_refused_account_on_its_page_and_nowhere_else(links):
    claims = {"sub": _sub(), "email": "boss@example.com", "email_verified": False}
    with pytest.raises(SignInRefused, match="not verified") as refused:
        await SignInPolicy(issuer="https://login.example.net", links=links, domains=["example.com"]).user_id(claims)
    assert refused.value.account == "boss@example.com"  # shown as who signed in; admitted no one
    assert await links.owner("boss@example.com") is None


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1", "email": "ann@example.com", "email_verified": False, "hd": "example.com"},
        {"sub": "1", "email": "ann@example.com", "hd": "example.com"},
        {"sub": "1", "hd": "example.com"},
        {"email": "ann@example.com", "email_verified": True, "hd": "example.com"},
        {"sub": "", "email": "ann@example.com", "email_verified": True, "hd": "example.com"},
        {"sub": "x" * 256, "email": "ann@example.com", "email_verified": True, "hd": "example.com"},
    ],
)
async def test_tokens_without_a_verified_email_or_an_account_id_are_refused(links, claims):
    with pytest.raises(SignInRefused, match="not verified|names no usable account"):
        await _google(links, domains=["example.com"]).user_id(claims)


async def test_the_allowlist_admits_exact_addresses_only(links):
    guest = _email("other.org")
    policy = _google(links, emails=[guest.upper()])
    assert await policy.user_id(_claims(guest))
    with pytest.raises(SignInRefused, match="may not sign in"):
        await policy.user_id(_claims(_email("other.org")))


async def test_a_workspace_account_claims_the_record_of_its_address_and_keeps_it_after_a_rename(links, user_repo):
    email, sub = _email(), _sub()
    await user_repo.create(UserRecord(uid=email))
    policy = _google(links, domains=["example.com"])
    assert await policy.user_id(_claims(email, sub, hd="example.com")) == email
    assert await policy.user_id(_claims(_email(), sub, hd="example.com")) == email  # renamed: same user
    other = _sub()  # the old address, now given to a new employee
    assert await policy.user_id(_claims(email, other, hd="example.com")) == derived_uid(GOOGLE_ISSUER, other)


async def test_a_required_user_record_admits_pre_provisioned_accounts_only(links, user_repo):
    gmail, work = _email("gmail.com"), _email()
    await user_repo.create(UserRecord(uid=gmail))
    await user_repo.create(UserRecord(uid=work))
    policy = _google(links, require_user_record=True)
    assert await policy.user_id(_claims(gmail)) == gmail  # Google owns gmail.com addresses
    assert await policy.user_id(_claims(work, hd="example.com")) == work  # and Workspace accounts' addresses
    with pytest.raises(SignInRefused, match="no user record"):
        await policy.user_id(_claims(_email("gmail.com")))
    with pytest.raises(SignInRefused, match="no user record"):
        await policy.user_id(_claims(work, hd="example.com"))  # a second account with the same address


async def test_a_personal_google_account_with_a_work_address_cannot_claim_its_record(links, user_repo):
    email = _email()
    await user_repo.create(UserRecord(uid=email))
    with pytest.raises(SignInRefused, match="no user record"):
        await _google(links, require_user_record=True).user_id(_claims(email, hd=None))
    assert await links.owner(email) is None


def _giving(links: IdentityLinks, user_repo: UserRepository, **rules) -> SignInPolicy:
    """The policy as the deployment builds it: an admitted account gets a record with the defaults."""
    return _google(links, users=user_repo, default_scopes=["mcp:tools"], default_toolsets=["basics"], **rules)


async def test_an_account_a_rule_admits_gets_a_record_with_the_defaults_at_sign_in(links, user_repo):
    """The sign-in rules are the admission decision: the user they admit is not then refused for lack of a record
    (MCP_AUTH_FIRST_LOGIN=reject, the default, applies to the other providers)."""
    by_domain, sub = _email(), _sub()
    uid = await _giving(links, user_repo, domains=["example.com"]).user_id(_claims(by_domain, sub, hd="example.com"))
    by_address = _email("elsewhere.org")
    named = await _giving(links, user_repo, emails=[by_address]).user_id(_claims(by_address, hd="elsewhere.org"))
    for created in (uid, named):
        record = await user_repo.get(created)
        assert record is not None and record.active
        assert (record.scopes, record.toolsets) == (frozenset({"mcp:tools"}), frozenset({"basics"}))


async def test_sign_in_leaves_an_existing_record_as_it_is_disabled_or_not(links, user_repo):
    email = _email()
    await user_repo.create(UserRecord(uid=email, status="disabled", scopes=frozenset({"notes:read"})))
    policy = _giving(links, user_repo, domains=["example.com"])
    assert await policy.user_id(_claims(email, hd="example.com")) == email
    record = await user_repo.get(email)
    assert record is not None and not record.active and record.scopes == frozenset({"notes:read"})


async def test_the_required_user_record_rule_creates_no_record(links, user_repo):
    email, sub = _email("gmail.com"), _sub()
    with pytest.raises(SignInRefused, match="no user record"):
        await _giving(links, user_repo, require_user_record=True).user_id(_claims(email, sub))
    assert await user_repo.get(email) is None and await user_repo.get(derived_uid(GOOGLE_ISSUER, sub)) is None
