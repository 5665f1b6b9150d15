"""What the consent page tells the user: facts the client cannot choose first, its own claims marked as such."""

from __future__ import annotations

import html
import re

from mcp_auth.oauth.consent_page import render_consent_page


def _page(client_id: str, *, name: str | None = "Claude", redirect_uri: str = "https://evil.example/cb") -> str:
    return render_consent_page(
        client_id=client_id,
        client_name=name,
        redirect_uri=redirect_uri,
        resource="https://mcp.example.com/mcp",
        user="ann@example.com",
        action="https://mcp.example.com/oauth/consent",
        approval="tok",
    )


def _text(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    inline = re.sub(r"</?(strong|bdi)>", "", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def test_a_metadata_document_client_is_introduced_by_its_host_and_its_name_is_only_its_claim():
    text = _text(_page("https://evil.example/cimd.json"))
    assert "An app published at evil.example asks for access." in text
    assert "It calls itself “Claude” (the app's own claim, not checked)." in text
    assert text.index("evil.example") < text.index("Claude")
    assert "Warning" not in text  # the answer goes back to the client's own host


def test_the_page_warns_when_the_answer_goes_to_another_host_than_the_clients():
    page = _page("https://claude.ai.evil.example/cimd.json", redirect_uri="https://collector.example/cb")
    text = _text(page)
    assert 'role="alert"' in page
    assert (
        "Warning: the answer goes to collector.example, not to claude.ai.evil.example, where this app is published."
    ) in text


def test_a_loopback_answer_for_a_published_client_is_named_as_this_computer_and_warned_about():
    text = _text(_page("https://client.example/c.json", redirect_uri="http://127.0.0.1:3030/callback"))
    assert "you will be sent to an app on this computer (127.0.0.1:3030)" in text
    assert "Warning" in text


def test_a_dynamically_registered_client_is_called_unverified():
    text = _text(_page("mcp-abcdefghijklmnopqrstuvwx", redirect_uri="http://localhost:3030/cb"))
    assert "An unverified app asks for access." in text
    assert "cannot confirm who runs it" in text
    assert "It calls itself “Claude” (the app's own claim, not checked)." in text
    assert "you will be sent to an app on this computer (localhost:3030)" in text


def test_a_look_alike_unicode_host_is_shown_in_ascii():
    text = _text(_page("https://clаude.ai/c.json", name=None, redirect_uri="https://clаude.ai/cb"))  # Cyrillic а
    assert "An app published at xn--clude-5ve.ai asks for access." in text
    assert "calls itself" not in text


def test_an_app_scheme_destination_is_described_not_hidden():
    text = _text(_page("https://client.example/c.json", redirect_uri="com.example.app:/oauth"))
    assert "sent to the app that handles com.example.app: links on this device" in text
    assert "Warning" in text


def test_everything_the_client_chose_is_escaped():
    hostile = '<script>alert(1)</script>"\u202e'
    page = _page("https://client.example/c.json", name=hostile, redirect_uri="https://client.example/cb?x=<b>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<bdi>" in page  # a right-to-left override in the name cannot reorder the sentence
