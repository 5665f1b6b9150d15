"""Entra groups overage (lib/mcp_auth/oauth/graph.py) against real stand-ins: oidc-provider on loopback playing
Entra (its ID tokens leave ``groups`` out and carry ``_claim_names``/``_claim_sources`` or ``hasgroups``), a
loopback Microsoft Graph that checks the bearer token at the stand-in's userinfo endpoint and pages the groups,
and the authorization server in process on the Firestore emulator.

The groups come from Graph at sign-in and again at each refresh, and grant what they are mapped to; Graph
failing is a retryable 503 (the refresh token still works), Graph refusing the token ends the sign-in, and
hostile or oversized answers refuse the sign-in with the refusal page, never a 500.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import pytest

from mcp_auth.devtools.emulator import free_port
from mcp_auth.oauth.graph import overage
from mcp_auth.oauth.upstream import Upstream
from mcp_auth.presets import build_preset
from tests._fixtures.oauth import upstream_client
from tests.oauth.pages import is_refusal, page_text
from tests.oauth.test_recheck import UPSTREAM_CLIENT, Flow, MakeFlow, make_flow  # noqa: F401 (a fixture)
from tests.oidc.protocol import same_endpoint, with_login_hint

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLAIMS = {  # Entra sends groups (or says where they are) whatever the scopes
    "openid": ["sub", "tid", "oid", "groups", "hasgroups", "_claim_names", "_claim_sources"],
    "email": ["email_verified", "preferred_username"],
    "profile": ["name"],
}
OVERAGE = {  # what Entra puts in an ID token in place of more than 200 groups
    "_claim_names": {"groups": "src1"},
    "_claim_sources": {"src1": {"endpoint": "https://graph.windows.net/tenant/users/oid/getMemberObjects"}},
}


def _guid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def entra(oidc_server_factory, make_flow: MakeFlow, graph_stand_in) -> Flow:  # noqa: F811
    origin = f"http://127.0.0.1:{free_port()}"
    secret = secrets.token_urlsafe(32)
    idp = oidc_server_factory(
        clients=[upstream_client(secret, origin)],
        claims=CLAIMS,
        scopes=["User.Read"],
        rotate_refresh_tokens=True,
    )
    graph = graph_stand_in(idp.metadata["userinfo_endpoint"])
    preset = build_preset("entra", tenants=(TENANT,))

    async def client_secret() -> str:
        return secret

    def step(http: httpx.AsyncClient) -> Upstream:
        return Upstream(
            issuer=idp.issuer,
            client_id=UPSTREAM_CLIENT,
            client_secret=client_secret,
            http=lambda: http,
            scopes=" ".join(preset.scopes),
            tenants=preset.tenants,
            graph=graph.url,
        )

    flow = await make_flow(
        origin, step, issuer=idp.issuer, sign_in_page=idp.authorization_endpoint, preset=preset, group=_guid()
    )
    flow.idp, flow.stand_in = idp, graph
    return flow


async def _account(entra: Flow, listed: list[str], **claims: Any) -> tuple[str, str]:
    """An account of the tenant (its ID token's further ``claims``) whose groups Graph lists as ``listed``."""
    account, oid = f"e-{uuid.uuid4().hex[:8]}", _guid()
    await entra.idp.add_account(account, tid=TENANT, oid=oid, preferred_username=f"{account}@contoso.com", **claims)
    entra.stand_in.groups[account] = listed
    return account, oid


async def _callback_answer(entra: Flow, account: str) -> httpx.Response:
    """Sign in upstream as ``account``: our answer to the provider's redirect (consent page, refusal, error)."""
    registered = await entra.browser.post(
        f"{entra.origin}/oauth/register", json={"redirect_uris": ["http://localhost:3030/callback"], "client_name": "t"}
    )
    url = f"{entra.origin}/oauth/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": registered.json()["client_id"],
            "redirect_uri": "http://localhost:3030/callback",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
            "state": "s1",
        }
    )
    for _ in range(20):
        if same_endpoint(url, entra.sign_in_page):
            url = with_login_hint(url, account)
        r = await entra.browser.get(url)
        if not r.is_redirect or r.url.path == "/oauth/callback":
            return r
        url = urljoin(str(r.url), r.headers["location"])
    raise AssertionError("no callback")


def test_overage_is_read_from_claim_names_or_hasgroups_and_never_when_groups_are_sent():
    assert overage(OVERAGE) and overage({"hasgroups": True})
    assert not overage({**OVERAGE, "groups": []}) and not overage({"hasgroups": "true"}) and not overage({})
    assert not overage({"_claim_names": {"roles": "src1"}})


async def test_an_account_in_too_many_groups_gets_them_from_graph_and_loses_one_by_the_next_refresh(entra, user_repo):
    others = [_guid() for _ in range(249)]
    entra.stand_in.page_size = 100  # three pages
    account, oid = await _account(entra, [entra.group.upper(), *others], **OVERAGE)
    tokens = await entra.sign_in(account)
    record = await user_repo.get(entra.uid(oid))
    assert record is not None and entra.group in record.groups and len(record.groups) == 250
    assert "profile" in record.toolsets  # the mapped group, read from Graph (case-insensitive GUID)
    assert len(entra.stand_in.requests) == 3 and "$top=999" in entra.stand_in.requests[0]

    entra.stand_in.groups[account] = others  # removed from the mapped group in Entra
    refreshed = await entra.refresh(tokens)
    assert refreshed.status_code == 200, refreshed.text
    record = await user_repo.get(entra.uid(oid))
    assert record is not None and entra.group not in record.groups and "profile" not in record.toolsets
    assert len(entra.stand_in.requests) == 6  # asked again at the refresh, with the refreshed access token
    assert entra.stand_in.tokens[3] != entra.stand_in.tokens[0]


async def test_hasgroups_also_sends_the_sign_in_to_graph(entra, user_repo):
    account, oid = await _account(entra, [entra.group], hasgroups=True)
    await entra.sign_in(account)
    record = await user_repo.get(entra.uid(oid))
    assert record is not None and record.groups == (entra.group,) and "profile" in record.toolsets


async def test_groups_in_the_id_token_are_used_as_sent_and_graph_is_not_asked(entra, user_repo):
    account, oid = await _account(entra, [], groups=[entra.group])
    await entra.sign_in(account)
    record = await user_repo.get(entra.uid(oid))
    assert record is not None and "profile" in record.toolsets and entra.stand_in.requests == []


async def test_graph_failing_at_a_refresh_is_retry_and_the_refresh_token_still_works(entra, user_repo):
    account, oid = await _account(entra, [entra.group], **OVERAGE)
    tokens = await entra.sign_in(account)
    for status in (503, 429):  # each after the provider rotated its refresh token: the new one is kept
        entra.stand_in.answers.append((status, b'{"error": {"code": "serviceNotAvailable"}}'))
        put_off = await entra.refresh(tokens)
        assert put_off.status_code == 503 and put_off.json()["error"] == "temporarily_unavailable", put_off.text
        assert f"Microsoft Graph answered HTTP {status}" in put_off.json()["error_description"]
    entra.stand_in.answers.append((403, b'{"error": {"code": "Authorization_RequestDenied"}}'))
    denied_app = await entra.refresh(tokens)  # the app lacks the permission: this deployment's problem
    assert denied_app.status_code == 503 and "User.Read" in denied_app.json()["error_description"]
    refreshed = await entra.refresh(tokens)
    assert refreshed.status_code == 200, refreshed.text  # the same refresh token, once Graph answers


async def test_graph_refusing_the_token_at_a_refresh_ends_the_sign_in(entra):
    account, _ = await _account(entra, [entra.group], **OVERAGE)
    tokens = await entra.sign_in(account)
    entra.stand_in.answers.append((401, b'{"error": {"code": "InvalidAuthenticationToken"}}'))
    refused = await entra.refresh(tokens)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert "Microsoft Graph did not accept" in refused.json()["error_description"]


async def test_graph_unavailable_at_sign_in_is_a_clear_503_naming_what_to_check(entra):
    account, _ = await _account(entra, [entra.group], **OVERAGE)
    entra.stand_in.answers.append((403, b"{}"))
    answer = await _callback_answer(entra, account)
    assert answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable", answer.text
    assert "delegated Microsoft Graph permission User.Read" in answer.json()["error_description"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((200, json.dumps({"value": [{"id": "not-a-guid"}]}).encode()), "malformed or too large"),
        ((200, json.dumps({"value": [{"id": str(uuid.uuid4())} for _ in range(300)]}).encode()), "more than 256"),
        ((200, b"[" * 10_000), "malformed or too large"),
        ((200, b'{"value": "' + b"a" * 600_000 + b'"}'), "malformed or too large"),
        ((200, json.dumps({"value": [], "@odata.nextLink": "http://169.254.169.254/x"}).encode()), "malformed"),
        ((401, b"{}"), "did not accept this sign-in's access token"),
    ],
)
async def test_hostile_or_refused_graph_answers_at_sign_in_are_the_refusal_page(entra, answer, reason):
    account, _ = await _account(entra, [], **OVERAGE)
    entra.stand_in.answers.append(answer)
    page = await _callback_answer(entra, account)
    assert is_refusal(page), (page.status_code, page.text[:300])
    text = page_text(page.text)
    assert reason in text and f"as {account}@contoso.com" in text and "You signed in to Microsoft" in text


async def test_more_groups_than_graph_pages_allow_are_refused_not_cut(entra):
    entra.stand_in.page_size = 50  # four pages of groups: more than the pages read
    account, _ = await _account(entra, [_guid() for _ in range(200)], **OVERAGE)
    page = await _callback_answer(entra, account)
    assert is_refusal(page) and "malformed or too large" in page_text(page.text)
