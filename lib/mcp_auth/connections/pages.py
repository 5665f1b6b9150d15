"""The connect pages' HTML: the confirmation a person answers, and the outcome they read.

Every value is HTML-escaped; the user id and the provider's name are isolated (``<bdi>``) so
right-to-left marks in them cannot reorder the sentence around them. The pages load nothing, run
no script and their one form posts to its own page (``PAGE_HEADERS``); the edge forbids framing.
"""

from __future__ import annotations

import html

from mcp_auth.pages import PAGE_HEADERS as BROWSER_PAGE_HEADERS
from mcp_auth.pages import html_page

PAGE_HEADERS = {**BROWSER_PAGE_HEADERS, "Referrer-Policy": "no-referrer"}
"""``mcp_auth.pages.PAGE_HEADERS``, and the link in the URL never sent on as a referrer."""

_CONFIRM = """<p>This connects <strong>your {provider} account</strong> to the user
<strong><bdi>{user}</bdi></strong> of <strong>{resource}</strong>, whose tools will then act on {provider} as you.</p>
<p>Continue only if <strong><bdi>{user}</bdi></strong> is you and you asked for this from your client just now.
If someone sent you this link, close this page.</p>
<form method="post" action="{action}">
<input type="hidden" name="link" value="{link}">
<input type="hidden" name="confirm" value="{confirm}">
<button type="submit">Continue to {provider}</button>
</form>
"""


def render_confirm_page(*, provider: str, user: str, resource: str, action: str, link: str, confirm: str) -> str:
    """The page a connect link opens: whose account, for which user, and one button."""
    body = _CONFIRM.format(
        provider=html.escape(provider),
        user=html.escape(user),
        resource=html.escape(resource),
        action=html.escape(action),
        link=html.escape(link),
        confirm=html.escape(confirm),
    )
    return html_page(f"Connect {provider}?", body)


def render_message_page(title: str, *paragraphs: str) -> str:
    """A page that only tells the person something (the outcome, or what to do instead)."""
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs)
    return html_page(title, body)
