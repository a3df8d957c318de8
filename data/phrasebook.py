"""Types of the handwritten phrasebooks and the tiny template language they use.

A template is plain text with two kinds of braces, expanded innermost first:

* ``{slot}`` -- a slot value of the mail being written (``{polis}``, ``{datum}``, ...; see
  :mod:`data.slots`);
* ``{a|b|c}`` -- one alternative picked by the seeded RNG; ``{|word }`` makes a word optional.

So ``"{Beste {voornaam}|Hallo},"`` can become ``"Beste Jan,"`` or ``"Hallo,"``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

_BRACES = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Intent:
    """One reason to write to a team, in several phrasings.

    ``cores`` are alternative bodies of the request; the first sentence of each must make
    sense alone (a very short mail keeps only that). ``details`` are optional extra sentences
    of which a mail uses zero to two. ``weight`` is the relative frequency within the team.
    """

    key: str
    subjects: tuple[str, ...]
    cores: tuple[str, ...]
    details: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class VagueMail:
    """A very short mail that may belong to any of ``teams``; only context (an attachment,
    an earlier call) tells which."""

    teams: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True)
class Phrasebook:
    """Everything the generator says in one language; all text is written for this project.

    ``mentions[team]`` are asides about ``team`` placed in another team's mail (a second
    topic). ``confounders[team]`` are sentences that belong in a mail *for* ``team`` but use
    other teams' words ("I do not want to cancel, but ..."). ``switch_openers`` introduce a
    new subject in a reply to an old thread. ``background_wrappers`` (with an ``{earlier}``
    slot) recall an earlier, settled request of another team before the real request, which
    ``request_markers`` may introduce.
    """

    language: str
    months: tuple[str, ...]
    weekdays: tuple[str, ...]
    greetings_formal: tuple[str, ...]
    greetings_informal: tuple[str, ...]
    preambles: tuple[str, ...]
    fillers: tuple[str, ...]
    closings: tuple[str, ...]
    signoffs: tuple[str, ...]
    device_signatures: tuple[str, ...]
    disclaimers: tuple[str, ...]
    generic_subjects: tuple[str, ...]
    intents: Mapping[str, tuple[Intent, ...]]
    mentions: Mapping[str, tuple[str, ...]]
    confounders: Mapping[str, tuple[str, ...]]
    switch_openers: tuple[str, ...]
    background_wrappers: tuple[str, ...]
    request_markers: tuple[str, ...]
    vague: tuple[VagueMail, ...]
    reply_lines: Mapping[str, tuple[str, ...]]
    generic_reply_lines: tuple[str, ...]
    followups: tuple[str, ...]
    insurer_answers: Mapping[str, tuple[str, ...]]
    insurer_signoffs: tuple[str, ...]
    forward_notes_broker: tuple[str, ...]
    forward_notes_colleague: tuple[str, ...]
    forward_notes_self: tuple[str, ...]
    attachment_notes: tuple[str, ...]
    attachment_names: Mapping[str, tuple[str, ...]]
    reply_prefixes: tuple[str, ...]
    forward_prefixes: tuple[str, ...]


def expand(template: str, slots: Mapping[str, str], rng: random.Random) -> str:
    """Expand ``{slot}`` and ``{a|b}`` in ``template``; an unknown slot raises ``KeyError``."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if "|" in inner:
            return rng.choice(inner.split("|"))
        return slots[inner]

    text = template
    while True:
        expanded = _BRACES.sub(replace, text)
        if expanded == text:
            return expanded
        text = expanded
