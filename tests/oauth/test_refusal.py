"""The refusal page: what happened in the refusal's words, the account named (isolated, bounded), and a link
back to the client's redirect URI with error=access_denied; whatever the claims hold, escaped and bounded."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from mcp_auth.oauth.refusal import MAX_ACCOUNT, MAX_NAME, MAX_REASON, plain, refusal_response, render_refusal_page
from mcp_auth.presets import SignInRefused
from tests.oauth.pages import page_text, refusal_link

REDIRECT = "http://127.0.0.1:3030/callback"
PENDING = {"redirect_uri": REDIRECT, "client_name": "Claude", "state": "s1"}
BACK = {"iss": "https://mcp.example.com", "state": "s1"}


def _page(refused: SignInRefused, **pending: str | None) -> str:
    response = refusal_response(
        refused, pending={**PENDING, **pending}, back=BACK, issuer="https://mcp.example.com", preset="entra"
    )
    assert response.status_code == 403
    return bytes(response.body).decode()


def test_the_page_says_who_signed_in_why_they_are_refused_and_returns_to_the_client():
    refused = SignInRefused("Your Microsoft account belongs to another organisation.", account="ann@contoso.com")
    page = _page(refused)
    text = page_text(page)
    assert "You signed in to Microsoft as ann@contoso.com, but this server does not accept that account." in text
    assert "Why: Your Microsoft account belongs to another organisation." in text
    assert "Return to “Claude”" in text and "an app on this computer (127.0.0.1:3030)" in text
    assert "administrator of mcp.example.com" in text
    assert "<bdi>ann@contoso.com</bdi>" in page
    link = urlsplit(refusal_link(page))
    assert f"{link.scheme}://{link.netloc}{link.path}" == REDIRECT
    assert parse_qs(link.query) == {
        "error": ["access_denied"],
        "error_description": ["Your Microsoft account belongs to another organisation."],
        "iss": ["https://mcp.example.com"],
        "state": ["s1"],
    }


def test_without_an_account_or_an_app_name_the_page_still_reads():
    text = page_text(_page(SignInRefused("No."), client_name=None))
    assert "You signed in to Microsoft, but this server does not accept that account." in text
    assert "Return to the app" in text and "The app gets no access" in text


def test_a_redirect_uri_with_a_query_keeps_it_and_adds_the_error():
    link = refusal_link(_page(SignInRefused("No."), redirect_uri="https://app.example/cb?tenant=a&x=1"))
    assert link.startswith("https://app.example/cb?tenant=a&x=1&error=access_denied&")


def test_hostile_claim_values_are_escaped_isolated_and_bounded():
    hostile = '<script>alert(1)</script>"\u202e\u2066moc.live@'
    refused = SignInRefused(f"The account {hostile} may not sign in. " + "x" * 5000, account=hostile + "a" * 5000)
    page = _page(refused, client_name=hostile + "n" * 500)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "\u202e" not in page and "\u2066" not in page  # no override left to reorder the sentence
    assert page.count("<bdi>") == 4  # the account once, the app's name at each of its three mentions
    text = page_text(page)
    account = text.split("as ", 1)[1].split(", but", 1)[0]
    assert len(account) == MAX_ACCOUNT and account.endswith("…")
    name = text.split("Return to “", 1)[1].split("”", 1)[0]
    assert len(name) == MAX_NAME and name.endswith("n…")
    description = parse_qs(urlsplit(refusal_link(page)).query)["error_description"][0]
    assert len(description) == MAX_REASON and "\u202e" not in description
    assert len(page) < 8000


def test_plain_drops_invisible_characters_and_bounds_any_length():
    assert plain("a\u200bb\u202ec\x00d", 10) == "abcd"
    assert plain("y" * 10**7, 5) == "yyyy…"
    assert plain("z" * 5, 5) == "zzzzz"


def test_the_provider_is_named_by_preset_or_generically():
    common = {"reason": "r", "account": None, "client_name": None, "redirect_uri": REDIRECT, "return_url": REDIRECT}
    assert "signed in to GitHub" in page_text(render_refusal_page(**common, provider="GitHub", server="s"))
    assert "signed in to the sign-in provider" in page_text(render_refusal_page(**common, provider=None, server="s"))
