"""Split a mail's text into what the sender wrote now, the quoted history and the signature.

Pure and line-based (linear in the text's length), with Dutch and English conventions and a
few German and French ones because they cost nothing.

Why not ``mail-parser-reply``: we tried it (1.36, languages ``nl`` + ``en``) on our own cases.
It misses Dutch Gmail attributions with the name after the verb ("Op … schreef Jan
<jan@x.nl>:"), "-----Oorspronkelijk bericht-----", and the sign-offs "Mvg", "Groeten" and
"Vriendelijke groet"; it also strips every line and its multi-line regexes backtrack on long
bodies. No maintained library handles Dutch Outlook reply blocks well, so the rules live here.

The three parts, in order:

* **quoted** — lines starting with ``>``, attribution lines above them ("On … wrote:"), and
  everything from the first hard break on: "-----Oorspronkelijk bericht-----" /
  "-----Original Message-----" separators, forwarded-message markers and Outlook header
  blocks ("Van:/From:" followed by "Verzonden:/Sent:", "Aan:/To:", "Onderwerp:/Subject:" …).
  An attribution that is *not* followed by ``>`` lines (HTML mail turned into text loses the
  ``>``) is a hard break too.
* **signature** — from a sign-off ("Met vriendelijke groet", "Mvg", "Kind regards" …), a
  ``-- `` separator or a "Sent from my iPhone" line to the end of the new text, when that
  tail is short enough to be a signature.
* **new** — the rest. Replies written between quoted lines stay in the new text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FORWARDED_ORIGINAL_MARK", "ReplySplit", "split_reply"]

# What the parser writes above a message forwarded as an attachment (message/rfc822) when it
# puts that message's text in front of the quoted part (labeling.mail.mime); the separator
# Gmail writes, so the splitter below reads it as the hard break it is.
FORWARDED_ORIGINAL_MARK = "---------- Forwarded message ----------"

# A signature is a few lines of name, role, phone and maybe a disclaimer; a longer tail after
# a sign-off is more likely real text that merely starts with a greeting-like line.
MAX_SIGNATURE_LINES = 20

# The line right after a sign-off is a name or a role; a long line there is prose.
MAX_SIGNATURE_FIRST_LINE_CHARS = 60

# Attribution lines are short even when a client wraps them over lines; bounding the joined
# candidate keeps the attribution regexes cheap on hostile input.
MAX_ATTRIBUTION_CHARS = 400
ATTRIBUTION_MAX_LINES = 3

# Outlook puts its Sent/To/Subject lines right under "From:"; wrapped recipient lists push
# them a few lines further down.
OUTLOOK_BLOCK_LOOKAHEAD = 8


@dataclass(frozen=True, slots=True)
class ReplySplit:
    """A mail text split into the parts :class:`~labeling.mail.values.NormalisedMail` holds."""

    new_text: str
    quoted_text: str
    signature: str


# Mail text is hostile input and every pattern here runs once per line: each is linear in
# the line's length. Where two repeats could share characters (spaces before an optional "*",
# a run of dashes before its text), the first is possessive ("*+", "++"), so a line that does
# not match is given up at once instead of trying every split of the run (a line of 32k
# spaces took 16 s before). tests/unit/test_adversarial_text.py holds the hostile cases.
_QUOTED_LINE = re.compile(r"^[ \t]*+>")

_ATTRIBUTION_START = re.compile(r"^\s*+(?:op|on|am|le)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"""^\s*+(?:
        on\s.+\bwrote              # On Mon, 3 Jun 2024, Jan <j@x.nl> wrote:
      | op\s.+\bschreef\b.*        # Op ma 3 jun. 2024 om 10:12 schreef Jan <…>:
      | op\s.+\bgeschreven         # Op 3 jun. 2024 heeft Jan het volgende geschreven:
      | am\s.+\bschrieb\b.*        # Am 03.06.2024 schrieb Jan <…>:
      | le\s.+\ba\s+écrit          # Le 3 juin 2024, Jan a écrit :
    )\s*:\s*$""",
    re.IGNORECASE | re.VERBOSE,
)

_SEPARATOR = re.compile(
    r"""^\s*+-{2,}+\s*+(?:
        oorspronkelijk\s+bericht | origineel\s+bericht | original\s+message
      | doorgestuurd\s+bericht | forwarded\s+message | weitergeleitete\s+nachricht
      | ursprüngliche\s+nachricht | message\s+d'origine | message\s+transféré
    )\s*+-{2,}+\s*+$""",
    re.IGNORECASE | re.VERBOSE,
)
_FORWARD_INTRO = re.compile(
    r"^\s*+(?:begin\s++(?:forwarded\s++message|doorgestuurd\s++bericht)|doorgestuurd\s++bericht)"
    r"\s*+:\s*+$",
    re.IGNORECASE,
)
# Outlook draws a line of underscores above its header block in plain-text replies.
_RULE = re.compile(r"^\s*+[_-]{10,}+\s*+$")

_FROM_FIELD = re.compile(
    r"^\s*+(?:\*\s*+)?(?:van|from|von)\s*+(?:\*\s*+)?:\s*+\S", re.IGNORECASE
)
_OTHER_FIELD = re.compile(
    r"""^\s*+(?:\*\s*+)?(
        verzonden|sent|datum|date|aan|to|cc|bcc|onderwerp|subject|gesendet|an|betreff
    )\s*+(?:\*\s*+)?:""",
    re.IGNORECASE | re.VERBOSE,
)

_SIGN_OFF = re.compile(
    r"""^\s*+(?:
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
    (?:[ \t]*+[,.!:;/-]++)?            # punctuation, or "/" before an English sign-off
    (?:[ \t]++[\w.'’&()-]++,?){0,4}    # a name on the same line: "Mvg Jan", "Groeten, Piet"
    [ \t]*+[,.!]*+[ \t]*+$""",
    re.IGNORECASE | re.VERBOSE,
)
_SIG_SEPARATOR = re.compile(r"^--[ \t]?$")
_SENT_FROM = re.compile(
    r"""^\s*+(?:
        (?:verzonden|verstuurd)\s+(?:vanaf|met|via|van)\s+(?:mijn\s+)?\S.{0,40}
      | sent\s+(?:from|with|via)\s+(?:my\s+)?\S.{0,40}
      | gesendet\s+von\s+(?:meinem\s+)?\S.{0,40}
      | (?:get|download)\s+outlook\s+for\s+\S.{0,30}
      | outlook\s+voor\s+\S+\s+downloaden
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


def split_reply(text: str) -> ReplySplit:
    """Split ``text`` (a decoded mail body) into new text, quoted history and signature.

    Never raises on odd input; text without any recognised convention comes back whole as
    ``new_text``.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    new_lines: list[str] = []
    quoted_lines: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _QUOTED_LINE.match(line):
            quoted_lines.append(line)
            i += 1
            continue
        taken = _attribution_lines(lines, i)
        if taken:
            if _quote_follows(lines, i + taken):
                # Interleaved or bottom-posted reply: only the attribution and the ">" lines
                # are history, what the sender wrote between them stays new.
                quoted_lines.extend(lines[i : i + taken])
                i += taken
                continue
            quoted_lines.extend(lines[i:])
            break
        start = _hard_break(lines, i)
        if start is not None:
            # The rule line (and blank lines) above an Outlook block already sit in new_lines.
            del new_lines[len(new_lines) - (i - start) :]
            quoted_lines.extend(lines[start:])
            break
        new_lines.append(line)
        i += 1

    body, signature = _split_signature(new_lines)
    return ReplySplit(
        new_text=_join(body),
        quoted_text=_join(quoted_lines),
        signature=_join(signature),
    )


def _attribution_lines(lines: list[str], i: int) -> int:
    """How many lines from ``i`` form an "On … wrote:" attribution (0 when none)."""
    if not _ATTRIBUTION_START.match(lines[i]):
        return 0
    candidate = ""
    for taken in range(1, ATTRIBUTION_MAX_LINES + 1):
        if i + taken > len(lines):
            return 0
        candidate = f"{candidate} {lines[i + taken - 1].strip()}".strip()
        if len(candidate) > MAX_ATTRIBUTION_CHARS:
            return 0
        # The endswith test keeps the regex off the many lines that cannot match.
        if candidate.endswith(":") and _ATTRIBUTION.match(candidate):
            return taken
    return 0


def _quote_follows(lines: list[str], i: int) -> bool:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and bool(_QUOTED_LINE.match(lines[i]))


def _hard_break(lines: list[str], i: int) -> int | None:
    """Where quoted history starts if line ``i`` begins it: ``i``, or the index of the rule
    line drawn above an Outlook header block; ``None`` when line ``i`` is ordinary text."""
    line = lines[i]
    if _SEPARATOR.match(line) or _FORWARD_INTRO.match(line):
        return i
    if not _FROM_FIELD.match(line):
        return None
    fields: set[str] = set()
    for following in lines[i + 1 : i + 1 + OUTLOOK_BLOCK_LOOKAHEAD]:
        match = _OTHER_FIELD.match(following)
        if match:
            fields.add(match.group(1).casefold())
    if len(fields) < 2:
        return None
    above = i - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    if above >= 0 and _RULE.match(lines[above]):
        return above
    return i


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split the new lines into body and signature at the first sign-off that qualifies."""
    # Counted once from the end so that a text full of sign-off lines stays linear.
    nonblank_after = [0] * (len(lines) + 1)
    next_nonblank: list[int | None] = [None] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        blank = not lines[index].strip()
        nonblank_after[index] = nonblank_after[index + 1] + (0 if blank else 1)
        next_nonblank[index] = next_nonblank[index + 1] if blank else index
    seen_text = False
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if seen_text and nonblank_after[index + 1] <= MAX_SIGNATURE_LINES:
            following = next_nonblank[index + 1]
            if _starts_signature(line, None if following is None else lines[following]):
                return lines[:index], lines[index:]
        seen_text = True
    return lines, []


def _starts_signature(line: str, following: str | None) -> bool:
    if not (_SIGN_OFF.match(line) or _SIG_SEPARATOR.match(line) or _SENT_FROM.match(line)):
        return False
    return (
        following is None
        or len(following.strip()) <= MAX_SIGNATURE_FIRST_LINE_CHARS
        or bool(_SENT_FROM.match(following))
    )


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip()
