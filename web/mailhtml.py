"""A mail's HTML made safe to show: sanitised with nh3 (ammonia), wrapped as a frame document.

The result only ever goes into ``<iframe sandbox srcdoc=…>`` (no ``allow-scripts``, no
``allow-same-origin``), which also inherits the page's Content-Security-Policy. Sanitising
is the first wall, the sandbox and the CSP the second and third.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import nh3

# Anything larger is cut before sanitising: an "HTML bomb" must not stall a request. Dense
# markup costs nh3 up to about a microsecond a character on a busy 2-core machine, so this
# keeps a view well under a second (benchmarks/bench_adversarial.py). Real mail bodies worth
# reading are far smaller.
MAX_HTML_CHARS = 500_000

# nh3's HTML5 tree builder checks the open elements on every tag, so its time grows with
# size x depth (20k nested <div> took 1.6 s, 40k 6.3 s on every view). Real mail, tables in
# tables included, stays far below this; tags opened deeper are dropped (their text stays)
# by :func:`cap_nesting`, a linear pass before nh3.
MAX_HTML_DEPTH = 100

# Elements without content: they never deepen the tree.
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
# Elements a sibling of the same name closes ("<li>a<li>b", "<td>…<td>…").
_SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup"})
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]{0,63})")

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
    capped, flattened = cap_nesting(html[:MAX_HTML_CHARS])
    cleaned = nh3.clean(
        capped,
        clean_content_tags=_CLEAN_CONTENT_TAGS,
        attribute_filter=_filter_attribute,
        link_rel=None,
        url_schemes={"http", "https", "mailto", "data"},
    )
    if flattened:
        cleaned += (
            "<p><strong>[Mailroom: this HTML is nested too deeply; "
            "its innermost layout is not shown]</strong></p>"
        )
    if truncated:
        cleaned += "<p><strong>[Mailroom: the rest of this HTML is too long to show]</strong></p>"
    return cleaned


def cap_nesting(html: str, limit: int = MAX_HTML_DEPTH) -> tuple[str, bool]:
    """``html`` with the tags opened deeper than ``limit`` removed (their text kept), and
    whether any were. One pass, linear in the length: each "<" is looked at once.

    The depth is an estimate, on the high side, of the tree an HTML5 parser builds: an
    element is closed by its end tag (and everything opened after it with it), or by a
    sibling of the same name for the elements that work so; what the parser would close on
    its own otherwise still counts as open. The output goes through nh3 like any mail HTML:
    this pass only bounds its work, it makes nothing safe.
    """
    if html.count("<") <= limit:
        return html, False
    dropped: list[tuple[int, int]] = []  # spans of the tags removed, in order
    stack: list[tuple[str, bool]] = []  # (name, kept) of the elements open now
    open_count: dict[str, int] = {}
    kept_depth = 0
    position = 0
    find, tag_name = html.find, _TAG_NAME.match
    while (start := find("<", position)) >= 0:
        if html.startswith("<!--", start):
            end = find("-->", start + 4)
            position = len(html) if end < 0 else end + 3
            continue
        end = find(">", start + 1)
        if end < 0:
            break
        position = end + 1
        match = tag_name(html, start, position)
        if match is None:
            continue  # "<!doctype …>", "< 5", "<?xml …>": not an element
        name = match.group(1).lower()
        if html[start + 1] == "/":
            if not open_count.get(name):
                continue  # a stray end tag closes nothing: left to the parser
            while stack:
                popped, kept = stack.pop()
                open_count[popped] -= 1
                kept_depth -= kept
                if popped == name:
                    if not kept:
                        dropped.append((start, position))
                    break
            continue
        if name in _VOID_ELEMENTS or html[end - 1] == "/":
            continue
        if name in _SELF_CLOSING_SIBLINGS and stack and stack[-1][0] == name:
            _popped, kept = stack.pop()
            open_count[name] -= 1
            kept_depth -= kept
        keep = kept_depth < limit
        stack.append((name, keep))
        open_count[name] = open_count.get(name, 0) + 1
        kept_depth += keep
        if not keep:
            dropped.append((start, position))
    if not dropped:
        return html, False
    pieces, previous = [], 0
    for start, end in dropped:
        pieces.append(html[previous:start])
        previous = end
    pieces.append(html[previous:])
    return "".join(pieces), True


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
