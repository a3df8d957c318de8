"""Composing the words of one demo mail from a phrasebook: subject, paragraphs, signature.

Pure functions over a seeded ``random.Random``; the MIME shape is decided elsewhere
(:mod:`data.mime_build`). The knobs that make the corpus hard for a bag-of-words model (vague
mails, second topics, typos, lowercase) live in :data:`NOISE`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from data.phrasebook import Intent, Phrasebook, expand
from data.slots import Person


@dataclass(frozen=True)
class Noise:
    """Probabilities of the noise the composer adds to a customer's new text."""

    vague: float = 0.08  # a "zie bijlage"-style mail whose team is nearly unguessable
    short: float = 0.09  # only the first sentence of the request
    long: float = 0.08  # rambling: filler sentences between the real content
    second_topic: float = 0.22  # mentions a second team's topic
    confounder: float = 0.4  # a sentence in other teams' words ("I don't want to cancel")
    topic_switch: float = 0.45  # a reply to an old thread that is about something else
    background: float = 0.25  # recalls another team's settled request before the real one
    typos: float = 0.25  # share of mails with typos
    typo_rate: tuple[float, float] = (0.02, 0.08)  # share of words hit in such a mail
    lowercase: float = 0.06  # everything in lowercase
    generic_subject: float = 0.35  # a subject that says nothing about the team


NOISE = Noise()

# The demo teams the phrasebooks write for, with each one's share of the mail.
TEAM_SHARES = {
    "schade": 0.21,
    "polis-wijzigen": 0.13,
    "premie": 0.13,
    "klachten": 0.09,
    "offertes": 0.11,
    "opzeggingen": 0.11,
    "persoonsgegevens": 0.10,
    "algemeen": 0.12,
}
TEAM_ORDER = tuple(TEAM_SHARES)


@dataclass
class Composition:
    """The words of one mail. ``topics`` lists the primary team first, then a second topic."""

    subject: str
    paragraphs: list[str]
    signature: list[str]
    topics: list[str]
    intent: str
    features: list[str] = field(default_factory=list)
    wants_attachment: bool = False


def compose_new(
    pb: Phrasebook,
    team: str,
    rng: random.Random,
    slots: dict[str, str],
    person: Person,
    *,
    noise: Noise = NOISE,
) -> Composition:
    """A customer's first mail about ``team``, with the configured noise."""
    vague = [mail for mail in pb.vague if team in mail.teams]
    if vague and rng.random() < noise.vague:
        pick = rng.choice(vague)
        subject = expand(pick.subject, slots, rng)
        signature = _customer_signature(pb, rng, slots, person, short=True)
        return Composition(
            subject=subject,
            paragraphs=[expand(pick.body, slots, rng)],
            signature=signature,
            topics=[team],
            intent="vague",
            features=["vague"],
            wants_attachment=True,
        )

    intent = _pick_intent(pb.intents[team], rng)
    roll = rng.random()
    length = "short" if roll < noise.short else "long" if roll < noise.short + noise.long else ""
    features = [length] if length else []

    with_background = length != "short" and rng.random() < noise.background
    core = expand(rng.choice(intent.cores), slots, rng)
    if length == "short":
        core = _first_sentence(core)
    body: list[str] = [core]
    if length != "short":
        n_details = rng.choice((0, 1, 1, 2)) if length == "" else rng.choice((2, 3))
        if with_background:
            n_details = rng.choice((0, 0, 1))
        details = rng.sample(intent.details, min(n_details, len(intent.details)))
        body.extend(expand(detail, slots, rng) for detail in details)

    paragraphs: list[str] = []
    greeted = length != "short" and rng.random() < 0.8
    if greeted:
        greetings = pb.greetings_formal if rng.random() < 0.5 else pb.greetings_informal
        paragraphs.append(expand(rng.choice(greetings), slots, rng))
    if length != "short" and rng.random() < 0.3:
        body.insert(0, expand(rng.choice(pb.preambles), slots, rng))
    if length == "long":
        for _ in range(rng.randrange(2, 5)):
            body.insert(rng.randrange(len(body) + 1), expand(rng.choice(pb.fillers), slots, rng))

    if rng.random() < noise.confounder:
        for sentence in rng.sample(pb.confounders[team], rng.choice((1, 1, 2))):
            body.insert(rng.randrange(1, len(body) + 1), expand(sentence, slots, rng))
        features.append("confounder")

    paragraphs.extend(_group_sentences(body, rng))

    topics = [team]
    if with_background:
        other = rng.choice([slug for slug in TEAM_ORDER if slug != team])
        earlier_intent = _pick_intent(pb.intents[other], rng)
        earlier = expand(rng.choice(earlier_intent.cores), slots, rng)
        if rng.random() < 0.25:
            earlier = _first_sentence(earlier)
        elif earlier_intent.details and rng.random() < 0.4:
            earlier += " " + expand(rng.choice(earlier_intent.details), slots, rng)
        recall = expand(rng.choice(pb.background_wrappers), {**slots, "earlier": earlier}, rng)
        marker = expand(rng.choice(pb.request_markers), slots, rng)
        at = 1 if greeted else 0
        if rng.random() < 0.75:
            paragraphs.insert(at, recall)
            if marker:
                following = paragraphs[at + 1]
                if marker.endswith(":") and pb.language == "nl":
                    following = following[:1].lower() + following[1:]
                paragraphs[at + 1] = f"{marker} {following}"
        else:
            paragraphs.append(recall)
        topics.append(other)
        features.extend(["background", "two-topics"])
    elif rng.random() < noise.second_topic:
        other = rng.choice([slug for slug in TEAM_ORDER if slug != team])
        asides = rng.sample(pb.mentions[other], min(len(pb.mentions[other]), rng.choice((1, 1, 2))))
        mention = " ".join(expand(aside, slots, rng) for aside in asides)
        if rng.random() < 0.3 and len(paragraphs) > 1:
            paragraphs.insert(1, mention)  # the aside comes first, the real request after it
        else:
            paragraphs.append(mention)
        topics.append(other)
        features.append("two-topics")
    if length != "short" and rng.random() < 0.6:
        paragraphs.append(expand(rng.choice(pb.closings), slots, rng))

    if rng.random() < noise.generic_subject:
        subject = expand(rng.choice(pb.generic_subjects), slots, rng)
    else:
        subject = expand(rng.choice(intent.subjects), slots, rng)
        if rng.random() < 0.1:
            subject = subject.lower()

    text = "\n".join(paragraphs)
    wants_attachment = bool(re.search(r"bijlage|bijgevoegd|bijgaand|attached", text, re.I))
    return Composition(
        subject=subject,
        paragraphs=paragraphs,
        signature=_customer_signature(pb, rng, slots, person, short=length == "short"),
        topics=topics,
        intent=intent.key,
        features=features,
        wants_attachment=wants_attachment,
    )


def compose_reply(
    pb: Phrasebook,
    team: str,
    rng: random.Random,
    slots: dict[str, str],
    person: Person,
    *,
    to_answer: bool,
    noise: Noise = NOISE,
) -> Composition:
    """The new text of a customer's reply: to the insurer's answer, or a follow-up of their
    own earlier mail (``to_answer=False``). The subject is set by the caller.

    With probability ``noise.topic_switch`` the customer uses the old thread to raise
    something new: the result's first topic is then another team (the thread's team second)
    and it has the feature ``topic-switch``.
    """
    paragraphs: list[str] = []
    if rng.random() < noise.topic_switch:
        new_team = rng.choice([slug for slug in TEAM_ORDER if slug != team])
        intent = _pick_intent(pb.intents[new_team], rng)
        opener = expand(rng.choice(pb.switch_openers), slots, rng)
        core = expand(rng.choice(intent.cores), slots, rng)
        if rng.random() < 0.5:
            core = _first_sentence(core)
        if opener and rng.random() < 0.5:
            paragraphs.append(opener)
            paragraphs.append(core)
        else:
            paragraphs.append(f"{opener} {core}".strip())
        if intent.details and rng.random() < 0.4:
            paragraphs.append(expand(rng.choice(intent.details), slots, rng))
        return Composition(
            subject="",
            paragraphs=paragraphs,
            signature=_customer_signature(pb, rng, slots, person, short=True),
            topics=[new_team, team],
            intent=intent.key,
            features=["topic-switch", "two-topics"],
        )
    if to_answer:
        if rng.random() < 0.5:
            paragraphs.append(f"{rng.choice(('Beste', 'Hallo', 'Dag'))} {slots['medewerker']},"
                              if pb.language == "nl" else f"Dear {slots['medewerker']},")
        pool = pb.reply_lines[team] if rng.random() < 0.6 else pb.generic_reply_lines
        lines = rng.sample(pool, min(len(pool), rng.choice((1, 1, 2))))
        paragraphs.extend(expand(line, slots, rng) for line in lines)
    else:
        paragraphs.append(expand(rng.choice(pb.followups), slots, rng))
    topics = [team]
    features: list[str] = []
    if rng.random() < noise.second_topic * 0.6:
        other = rng.choice([slug for slug in TEAM_ORDER if slug != team])
        paragraphs.append(expand(rng.choice(pb.mentions[other]), slots, rng))
        topics.append(other)
        features.append("two-topics")
    text = " ".join(paragraphs)
    return Composition(
        subject="",
        paragraphs=paragraphs,
        signature=_customer_signature(pb, rng, slots, person, short=True),
        topics=topics,
        intent="reply" if to_answer else "follow-up",
        features=features,
        wants_attachment=bool(re.search(r"bijlage|attach", text, re.I)),
    )


def insurer_answer(pb: Phrasebook, team: str, rng: random.Random, slots: dict[str, str]) -> str:
    """The insurer's answer to a customer, as plain text (quoted in the customer's reply)."""
    if pb.language == "nl":
        greeting = rng.choice(
            ("Beste {voornaam},", "Geachte {aanhef},", "Beste heer/mevrouw {achternaam},")
        )
    else:
        greeting = rng.choice(("Dear {voornaam},", "Dear {aanhef},"))
    parts = [
        expand(greeting, slots, rng),
        expand(rng.choice(pb.insurer_answers[team]), slots, rng),
        expand(rng.choice(pb.insurer_signoffs), slots, rng),
    ]
    return "\n\n".join(parts)


def forward_note(pb: Phrasebook, who: str, rng: random.Random, slots: dict[str, str]) -> list[str]:
    """The short note above a forwarded mail; ``who`` is broker, colleague or self."""
    pool = {
        "broker": pb.forward_notes_broker,
        "colleague": pb.forward_notes_colleague,
        "self": pb.forward_notes_self,
    }[who]
    return expand(rng.choice(pool), slots, rng).split("\n\n")


def apply_noise(
    paragraphs: list[str], rng: random.Random, *, noise: Noise = NOISE
) -> tuple[list[str], list[str]]:
    """Typos and all-lowercase writing, seeded; returns the new paragraphs and feature tags."""
    features: list[str] = []
    if rng.random() < noise.typos:
        rate = rng.uniform(*noise.typo_rate)
        paragraphs = [_WORD.sub(lambda m: _typo(m.group(0), rng, rate), p) for p in paragraphs]
        features.append("typos")
    if rng.random() < noise.lowercase:
        paragraphs = [p.lower() for p in paragraphs]
        if rng.random() < 0.5:
            paragraphs = [p.replace(",", "").rstrip(".") for p in paragraphs]
        features.append("lowercase")
    return paragraphs, features


def smart_quotes(paragraphs: list[str]) -> list[str]:
    """What Outlook/Word does to typed text: ' becomes ’ and a spaced hyphen an en dash."""
    return [p.replace("'", "’").replace(" - ", " – ") for p in paragraphs]


_WORD = re.compile(r"[A-Za-zÀ-ÿ]{4,}")
_KEYBOARD_NEIGHBOURS = {
    "a": "sqz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "y": "tu", "z": "x",
}


def _typo(word: str, rng: random.Random, rate: float) -> str:
    if rng.random() >= rate:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    if op == 2:
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD_NEIGHBOURS.get(word[i].lower())
    return word[:i] + (rng.choice(near) if near else word[i]) + word[i + 1 :]


def _pick_intent(intents: tuple[Intent, ...], rng: random.Random) -> Intent:
    return rng.choices(intents, weights=[intent.weight for intent in intents])[0]


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.?!])(\s|$)", text)
    return match.group(1) if match else text


def _group_sentences(sentences: list[str], rng: random.Random) -> list[str]:
    """Some writers put every sentence on its own line, most make one or two paragraphs."""
    if rng.random() < 0.25:
        return list(sentences)
    if len(sentences) > 2 and rng.random() < 0.5:
        cut = rng.randrange(1, len(sentences))
        return [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
    return [" ".join(sentences)]


def _customer_signature(
    pb: Phrasebook, rng: random.Random, slots: dict[str, str], person: Person, *, short: bool
) -> list[str]:
    roll = rng.random()
    if short and roll < 0.35:
        return [rng.choice(pb.device_signatures)] if rng.random() < 0.6 else []
    if roll < 0.06:
        return []
    lines = [expand(rng.choice(pb.signoffs), slots, rng)]
    name_style = rng.randrange(4)
    if name_style == 0:
        lines.append(person.first)
    elif name_style == 1:
        lines.append(f"{person.first[0]}. {person.last}")
    else:
        lines.append(person.name)
    if not short and rng.random() < 0.3:
        lines.append(f"{slots['adres']}")
        lines.append(f"{slots['postcode']} {slots['plaats']}")
    if not short and rng.random() < 0.35:
        label = rng.choice(("Tel:", "T:", "Mob.", "Telefoon:", "M"))
        lines.append(f"{label} {slots['tel']}")
    if rng.random() < 0.12:
        lines.extend(["", rng.choice(pb.device_signatures)])
    elif not short and rng.random() < 0.05:
        lines.extend(["", rng.choice(pb.disclaimers)])
    return lines
