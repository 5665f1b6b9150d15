"""Reading the authorization server's pages as a person (and a browser) does: their text, and the refusal
page's way back to the client."""

from __future__ import annotations

import html
import re

import httpx


def page_text(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    inline = re.sub(r"</?(strong|bdi|a)( [^>]*)?>", "", page)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def refusal_link(page: str) -> str:
    """Where the refusal page's "Return to" link leads (the client's redirect URI with the error)."""
    links = re.findall(r'<a href="([^"]+)"[^>]*>Return to ', page)
    assert len(links) == 1, page
    return html.unescape(links[0])


def is_refusal(response: httpx.Response) -> bool:
    """Whether ``response`` is the refusal page, with the headers of the pages a person answers."""
    if response.status_code != 403 or "<h1>Sign-in refused</h1>" not in response.text:
        return False
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "form-action" not in policy
    assert response.headers["cache-control"] == "no-store" and response.headers["content-type"].startswith("text/html")
    return True
