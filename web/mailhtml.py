"""A mail's HTML made safe to show: sanitised with nh3 (ammonia), wrapped as a frame document.

The result only ever goes into ``<iframe sandbox srcdoc=…>`` (no ``allow-scripts``, no
``allow-same-origin``), which also inherits the page's Content-Security-Policy. Sanitising
is the first wall, the sandbox and the CSP the second and third.
"""

from __future__ import annotations

from collections.abc import Callable

import nh3

# Anything larger is cut before sanitising: an "HTML bomb" must not stall a request. Real
# mail bodies worth reading are far smaller.
MAX_HTML_CHARS = 1_000_000

# Tags whose text content is dropped with the tag (not just unwrapped): scripts and styles
# would otherwise show as text, a <title> would repeat the subject.
_CLEAN_CONTENT_TAGS = {"script", "style", "title", "noscript", "template", "textarea", "select"}

# Only inline images survive: a remote src is a tracking pixel that tells the sender the
# mail was opened (and the CSP would block it anyway).
_IMAGE_PREFIXES = ("data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if value.lower().startswith(_IMAGE_PREFIXES) else None
    if tag == "a" and attribute == "href":
        # Labellers do not follow links from customers' mail: no one-click phishing path
        # (the link text stays).
        return None
    return value


def sanitise(html: str) -> str:
    """The HTML fragment with scripts, event handlers, styles, forms and remote loads removed."""
    truncated = len(html) > MAX_HTML_CHARS
    cleaned = nh3.clean(
        html[:MAX_HTML_CHARS],
        clean_content_tags=_CLEAN_CONTENT_TAGS,
        attribute_filter=_filter_attribute,
        link_rel=None,
        url_schemes={"http", "https", "mailto", "data"},
    )
    if truncated:
        cleaned += "<p><strong>[Mailroom: the rest of this HTML is too long to show]</strong></p>"
    return cleaned


def frame_document(
    html: str, stylesheet_url: str, *, transform: Callable[[str], str] | None = None
) -> str:
    """A complete document for the sandboxed frame's ``srcdoc``: sanitised body + our stylesheet.

    The stylesheet is loaded from our own origin (CSP ``style-src 'self'``); the mail's own
    styles are gone, so it gets readable defaults instead of a blank look. ``transform``
    rewrites the sanitised HTML (pseudonymising its text); the result is sanitised again.
    """
    body = sanitise(html)
    if transform is not None:
        body = sanitise(transform(body))
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<link rel="stylesheet" href="{_attribute(stylesheet_url)}">'
        f"</head><body>{body}</body></html>"
    )


def _attribute(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
