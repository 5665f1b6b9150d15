"""The connect pages' HTML: the confirmation a person answers, and the outcome they read.

Every value is HTML-escaped; the user id and the provider's name are isolated (``<bdi>``) so
right-to-left marks in them cannot reorder the sentence around them. The pages load nothing, run
no script and their one form posts to its own page (``PAGE_HEADERS``); the edge forbids framing.
"""

from __future__ import annotations

import html

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
"""Never cached, never framed, no script, and the link in the URL never sent on as a referrer. No
``form-action``, as on the consent page (``oauth.consent.PAGE_HEADERS``): the connect form's answer is a
redirect to the provider's authorization page, which Chrome and Safari would check against it."""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 34em; margin: 3em auto; line-height: 1.4">
<h1>{title}</h1>
{body}</body></html>
"""
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
    return _PAGE.format(title=html.escape(f"Connect {provider}?"), body=body)


def render_message_page(title: str, *paragraphs: str) -> str:
    """A page that only tells the person something (the outcome, or what to do instead)."""
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs)
    return _PAGE.format(title=html.escape(title), body=body)
