"""Urgency and churn cues: a small Dutch/English word list that stands in for a learned
judgement until people have labelled enough mail (issue 14 item 3; docs/rules.md).

It says so wherever it shows: a flag from this list is "urgent (cue list: 'spoed')", never
a score. Phrases match as admin rules' phrases do (whole words, ``*`` a prefix, the first
:data:`~labeling.rules.matching.MAX_TEXT_CHARS` characters), in the subject and the mail's
own new text (not the quote: a reply quoting "opzeggen" from our letter is no churn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labeling.rules.phrases import Phrase, WordIndex, parse_phrase

# The mail asks for speed, or something is at stake now.
URGENT_CUES: tuple[str, ...] = (
    # Dutch
    "spoed*",
    "dringend*",
    "met spoed",
    "zo snel mogelijk",
    "z.s.m",
    "vandaag nog",
    "noodgeval*",
    "direct actie",
    "ingebrekestelling",
    "sommatie",
    "deurwaarder*",
    "aanmaning*",
    # English
    "urgent*",
    "asap",
    "as soon as possible",
    "emergency",
    "immediately",
    "final notice",
)

# The customer is about to leave, or to escalate outside.
CHURN_CUES: tuple[str, ...] = (
    # Dutch
    "opzeggen",
    "opzegging*",
    "zeg op",
    "beëindigen",
    "overstappen",
    "stap over",
    "andere verzekeraar",
    "advocaat",
    "klacht indienen",
    "ombudsman",
    "kifid",
    "geschillencommissie",
    "nooit meer",
    # English
    "cancel*",
    "terminate*",
    "switch to another",
    "lawyer",
    "solicitor",
    "legal action",
    "file a complaint",
    "ombudsman",
)

SOURCE = "cue list"


def _parsed(values: Sequence[str]) -> tuple[tuple[str, Phrase], ...]:
    return tuple((value, parse_phrase(value)) for value in dict.fromkeys(values))


_URGENT = _parsed(URGENT_CUES)
_CHURN = _parsed(CHURN_CUES)


@dataclass(frozen=True, slots=True)
class CueFlags:
    """Which cues a mail holds: ``urgent`` and ``churn`` list the matching cues."""

    urgent: tuple[str, ...] = ()
    churn: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The flags as rule conditions name them: 'urgent', 'churn'."""
        return (("urgent",) if self.urgent else ()) + (("churn",) if self.churn else ())

    def details(self) -> dict[str, object]:
        """What a routing decision records (empty when no cue matched)."""
        out: dict[str, object] = {}
        if self.urgent:
            out["urgent"] = list(self.urgent)
        if self.churn:
            out["churn"] = list(self.churn)
        if out:
            out["flags_source"] = SOURCE
        return out


def cue_flags(subject: str, new_text: str) -> CueFlags:
    words = (WordIndex(subject), WordIndex(new_text))

    def found(cues: tuple[tuple[str, Phrase], ...]) -> tuple[str, ...]:
        return tuple(value for value, phrase in cues if any(w.has(phrase) for w in words))

    return CueFlags(urgent=found(_URGENT), churn=found(_CHURN))
