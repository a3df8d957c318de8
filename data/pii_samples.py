"""Short mail texts full of citizen service numbers (BSN) and dates of birth, with truth.

The demo corpus (:mod:`data.demo_corpus`) has almost no BSNs or dates of birth in it: an
insurer's customers rarely write them, and adding them there would change the corpus. This
seeded set covers both kinds (in the formats people write them, with and without a word
that announces them) together with names, phone numbers and addresses, and records each
detail as ``{"kind", "text"}`` like ``truth.jsonl``'s ``pii`` list. BSNs pass the 11-proef
and are invented; nothing refers to a real person.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from data.phrasebook import expand
from data.pii_truth import BIRTH_DATE, BSN, PHONE, POSTCODE, record
from data.pii_truth import NAME as NAME_KIND
from data.slots import MONTHS_EN, MONTHS_NL, make_person, make_slots

_NL = (
    "Mijn BSN is {bsn}.",
    "Burgerservicenummer: {bsn}",
    "Het burgerservicenummer van mijn {zoon|dochter} {kind} is {bsn}.",
    "Ik ben geboren op {geboortedatum}.",
    "Geboortedatum: {geboortedatum}",
    "Mijn geboortedatum is {geboortedatum}, niet wat op de polis staat.",
    "{Mijn vrouw|Mijn man}, {naam2}, geboren {geboortedatum}, BSN {bsn}, wil ik meeverzekeren.",
    "Onze {zoon|dochter} {kind} (geb. {geboortedatum}) gaat studeren.",
    "U vroeg om mijn nummer: {bsn}.",
    "Gegevens: {naam}, geboren {geboortedatum}, bereikbaar op {tel}.",
    "Nieuw adres vanaf {datum_toekomst}: {adres_nieuw}, {postcode_nieuw} {plaats_nieuw}.",
)
_EN = (
    "My citizen service number (BSN) is {bsn}.",
    "BSN: {bsn}",
    "I was born on {geboortedatum}.",
    "Date of birth: {geboortedatum}",
    "My {son|daughter} {kind}, born {geboortedatum}, needs cover too; BSN {bsn}.",
    "Details: {naam}, date of birth {geboortedatum}, phone {tel}.",
)
_OPENINGS = {"nl": ("Beste Polderzeker,", "Geachte heer/mevrouw,", "Hallo,"), "en": ("Hello,",)}
_CLOSINGS = {"nl": ("Met vriendelijke groet,", "Groet,"), "en": ("Kind regards,",)}


def bsn_number(rng: random.Random) -> str:
    """Nine digits passing the 11-proef (weights 9..2 and -1)."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(last)


def _bsn_text(rng: random.Random) -> str:
    number = bsn_number(rng)
    return rng.choice(
        (
            number,
            number,
            f"{number[:3]}.{number[3:6]}.{number[6:]}",
            f"{number[:4]}.{number[4:6]}.{number[6:]}",
            f"{number[:3]} {number[3:6]} {number[6:]}",
        )
    )


def _birth_date_text(rng: random.Random, language: str) -> str:
    born = datetime(1940, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(365 * 65))
    months = MONTHS_EN if language == "en" else MONTHS_NL
    styles = [
        f"{born:%d-%m-%Y}",
        f"{born.day}-{born.month}-{born.year}",
        f"{born.day} {months[born.month - 1]} {born.year}",
        f"{born:%d/%m/%Y}",
        f"{born:%d.%m.%Y}",
    ]
    if language == "en":
        styles.append(f"{months[born.month - 1]} {born.day}, {born.year}")
    return rng.choice(styles)


def pii_samples(count: int = 300, *, seed: int = 0) -> list[tuple[str, list[dict[str, str]]]]:
    """``count`` (text, pii) pairs; the same arguments give the same texts."""
    samples = []
    for index in range(count):
        rng = random.Random(f"pii-samples/{seed}/{index}")
        language = "en" if rng.random() < 0.25 else "nl"
        person = make_person(rng, language, index)
        slots = make_slots(rng, language, person, datetime(2025, 1, 10, tzinfo=UTC))
        slots["bsn"] = _bsn_text(rng)
        slots["geboortedatum"] = _birth_date_text(rng, language)
        templates = _EN if language == "en" else _NL
        body = " ".join(expand(t, slots, rng) for t in rng.sample(templates, 2))
        text = "\n\n".join(
            (
                rng.choice(_OPENINGS[language]),
                body,
                f"{rng.choice(_CLOSINGS[language])}\n{person.name}",
            )
        )
        candidates = [
            (BSN, slots["bsn"]),
            (BIRTH_DATE, slots["geboortedatum"]),
            (NAME_KIND, person.name),
            (NAME_KIND, slots["naam2"]),
            (NAME_KIND, slots["kind"]),
            (PHONE, slots["tel"]),
            (POSTCODE, slots["postcode_nieuw"]),
            ("address", slots["adres_nieuw"]),
        ]
        samples.append((text, record([text], candidates)))
    return samples
