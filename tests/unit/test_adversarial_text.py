"""Hostile mail text: every entry point that reads it stays correct on long runs of spaces,
dashes, '>' quotes, header-like prefixes and deep HTML nesting.

The patterns were made linear by rewriting them (possessive repeats, runs tried from their
start only); the rewrite must not change what they match. So each rewritten pattern is
checked against the pattern it replaced, kept here as the reference, on short adversarial
lines where the old one is still fast. Speed itself is measured by
benchmarks/bench_adversarial.py (figures in docs/benchmarks.md), never asserted here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.errors import MailParseError
from labeling.live import stats
from labeling.mail import mime, model_text, quotes
from labeling.mail.quotes import split_reply
from web.mailhtml import MAX_HTML_DEPTH, cap_nesting, sanitise

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces hostile mail is made of: runs that overlapping repeats used to try every split of.
PIECES = (
    " ",
    "\t",
    "\u00a0",
    "-",
    "--",
    "_",
    ">",
    "*",
    ":",
    ",",
    ".",
    "!",
    "\n",
    "x",
    "Jan",
    "Van",
    "From",
    "Aan",
    "Sent",
    "Onderwerp",
    "groeten",
    "Met vriendelijke groet",
    "Kind regards",
    "On",
    "Op",
    "wrote",
    "schreef",
    "forwarded message",
    "Oorspronkelijk bericht",
    "original message",
    "begin doorgestuurd bericht",
    "Verzonden vanaf mijn iPhone",
    "Fwd",
    "Re",
    "[2]",
    "(3)",
    "<",
)


def runs(max_run: int = 40) -> st.SearchStrategy[str]:
    """Text built of pieces, each repeated up to ``max_run`` times."""
    run = st.tuples(st.sampled_from(PIECES), st.integers(1, max_run)).map(lambda t: t[0] * t[1])
    return st.lists(run, max_size=12).map("".join)


# The patterns as they were before the rewrite (start of the mailpath branch): the meaning to
# keep. Each is quadratic or worse on long runs, so only short input goes to them.
OLD_QUOTES = {
    "_QUOTED_LINE": re.compile(r"^[ \t]*>"),
    "_ATTRIBUTION_START": re.compile(r"^\s*(?:op|on|am|le)\s", re.IGNORECASE),
    "_SEPARATOR": re.compile(
        r"""^\s*-{2,}\s*(?:
            oorspronkelijk\s+bericht | origineel\s+bericht | original\s+message
          | doorgestuurd\s+bericht | forwarded\s+message | weitergeleitete\s+nachricht
          | ursprüngliche\s+nachricht | message\s+d'origine | message\s+transféré
        )\s*-{2,}\s*$""",
        re.IGNORECASE | re.VERBOSE,
    ),
    "_FORWARD_INTRO": re.compile(
        r"^\s*(?:begin\s+(?:forwarded\s+message|doorgestuurd\s+bericht)|doorgestuurd\s+bericht)"
        r"\s*:\s*$",
        re.IGNORECASE,
    ),
    "_RULE": re.compile(r"^\s*[_-]{10,}\s*$"),
    "_FROM_FIELD": re.compile(r"^\s*\*?\s*(?:van|from|von)\s*\*?\s*:\s*\S", re.IGNORECASE),
    "_OTHER_FIELD": re.compile(
        r"""^\s*\*?\s*(
            verzonden|sent|datum|date|aan|to|cc|bcc|onderwerp|subject|gesendet|an|betreff
        )\s*\*?\s*:""",
        re.IGNORECASE | re.VERBOSE,
    ),
    "_SIGN_OFF": re.compile(
        r"""^\s*(?:
            (?:met\s+)?(?:vriendelijke|hartelijke|beste|lieve|warme|zonnige)\s+groet(?:en|jes)?
          | groet(?:en|jes)?
          | m\.?\s?v\.?\s?g\.?
          | gr(?:t|\.)
          | (?:with\s+)?(?:kind|best|warm|warmest|many)\s+(?:regards|wishes)
          | regards
          | (?:yours\s+)?(?:sincerely|faithfully)
          | (?:mit\s+)?freundlichen\s+grüßen
          | cordialement
        )
        (?:[ \t]*[,.!:;/-]+)?
        (?:[ \t]+[\w.'’&()-]+,?){0,4}
        [ \t]*[,.!]*[ \t]*$""",
        re.IGNORECASE | re.VERBOSE,
    ),
    "_SENT_FROM": re.compile(
        r"""^\s*(?:
            (?:verzonden|verstuurd)\s+(?:vanaf|met|via|van)\s+(?:mijn\s+)?\S.{0,40}
          | sent\s+(?:from|with|via)\s+(?:my\s+)?\S.{0,40}
          | gesendet\s+von\s+(?:meinem\s+)?\S.{0,40}
          | (?:get|download)\s+outlook\s+for\s+\S.{0,30}
          | outlook\s+voor\s+\S+\s+downloaden
        )$""",
        re.IGNORECASE | re.VERBOSE,
    ),
}
OLD_SUBJECT_PREFIX = re.compile(
    r"\s*(?:\[[^\]]{0,40}\]\s*)?([a-z]{2,6})\s*(?:\[\d+\]|\(\d+\))?\s*:", re.IGNORECASE
)
OLD_FORWARD_SEPARATORS = re.compile(
    r"-{2,}\s*(?:forwarded message|doorgestuurd bericht)\s*-{2,}"
    r"|^[ \t>]*begin (?:forwarded message|doorgestuurd bericht)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
OLD_ORIGINAL_SEPARATORS = re.compile(
    r"-{2,}\s*(?:original message|oorspronkelijk bericht)\s*-{2,}", re.IGNORECASE
)
OLD_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
OLD_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|fw|doorst|wg|tr)\s*:", re.IGNORECASE)


def _span(pattern: re.Pattern[str], text: str) -> tuple[int, int] | None:
    match = pattern.match(text)
    return match.span() if match else None


@FUZZ
@given(runs(), st.sampled_from(sorted(OLD_QUOTES)))
def test_rewritten_quote_patterns_match_what_the_old_ones_did(line: str, name: str) -> None:
    for candidate in (line, line.split("\n")[0]):
        assert _span(getattr(quotes, name), candidate) == _span(OLD_QUOTES[name], candidate)


@FUZZ
@given(runs())
def test_rewritten_forward_counting_patterns_count_what_the_old_ones_did(text: str) -> None:
    assert len(stats._FORWARD_SEPARATORS.findall(text)) == len(
        OLD_FORWARD_SEPARATORS.findall(text)
    )
    assert len(stats._ORIGINAL_SEPARATORS.findall(text)) == len(
        OLD_ORIGINAL_SEPARATORS.findall(text)
    )
    for start in range(0, min(len(text), 40)):
        new, old = stats._SUBJECT_PREFIX.match(text, start), OLD_SUBJECT_PREFIX.match(text, start)
        assert (new and new.span()) == (old and old.span())
    assert _span(model_text._FORWARD_SUBJECT, text) == _span(OLD_FORWARD_SUBJECT, text)


@FUZZ
@given(runs())
def test_trailing_space_removal_is_unchanged(text: str) -> None:
    assert mime._TRAILING_SPACE.sub("", text) == OLD_TRAILING_SPACE.sub("", text)


def _nonblank(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip())


@FUZZ
@given(runs(max_run=400))
def test_split_reply_keeps_every_line_in_exactly_one_part(text: str) -> None:
    split = split_reply(text)
    parts = "\n".join((split.new_text, split.quoted_text, split.signature))
    assert _nonblank(parts) == _nonblank(text.replace("\r", "\n"))


# Long enough that the old patterns took seconds to minutes on each; the assertions say what
# the answer must be (a test that merely finishes would prove nothing).
LONG = 64 * 1024


def test_a_header_like_line_of_spaces_is_new_text_not_an_outlook_block() -> None:
    text = "Goedemiddag,\n" + "Van" + " " * LONG + "x\n" + "Aan" + " " * LONG + "y\n"
    split = split_reply(text)
    assert split.quoted_text == ""
    assert split.new_text.startswith("Goedemiddag,")
    assert split.new_text.endswith("y")


def test_an_outlook_block_after_long_lines_is_still_found() -> None:
    text = (
        "Zie onder.\n" + " " * LONG + "\n" + "-" * LONG + " x\n"
        "Van: Jan <jan@example.nl>\nVerzonden: maandag\nAan: info@example.nl\n"
        "Onderwerp: schade\n\nMijn auto.\n"
    )
    split = split_reply(text)
    assert split.quoted_text.startswith("Van: Jan")
    assert split.new_text.startswith("Zie onder.")


def test_a_sign_off_with_a_long_tail_is_not_a_signature() -> None:
    text = "Mijn auto is stuk.\n\nMet vriendelijke groet" + " " * LONG + "x y z w v u\nJan"
    split = split_reply(text)
    assert split.signature == ""


def test_trailing_space_of_a_long_line_goes_and_inner_space_stays() -> None:
    raw = (
        "From: a@example.nl\nSubject: s\n\nbegin" + " " * LONG + "einde" + " \t" * LONG + "\n"
    ).encode()
    mail = mime.normalise(raw)
    assert mail.body_text == "begin" + " " * LONG + "einde"


def test_dashes_in_an_archive_mail_count_no_forward_and_real_separators_still_count() -> None:
    assert stats.count_forwards("Schade", "-" * LONG + " x") == 0
    body = "-" * LONG + "\n---------- Forwarded message ---------\nVan: x\n"
    assert stats.count_forwards("Fwd: schade", body) == 1
    assert stats.count_forwards("Re" + " " * LONG + "x", "") == 0


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * 40_000 + "geheim" + "</div>" * 40_000,
        "<blockquote>" * 20_000 + "geheim",
        "<b>" * 100_000 + "geheim",
        "<table><tr><td>" * 5_000 + "geheim",
        "<ul><li>" * 20_000 + "geheim",
    ],
    ids=["div", "blockquote-unclosed", "b-unclosed", "table", "list"],
)
def test_deeply_nested_html_is_shown_flattened_with_its_text(html: str) -> None:
    cleaned = sanitise(html)
    assert "geheim" in cleaned
    assert "nested too deeply" in cleaned
    # The parser adds what the markup implies (a <tbody> per table), no more.
    assert _depth(cleaned) <= 2 * MAX_HTML_DEPTH


def test_ordinary_html_passes_the_nesting_cap_unchanged() -> None:
    html = (
        "<html><body>"
        + "<table><tr><td><p>a<p>b<ul><li>1<li>2</ul><br><img src=x></td></tr></table>" * 50
        + "</body></html>"
    )
    assert cap_nesting(html) == (html, False)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            ["<div>", "</div>", "<p>", "</p>", "<li>", "<b>", "</b>", "<br>", "<!--", "-->",
             "<a href='x>y'>", "</a>", "x", " ", "<", ">", "</x>", "<img/>", "<td>", "</td>"]
        ),
        max_size=300,
    ),
    st.integers(1, 8),
)
def test_nesting_cap_keeps_the_text_and_bounds_the_depth(pieces: list[str], limit: int) -> None:
    html = "".join(pieces)
    capped, flattened = cap_nesting(html, limit)
    assert _text(capped) == _text(html)
    if not flattened:
        assert capped == html
    # What is kept is nested within the limit: capping it again finds nothing to drop.
    assert cap_nesting(capped, limit) == (capped, False)


@FUZZ
@given(runs(max_run=200), runs(max_run=200))
def test_normalise_reads_hostile_text_and_html_without_error(text: str, html_text: str) -> None:
    head = b"From: Jan <jan@example.nl>\nSubject: Fwd: schade\nMIME-Version: 1.0\n"
    for content_type, body in (("text/plain", text), ("text/html", html_text)):
        raw = head + f"Content-Type: {content_type}; charset=utf-8\n\n{body}".encode()
        try:
            mail = mime.normalise(raw)
        except MailParseError as exc:
            assert exc.reason  # empty or unreadable: refused with a reason
            continue
        assert mail.new_text in mail.body_text or not mail.new_text.strip()


def _text(html: str) -> str:
    """What is left between the tags, as our scanner cuts them (comments included)."""
    out, position = [], 0
    while (start := html.find("<", position)) >= 0:
        out.append(html[position:start])
        if html.startswith("<!--", start):
            end = html.find("-->", start + 4)
            position = len(html) if end < 0 else end + 3
            out.append(html[start:position])
            continue
        end = html.find(">", start + 1)
        if end < 0:
            out.append(html[start:])
            position = len(html)
            break
        tag = html[start : end + 1]
        if not re.match(r"</?[A-Za-z]", tag):
            out.append(tag)
        position = end + 1
    out.append(html[position:])
    return "".join(out)


class _DepthParser(HTMLParser):
    VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "col", "area"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.deepest = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)
            self.deepest = max(self.deepest, len(self.stack))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass


def _depth(html: str) -> int:
    parser = _DepthParser()
    parser.feed(html)
    return parser.deepest


def test_only_the_start_of_a_huge_html_body_is_turned_into_text() -> None:
    table = "<table><tr><td>schade</td><td>auto</td></tr></table>"
    html = "<p>Mijn ruit is gebarsten.</p>" + table * (1_000_000 // len(table)) + "<p>EINDE</p>"
    raw = ("From: a@example.nl\nSubject: s\nContent-Type: text/html; charset=utf-8\n\n" + html)
    mail = mime.normalise(raw.encode())
    assert mail.body_text.startswith("Mijn ruit is gebarsten.")
    assert "EINDE" not in mail.body_text
    assert any(d.startswith("html cut to 100,000 characters") for d in mail.defects)
    assert mail.html is not None and mail.html.endswith("<p>EINDE</p>")  # kept for the view
