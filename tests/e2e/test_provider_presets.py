"""Provider presets end to end: oidc-provider on loopback emits each preset's claim layout (Google with and
without ``hd``, Entra with ``tid``/``oid`` and no ``email_verified``, Okta with ``groups``), and the `mcp`
client signs in through a round-robin proxy over two instances of the function, so the authorization request,
the upstream callback, the consent answer, the token and the tool call land on alternating instances.

Each refusal case is answered with a page that names the account, says why it is refused and what to do, and
whose link returns to the client with ``access_denied`` and the request's state; in each preset an
unverified email is planted and is never used to identify the account, to admit it or to find a record.

Each refresh asks the provider again: a member removed from a mapped group at the stand-in loses the group's
toolset at the client's next refresh (the SDK refreshes by itself once its access token has expired), and an
account removed at the provider gets ``invalid_grant``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client

from mcp_auth.oauth.groups import GroupGrants
from mcp_auth.store.identities import derived_uid
from mcp_auth.store.users import UserRecord
from tests._fixtures.firestore import TEST_PROJECT
from tests._fixtures.http import mcp_request
from tests._fixtures.oauth import store_secrets, upstream_client
from tests.e2e.test_builtin_oauth import UPSTREAM_CLIENT, Deployment, _sdk_oauth
from tests.oauth.documents import serve_documents
from tests.oauth.pages import page_text
from tests.oidc.helper import MemoryStorage

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
AUTH0_GROUPS = "https://mcp.example.com/groups"
"""Auth0 sends groups only in a namespaced custom claim (an Action adds it to the ID token)."""
CLAIMS = {  # which claims the stand-in puts in the ID token, per scope: every preset's layout
    "openid": ["sub", "hd", "tid", "oid", "roles", AUTH0_GROUPS, "employee_id"],
    "email": ["email", "email_verified", "preferred_username", "mail"],
    "profile": ["name"],
    "groups": ["groups"],
}
PRESETS: dict[str, dict[str, str]] = {
    "google": {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "google", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com"},
    "entra": {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "entra", "MCP_AUTH_OAUTH_UPSTREAM_TENANTS": TENANT},
    "okta": {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "okta", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com"},
    "auth0": {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "auth0", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com"},
    "keycloak": {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "keycloak", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com"},
    "oidc": {"MCP_AUTH_OAUTH_UPSTREAM_PRESET": "oidc", "MCP_AUTH_OAUTH_ALLOWED_DOMAINS": "example.com"},
}


@pytest.fixture
def pair(request, oidc_server_factory, start_function, drongo_endpoint, round_robin_proxy):
    """Two instances of the function behind the proxy, signing in through the preset named by the indirect
    parameter (``{"preset": name, **extra environment}``)."""
    param = dict(request.param)
    preset = param.pop("preset")
    stand_in = param.pop("idp", {})  # the stand-in's own settings (OidcSettings fields)
    proxy = round_robin_proxy()
    url = f"{proxy.url}/mcp"
    upstream_secret = secrets.token_urlsafe(32)
    idp = oidc_server_factory(
        clients=[upstream_client(upstream_secret, proxy.url)],
        **{"claims": CLAIMS, "scopes": ["groups"], **stand_in},
    )
    suffix = store_secrets(drongo_endpoint, upstream_secret=upstream_secret)
    env = {
        **pair_env(url, drongo_endpoint, f"oauth-signing-{suffix}"),
        "MCP_AUTH_OAUTH_UPSTREAM_ISSUER": idp.issuer,
        "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID": UPSTREAM_CLIENT,
        "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET": f"oauth-upstream-{suffix}",
        **PRESETS[preset],
        **param,
    }
    a, b = (start_function(**env) for _ in range(2))
    proxy.route_to([a.base, b.base])
    with serve_documents() as documents:
        yield Deployment(url, idp, documents), proxy, (a, b)


def pair_env(url: str, drongo_endpoint: str, signing_secret: str) -> dict[str, str | None]:
    """The environment of an instance with the built-in authorization server, but for its upstream."""
    return {
        "MCP_AUTH_RESOURCE_URL": url,
        "MCP_AUTH_PROVIDERS": "oauth",
        "MCP_AUTH_JWT_HS256_KEY": None,
        "MCP_AUTH_JWT_ISSUER": None,
        "MCP_AUTH_SECRET_MANAGER_ENDPOINT": drongo_endpoint,
        "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET": signing_secret,
        "MCP_AUTH_OAUTH_ALLOW_LOOPBACK": "true",
        "MCP_AUTH_FIRST_LOGIN": None,
        "MCP_AUTH_DEFAULT_TOOLSETS": "basics",
        "MCP_AUTH_DEFAULT_SCOPES": "mcp:tools",
        "MCP_AUTH_OAUTH_REGISTRATION_RATE": "1000",
        "MCP_AUTH_OAUTH_AUTHORIZE_RATE": "10000",
        "MCP_AUTH_OAUTH_TOKEN_RATE": "10000",
    }


def preset(name: str, idp: dict[str, Any] | None = None, **env: str) -> Any:
    """The preset ``name`` with ``env``; ``idp``: settings of the stand-in (its issuer path, its claims)."""
    return pytest.mark.parametrize("pair", [{"preset": name, "idp": idp or {}, **env}], indirect=True)


async def _connect(deployment: Deployment, account: str, storage: MemoryStorage | None = None) -> dict[str, Any]:
    """The MCP SDK's OAuth client signs in as ``account`` and calls whoami and tools/list."""
    storage = storage or MemoryStorage()
    oauth = _sdk_oauth(deployment, storage, [], account=account)
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(deployment.url, http_client=http), raise_exceptions=True) as client:
            who = await client.call_tool("whoami", {})
            tools = await client.list_tools()
    return {**(who.structured_content or {}), "tools": sorted(t.name for t in tools.tools)}


async def _refreshed_tools(
    oauth: OAuthClientProvider, storage: MemoryStorage, url: str, uid: str, instances: Any
) -> set[str]:
    """The client's access token has expired: it refreshes by itself, then lists tools (on both instances, once
    each has heard of the change to the user's record that the refresh made, as both cache records)."""
    assert storage.tokens is not None
    before = storage.tokens.refresh_token
    heard = [instance.revocations_applied(uid) for instance in instances]
    oauth.context.token_expiry_time = time.time() - 1
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), raise_exceptions=True) as client:
            assert storage.tokens.refresh_token != before  # refreshed (a new sign-in would have failed the test)
            for instance, count in zip(instances, heard, strict=True):
                await instance.heard(uid, more_than=count)
            listed = [{tool.name for tool in (await client.list_tools()).tools} for _ in range(2)]
    assert listed[0] == listed[1], listed
    return listed[0]


async def _refused(deployment: Deployment, account: str, *, shown: str | None = None) -> str:
    """Sign in as ``account`` and be refused: the refusal page's text, after checking that its link returns to
    the client with ``access_denied``, the request's state and the issuer (and, with ``shown``, that the page
    names the account so)."""
    client_id = await deployment.register()
    before = len(deployment.refusals)
    query, _ = await deployment.sign_in(client_id, account=account)
    assert query.get("error") == "access_denied" and "code" not in query, query
    assert query.get("state") == "s1" and query.get("iss") == deployment.base, query
    (page,) = deployment.refusals[before:]
    text = page_text(page)
    assert "Sign-in refused" in text and "Return to “t”" in text, text
    assert query["error_description"] in text, (query, text)  # the client is told what the person read
    if shown is not None:
        assert f"as {shown}, but this server does not accept that account." in text, text
    return text


def _both_served(proxy: Any) -> None:
    assert len([hits for hits in proxy.hits.values() if hits]) == 2, proxy.hits


# -- google -------------------------------------------------------------------------------------
@preset("google")
async def test_google_workspace_account_signs_in_on_two_instances(pair):
    deployment, proxy, _ = pair
    account = f"g-{uuid.uuid4().hex[:8]}"
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True, hd="example.com")
    who = await _connect(deployment, account)
    assert who["user_id"] == derived_uid(deployment.idp.issuer, account) and who["scopes"] == ["mcp:tools"]
    _both_served(proxy)


@preset("google")
async def test_google_personal_account_in_the_domain_is_refused_for_lack_of_hd(pair):
    deployment, _, _ = pair
    account = f"p-{uuid.uuid4().hex[:8]}"
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True)  # no hd
    reason = await _refused(deployment, account, shown=f"{account}@example.com")
    assert "You signed in to Google as" in reason
    assert "personal Google account" in reason and "work account" in reason


@preset("google")
async def test_google_unverified_email_finds_no_record_and_admits_no_one(pair, user_repo):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    planted = f"boss-{tag}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    await deployment.idp.add_account(f"x-{tag}", email=planted, email_verified=False, hd="example.com")
    reason = await _refused(deployment, f"x-{tag}", shown=planted)  # shown as who signed in, nothing more
    assert "not verified" in reason
    assert (await user_repo.get(planted)) is not None and (
        await user_repo.get(derived_uid(deployment.idp.issuer, f"x-{tag}"))
    ) is None


# -- entra ------------------------------------------------------------------------------------------
@preset("entra")
async def test_entra_account_is_its_oid_in_the_tenant_and_signs_in_on_two_instances(pair):
    deployment, proxy, _ = pair
    tag = uuid.uuid4().hex[:8]
    oid = str(uuid.uuid4())
    await deployment.idp.add_account(
        f"pairwise-{tag}", tid=TENANT, oid=oid, preferred_username=f"ann-{tag}@example.com", name="Ann"
    )
    who = await _connect(deployment, f"pairwise-{tag}")
    assert who["user_id"] == derived_uid(deployment.idp.issuer, oid)  # oid, not the per-app sub
    _both_served(proxy)


@preset("entra")
async def test_entra_account_of_another_tenant_is_refused(pair):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    await deployment.idp.add_account(f"o-{tag}", tid=OTHER_TENANT, oid=str(uuid.uuid4()), email=f"o-{tag}@example.com")
    reason = await _refused(deployment, f"o-{tag}", shown=f"o-{tag}@example.com")
    assert "You signed in to Microsoft as" in reason
    assert f"Your Microsoft account belongs to another organisation (Microsoft Entra tenant {OTHER_TENANT})" in reason
    assert "Sign in with the work account your organisation gave you, or ask your administrator" in reason


@preset("entra")
async def test_a_hostile_name_of_a_refused_account_is_escaped_isolated_and_bounded_on_the_page(pair):
    """A tenant's administrator chooses its accounts' names: markup, a right-to-left override and a very long
    name reach the refusal page as text, isolated and cut."""
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    hostile = f'<img src=x onerror="alert(1)">\u202e{tag}' + "w" * 250  # within the 320 a name may have
    await deployment.idp.add_account(f"h-{tag}", tid=OTHER_TENANT, oid=str(uuid.uuid4()), preferred_username=hostile)
    before = len(deployment.refusals)
    text = await _refused(deployment, f"h-{tag}")
    (page,) = deployment.refusals[before:]
    assert "<img" not in page and "&lt;img src=x" in page and "\u202e" not in page
    assert f"<bdi>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;{tag}" in page
    shown = text.split("You signed in to Microsoft as ", 1)[1].split(", but", 1)[0]
    assert len(shown) == 120 and shown.endswith("w…")


@preset("entra")
async def test_entra_email_and_preferred_username_never_reach_a_record(pair, user_repo):
    """Entra lets a tenant's administrator set any address on an account: an account whose email and
    preferred_username name an existing record's uid signs in as its own oid, and that record is untouched."""
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    planted = f"ceo-{tag}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    oid = str(uuid.uuid4())
    await deployment.idp.add_account(
        f"m-{tag}", tid=TENANT, oid=oid, email=planted, email_verified=True, preferred_username=planted
    )
    who = await _connect(deployment, f"m-{tag}")
    assert who["user_id"] == derived_uid(deployment.idp.issuer, oid) != planted
    assert "get_profile" not in who["tools"]
    record = await user_repo.get(planted)
    assert record is not None and record.version  # still there, never claimed


@preset("entra", MCP_AUTH_OAUTH_GROUP_GRANTS=json.dumps({"Reports.Admin": {"toolsets": ["profile"]}}))
async def test_entra_app_roles_grant_toolsets_from_the_deployment_mapping(pair):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    oid = str(uuid.uuid4())
    await deployment.idp.add_account(f"r-{tag}", tid=TENANT, oid=oid, roles=["Reports.Admin"])
    who = await _connect(deployment, f"r-{tag}")
    assert "get_profile" in who["tools"]


# -- okta -------------------------------------------------------------------------------------------
@preset("okta")
async def test_okta_account_signs_in_on_two_instances(pair):
    deployment, proxy, _ = pair
    account = f"k-{uuid.uuid4().hex[:8]}"
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True, groups=["Everyone"])
    who = await _connect(deployment, account)
    assert who["user_id"] == derived_uid(deployment.idp.issuer, account)
    _both_served(proxy)


@preset("okta")
async def test_okta_unverified_email_in_the_allowed_domain_is_refused(pair, user_repo):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    planted = f"admin-{tag}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    await deployment.idp.add_account(f"u-{tag}", email=planted, email_verified=False)
    reason = await _refused(deployment, f"u-{tag}")
    assert "not verified" in reason


@preset("okta", MCP_AUTH_USER_CACHE_TTL="600")
async def test_removing_a_group_from_the_mapping_removes_its_toolset_by_the_next_refresh(pair, user_repo):
    """The group is mapped with ``mcp-auth groups`` (the Firestore document); the member signs in and has
    the toolset; the group is unmapped; the member's next refresh takes it away, on either instance."""
    deployment, _, instances = pair
    tag = uuid.uuid4().hex[:8]
    group, account = f"eng-{tag}", f"e-{tag}"
    from mcp_auth.store.firestore import firestore_client

    grants = GroupGrants(configured={}, client=firestore_client(project=TEST_PROJECT), users=user_repo)
    await grants.map(group, toolsets=["profile"], scopes=["profile:write"])
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True, groups=[group])
    storage = MemoryStorage()
    who = await _connect(deployment, account, storage)
    uid = derived_uid(deployment.idp.issuer, account)
    assert "get_profile" in who["tools"] and "profile:write" in who["scopes"]

    await grants.unmap(group, toolsets=["profile"], scopes=["profile:write"])
    record = await user_repo.get(uid)
    assert record is not None and "profile" in record.toolsets  # nothing changes until a refresh
    assert storage.client is not None and storage.tokens is not None and storage.tokens.refresh_token
    heard = [instance.revocations_applied(uid) for instance in instances]
    refreshed = await deployment.refresh(storage.client.client_id, storage.tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    record = await user_repo.get(uid)
    assert record is not None and "profile" not in record.toolsets and "profile:write" not in record.scopes
    for instance, before in zip(instances, heard, strict=True):  # both cache the record for 10 minutes
        await instance.heard(uid, more_than=before)
    async with httpx.AsyncClient() as http:
        for _ in range(2):  # one request on each instance
            listed = await http.post(
                deployment.url, **mcp_request("tools/list", {}, token=refreshed.json()["access_token"])
            )
            assert listed.status_code == 200 and "get_profile" not in listed.text, listed.text


@preset("okta")
async def test_a_member_removed_from_a_group_upstream_loses_its_toolset_at_the_next_sign_in(pair, user_repo):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    group, account = f"ops-{tag}", f"o-{tag}"
    from mcp_auth.store.firestore import firestore_client

    grants = GroupGrants(configured={}, client=firestore_client(project=TEST_PROJECT), users=user_repo)
    await grants.map(group, toolsets=["profile"])
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True, groups=[group])
    assert "get_profile" in (await _connect(deployment, account))["tools"]
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True, groups=[])
    assert "get_profile" not in (await _connect(deployment, account))["tools"]
    record = await user_repo.get(derived_uid(deployment.idp.issuer, account))
    assert record is not None and record.groups == () and "profile" not in record.toolsets
    await grants.unmap(group)


@preset("okta")
async def test_a_hostile_groups_claim_is_refused_with_a_clear_message(pair):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    await deployment.idp.add_account(
        f"h-{tag}", email=f"h-{tag}@example.com", email_verified=True, groups=[f"g{i}" for i in range(300)]
    )
    reason = await _refused(deployment, f"h-{tag}")
    assert "more than 256" in reason


@preset("okta", MCP_AUTH_USER_CACHE_TTL="600")
async def test_a_member_removed_from_a_mapped_group_upstream_loses_its_toolset_by_the_next_refresh(pair, user_repo):
    """The SDK client signs in as a member of a group mapped to the profile toolset; the member is removed from
    the group at the provider; the client's next refresh asks the provider, whose new ID token lists no such
    group, and its tools no longer include the toolset's, on either instance."""
    deployment, proxy, instances = pair
    tag = uuid.uuid4().hex[:8]
    group, account = f"sre-{tag}", f"s-{tag}"
    from mcp_auth.store.firestore import firestore_client

    grants = GroupGrants(configured={}, client=firestore_client(project=TEST_PROJECT), users=user_repo)
    await grants.map(group, toolsets=["profile"])
    claims = {"email": f"{account}@example.com", "email_verified": True}
    await deployment.idp.add_account(account, **claims, groups=[group, "Everyone"])
    storage, sign_ins = MemoryStorage(), []
    oauth = _sdk_oauth(deployment, storage, sign_ins, account=account)
    async with httpx2.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(deployment.url, http_client=http), raise_exceptions=True) as client:
            assert "get_profile" in {tool.name for tool in (await client.list_tools()).tools}
    uid = derived_uid(deployment.idp.issuer, account)

    await deployment.idp.add_account(account, **claims, groups=["Everyone"])  # removed from the group upstream
    tools = await _refreshed_tools(oauth, storage, deployment.url, uid, instances)
    assert "get_profile" not in tools and "whoami" in tools and len(sign_ins) == 1
    record = await user_repo.get(uid)
    assert record is not None and record.groups == ("Everyone",) and "profile" not in record.toolsets
    _both_served(proxy)
    await grants.unmap(group)


@preset("okta")
async def test_an_account_removed_at_the_provider_gets_invalid_grant_at_the_next_refresh(pair):
    deployment, _, _ = pair
    account = f"r-{uuid.uuid4().hex[:8]}"
    await deployment.idp.add_account(account, email=f"{account}@example.com", email_verified=True)
    storage = MemoryStorage()
    await _connect(deployment, account, storage)
    assert storage.client is not None and storage.tokens is not None and storage.tokens.refresh_token
    await deployment.idp.remove_account(account)
    refused = await deployment.refresh(storage.client.client_id, storage.tokens.refresh_token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert "no longer accepts this sign-in" in refused.json()["error_description"]


# -- auth0 ------------------------------------------------------------------------------------------
@preset(
    "auth0",
    MCP_AUTH_OAUTH_GROUPS_CLAIM=AUTH0_GROUPS,
    MCP_AUTH_OAUTH_GROUP_GRANTS=json.dumps({"support": {"toolsets": ["profile"]}}),
)
async def test_auth0_account_with_namespaced_groups_signs_in_on_two_instances(pair):
    deployment, proxy, _ = pair
    account = f"auth0|{uuid.uuid4().hex[:12]}"
    await deployment.idp.add_account(
        account,
        email=f"a{uuid.uuid4().hex[:8]}@example.com",
        email_verified=True,
        groups=["other"],  # a plain groups claim is not where this deployment reads groups
        **{AUTH0_GROUPS: ["support"]},
    )
    who = await _connect(deployment, account)
    assert who["user_id"] == derived_uid(deployment.idp.issuer, account) and "get_profile" in who["tools"]
    _both_served(proxy)


@preset("auth0", MCP_AUTH_OAUTH_GROUPS_CLAIM=AUTH0_GROUPS)
async def test_auth0_unverified_email_in_the_allowed_domain_is_refused_and_finds_no_record(pair, user_repo):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    planted = f"owner-{tag}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    await deployment.idp.add_account(f"auth0|{tag}", email=planted, email_verified=False)
    reason = await _refused(deployment, f"auth0|{tag}")
    assert "not verified" in reason
    assert await user_repo.get(derived_uid(deployment.idp.issuer, f"auth0|{tag}")) is None


@preset("auth0", MCP_AUTH_OAUTH_GROUPS_CLAIM=AUTH0_GROUPS)
async def test_auth0_malformed_namespaced_groups_claim_is_refused_with_a_clear_message(pair):
    deployment, _, _ = pair
    account = f"auth0|{uuid.uuid4().hex[:12]}"
    await deployment.idp.add_account(
        account, email=f"m{uuid.uuid4().hex[:8]}@example.com", email_verified=True, **{AUTH0_GROUPS: {"a": 1}}
    )
    reason = await _refused(deployment, account)
    assert f"malformed {AUTH0_GROUPS} claim" in reason


# -- keycloak ---------------------------------------------------------------------------------------
KEYCLOAK = {"issuer_path": "/realms/acme", "claims": {**CLAIMS, "profile": ["name", "groups"]}}
"""A realm's issuer has a path; its group membership mapper puts the groups (as paths) in the ID token."""


@preset("keycloak", KEYCLOAK, MCP_AUTH_OAUTH_GROUP_GRANTS=json.dumps({"/engineering": {"toolsets": ["profile"]}}))
async def test_keycloak_realm_account_signs_in_on_two_instances_with_its_groups(pair):
    deployment, proxy, _ = pair
    assert deployment.idp.issuer.endswith("/realms/acme")
    account = str(uuid.uuid4())  # Keycloak's subjects are user ids (UUIDs)
    await deployment.idp.add_account(
        account, email=f"k{uuid.uuid4().hex[:8]}@example.com", email_verified=True, groups=["/engineering"]
    )
    storage = MemoryStorage()
    who = await _connect(deployment, account, storage)
    assert who["user_id"] == derived_uid(deployment.idp.issuer, account) and "get_profile" in who["tools"]
    _both_served(proxy)
    assert storage.client is not None and storage.tokens is not None and storage.tokens.refresh_token
    refreshed = await deployment.refresh(storage.client.client_id, storage.tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.text  # the realm's token endpoint asked again, under its path


@preset("keycloak", KEYCLOAK)
async def test_keycloak_unverified_email_in_the_allowed_domain_is_refused(pair):
    deployment, _, _ = pair
    account = str(uuid.uuid4())
    await deployment.idp.add_account(account, email=f"k{uuid.uuid4().hex[:8]}@example.com", email_verified=False)
    assert "not verified" in await _refused(deployment, account)


@preset("keycloak", KEYCLOAK)
async def test_keycloak_account_of_another_domain_is_refused(pair):
    deployment, _, _ = pair
    account = str(uuid.uuid4())
    await deployment.idp.add_account(account, email=f"k{uuid.uuid4().hex[:8]}@other.example", email_verified=True)
    assert "may not sign in" in await _refused(deployment, account)


# -- generic oidc -----------------------------------------------------------------------------------
@preset("oidc", MCP_AUTH_OAUTH_SUBJECT_CLAIM="employee_id", MCP_AUTH_OAUTH_EMAIL_CLAIM="mail")
async def test_generic_oidc_account_is_its_configured_subject_claim_and_signs_in_on_two_instances(pair):
    deployment, proxy, _ = pair
    tag = uuid.uuid4().hex[:8]
    await deployment.idp.add_account(
        f"o-{tag}", employee_id=f"E-{tag}", mail=f"o-{tag}@example.com", email_verified=True
    )
    who = await _connect(deployment, f"o-{tag}")
    assert who["user_id"] == derived_uid(deployment.idp.issuer, f"E-{tag}")  # the configured claim, not sub
    _both_served(proxy)


@preset("oidc", MCP_AUTH_OAUTH_SUBJECT_CLAIM="employee_id", MCP_AUTH_OAUTH_EMAIL_CLAIM="mail")
async def test_generic_oidc_without_the_subject_claim_is_refused(pair):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    await deployment.idp.add_account(f"o-{tag}", mail=f"o-{tag}@example.com", email_verified=True)
    reason = await _refused(deployment, f"o-{tag}")
    assert "names no usable account (employee_id)" in reason


@preset("oidc", MCP_AUTH_OAUTH_SUBJECT_CLAIM="employee_id", MCP_AUTH_OAUTH_EMAIL_CLAIM="mail")
async def test_generic_oidc_unverified_email_is_refused_and_the_standard_email_claim_is_not_read(pair, user_repo):
    deployment, _, _ = pair
    tag = uuid.uuid4().hex[:8]
    planted = f"root-{tag}@example.com"
    await user_repo.create(UserRecord(uid=planted, toolsets=frozenset({"basics", "profile"})))
    await deployment.idp.add_account(f"u-{tag}", employee_id=f"E-{tag}", mail=planted, email_verified=False)
    assert "not verified" in await _refused(deployment, f"u-{tag}")
    # a verified address in the standard claim is not the configured one: it admits no one
    await deployment.idp.add_account(f"v-{tag}", employee_id=f"F-{tag}", email=planted, email_verified=True)
    assert "not verified" in await _refused(deployment, f"v-{tag}")
    assert await user_repo.get(derived_uid(deployment.idp.issuer, f"F-{tag}")) is None
