"""The HTML pages a person answers or reads in a browser: the consent, sign-in and refusal pages of the
built-in authorization server and the connect pages. One skeleton and one set of headers for all of them.
"""

from __future__ import annotations

import html

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}
"""Never cached, never framed, no script, no subresource.

No ``form-action``: Chrome and Safari check it against every redirect that follows a form's submission,
and these forms exist to end in one - to the client's ``redirect_uri`` (another origin, often a loopback
port, and for some clients an https page that redirects on to a custom scheme such as ``claude://``), or
to a provider's authorization page. ``form-action 'self'`` made their buttons do nothing in those
browsers. Each form posts to its own page, every value on the page is escaped, and no script can run to
add another."""

_SKELETON = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 34em; margin: 3em auto; line-height: 1.4">
<h1>{title}</h1>
{body}</body></html>
"""


def html_page(title: str, body: str) -> str:
    """A whole page: ``title`` (plain text, escaped here) as its title and heading, then ``body`` (HTML whose
    every value the caller has escaped)."""
    return _SKELETON.format(title=html.escape(title), body=body)
