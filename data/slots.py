"""Invented people and slot values (policy numbers, dates, amounts ...) for the demo corpus.

Every value is drawn from a seeded ``random.Random``; nothing refers to a real person or
account. Bank accounts use the impossible check digits ``00`` and the bank code ``DEMO``,
phone numbers the unissued ``06-00`` range, and e-mail addresses the reserved ``example``
domains.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

NL_FIRST = (
    "Jan", "Pieter", "Sanne", "Lotte", "Daan", "Emma", "Ruben", "Femke", "Bram", "Iris",
    "Kees", "Annelies", "Joost", "Marieke", "Thijs", "Noor", "Gerrit", "Willemijn", "Sem",
    "Floor", "Hendrik", "Ingrid", "Mohamed", "Fatima", "Yusuf", "Ayşe", "André", "Renée",
    "Zoë", "Chloë", "René", "Noël", "Loïs", "Hélène", "José", "Marco", "Priscilla", "Wouter",
    "Els", "Henk", "Gerda", "Bas", "Mirjam", "Stijn", "Esther", "Koen", "Nadia", "Tim",
    "Karin", "Jeroen", "Anouk", "Frank", "Petra", "Rik", "Saskia", "Youssef", "Dewi", "Erik",
)
NL_LAST = (
    "de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
    "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "van der Linden",
    "Kok", "Jacobs", "de Haan", "Vermeulen", "van Dijk", "Schouten", "Willems", "Hoekstra",
    "Koster", "Prins", "Huisman", "Kuipers", "Verhoeven", "Postma", "Timmermans", "Groen",
    "Çelik", "Yılmaz", "El Amrani", "Bouzid", "Ünal", "Tjon-A-Fong", "Kramer", "Wolters",
    "Veenstra", "van Beek", "Scholten", "Hermans", "Evers", "Boersma", "Sijbrandij",
)
EN_FIRST = (
    "James", "Olivia", "Priya", "Lukas", "María", "Aoife", "Tomasz", "Chen", "Sophie",
    "Daniel", "Hannah", "Rahul", "Elena", "Marek", "Grace", "Jonas", "Amélie", "Oscar",
    "Isabella", "Ahmed", "Kate", "Mateo", "Nina", "Sean",
)
EN_LAST = (
    "Whitfield", "Bennett", "Raman", "Nowak", "González", "Byrne", "Kowalski", "Wei",
    "Müller", "Thompson", "O'Connor", "Patel", "Rossi", "Novák", "Fischer", "Lindqvist",
    "Moreau", "Clarke", "Silva", "Haddad", "Murphy", "Kaur", "Dubois", "Ivanova",
)
STREETS = (
    "Dorpsstraat", "Kerkstraat", "Molenweg", "Lindelaan", "Beukenlaan", "Schoolstraat",
    "Julianastraat", "Stationsweg", "Vlietkade", "Zuiderdiep", "Populierenhof", "Meidoornpad",
    "Havenstraat", "Koestraat", "Brink", "Wilhelminapark", "Sluisweg", "Ooievaarstraat",
    "Kastanjelaan", "Oude Gracht", "Prinsenhof", "Zonnebloemstraat", "Dijkweg", "Veldzicht",
)
CITIES = (
    "Utrecht", "Zwolle", "Amersfoort", "Haarlem", "Leiden", "Deventer", "Tilburg", "Breda",
    "Groningen", "Almere", "Gouda", "Alkmaar", "Delft", "Nijmegen", "Assen", "'s-Hertogenbosch",
    "Emmen", "Zaandam", "Apeldoorn", "Hoorn", "Leeuwarden", "Maastricht", "Enschede", "Schiedam",
)
CARS = (
    "Volkswagen Golf", "Toyota Yaris", "Kia Picanto", "Opel Corsa", "Peugeot 208",
    "Renault Clio", "Skoda Octavia", "Tesla Model 3", "Ford Focus", "Volvo V60", "Hyundai Kona",
    "Fiat 500", "BMW 3-serie", "Citroën C3", "Mazda CX-5", "Nissan Leaf", "Kia Niro",
    "Toyota Corolla", "Volkswagen Polo", "Audi A4",
)
COUNTRIES_NL = (
    "Frankrijk", "Spanje", "Italië", "Oostenrijk", "Portugal", "Griekenland", "Kroatië",
    "Noorwegen", "Canada", "Australië", "Duitsland", "België", "Thailand", "Zweden",
)
COUNTRIES_EN = (
    "France", "Spain", "Italy", "Austria", "Portugal", "Greece", "Croatia", "Norway", "Canada",
    "Australia", "Germany", "Belgium", "Thailand", "Ireland", "Poland",
)
PRODUCTS_NL = (
    "autoverzekering", "inboedelverzekering", "woonhuisverzekering", "reisverzekering",
    "aansprakelijkheidsverzekering", "rechtsbijstandverzekering", "fietsverzekering",
    "caravanverzekering", "motorverzekering", "opstalverzekering",
)
PRODUCTS_EN = (
    "car insurance", "contents insurance", "home insurance", "travel insurance",
    "liability insurance", "legal expenses insurance", "bicycle insurance",
)
STAFF = (
    "Marloes", "Dennis", "Yvonne", "Ricardo", "Hanneke", "Sjoerd", "Bianca", "Jasper",
    "Lisanne", "Ferdi",
)
BROKERS = (
    ("Adviesbureau Van Dijk", "vandijk-advies.example"),
    ("Hoekstra Assurantiën", "hoekstra-assurantien.example"),
    ("De Polder Financieel Advies", "depolder-advies.example"),
    ("Kuipers & Zn. Verzekeringen", "kuipers-verzekeringen.example"),
)
BIKES = ("Gazelle", "Batavus", "Cortina", "Sparta", "VanMoof", "Stromer", "Giant")
MAIL_DOMAINS = ("example.nl", "example.com", "example.org", "mail.example.nl")

MONTHS_NL = (
    "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
    "oktober", "november", "december",
)
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)


@dataclass(frozen=True)
class Person:
    """A correspondent: display name and address (always under a reserved domain)."""

    first: str
    last: str
    address: str
    female: bool

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def make_person(rng: random.Random, language: str, number: int) -> Person:
    """An invented customer; ``number`` keeps ``klant-NNNN`` addresses unique per seed."""
    if language == "en":
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
    else:
        first, last = rng.choice(NL_FIRST), rng.choice(NL_LAST)
    female = first in _FEMALE
    domain = rng.choice(MAIL_DOMAINS)
    local_first = _ascii_local(first)
    local_last = _ascii_local(last)
    style = rng.randrange(5)
    if style == 0:
        local = f"klant-{number:04d}"
    elif style == 1:
        local = f"{local_first}.{local_last}"
    elif style == 2:
        local = f"{local_first[0]}{local_last}{rng.randrange(60, 100)}"
    elif style == 3:
        local = f"{local_first}{rng.randrange(1, 999)}"
    else:
        local = f"{local_last}.{number}"
    return Person(first=first, last=last, address=f"{local}@{domain}", female=female)


def make_slots(rng: random.Random, language: str, person: Person, now: datetime) -> dict[str, str]:
    """All slot values one mail may use, consistent within the mail.

    ``now`` is the mail's date: past-tense dates (``datum``) lie before it, ``datum_toekomst``
    after it.
    """
    en = language == "en"
    months = MONTHS_EN if en else MONTHS_NL
    year = now.year
    past = now - timedelta(days=rng.randrange(1, 60))
    past2 = now - timedelta(days=rng.randrange(60, 200))
    future = (now + timedelta(days=rng.randrange(10, 70))).replace(day=1)
    if future <= now:
        future = (future + timedelta(days=32)).replace(day=1)
    bedrag = rng.choice((rng.randrange(150, 900), rng.randrange(900, 9000)))
    cents = rng.choice((0, 0, 50, rng.randrange(1, 100)))
    premie = rng.randrange(9, 160)
    premie_cents = rng.randrange(0, 100)
    increase = rng.randrange(6, 30)
    old_premie = rng.randrange(20, 140)
    new_premie = old_premie + max(2, old_premie * increase // 100)
    other = make_person(rng, language, rng.randrange(10000))
    street = rng.choice(STREETS)
    new_street = rng.choice([s for s in STREETS if s != street])
    slots = {
        "naam": person.name,
        "voornaam": person.first,
        "achternaam": person.last,
        "aanhef": (
            ("Mrs " if person.female else "Mr ") + person.last
            if en
            else ("mevrouw " if person.female else "heer ") + _capital_tussenvoegsel(person.last)
        ),
        "polis": _policy_number(rng),
        "polis2": _policy_number(rng),
        "claim": f"{rng.choice(('SCH', 'SCH', 'S'))}-{year}-{rng.randrange(1, 99999):05d}",
        "offerte": f"OFF-{rng.randrange(100000, 999999)}",
        "factuur": f"F{year}-{rng.randrange(1, 9999999):07d}",
        "relatie": str(rng.randrange(1000000, 9999999)),
        "kenteken": _plate(rng),
        "auto": rng.choice(CARS),
        "auto2": rng.choice(CARS),
        "bouwjaar": str(rng.randrange(2008, year + 1)),
        "iban": _iban(rng),
        "iban_nieuw": _iban(rng),
        "tel": _phone(rng),
        "tel_nieuw": _phone(rng),
        "email_nieuw": f"{_ascii_local(person.first)}.{rng.randrange(10, 99)}@example.com",
        "straat": rng.choice(STREETS),
        "adres": f"{street} {rng.randrange(1, 180)}",
        "postcode": _postcode(rng),
        "plaats": rng.choice(CITIES),
        "adres_nieuw": f"{new_street} {rng.randrange(1, 180)}{rng.choice(('', '', '', 'a', '-2'))}",
        "postcode_nieuw": _postcode(rng),
        "plaats_nieuw": rng.choice(CITIES),
        "datum": _date_text(rng, past, months, en),
        "datum2": _date_text(rng, past2, months, en),
        "datum_toekomst": (
            f"{future.day} {months[future.month - 1]}"
            if rng.random() < 0.6
            else (f"{future:%d/%m/%Y}" if en else f"{future:%d-%m-%Y}")
        ),
        "bedrag": _money(bedrag, cents, en, rng),
        "bedrag_klein": _money(rng.randrange(35, 400), rng.choice((0, 95, 50)), en, rng),
        "premie_bedrag": _money(premie, premie_cents, en, rng),
        "premie_oud": _money(old_premie, rng.randrange(100), en, rng),
        "premie_nieuw": _money(new_premie, rng.randrange(100), en, rng),
        "procent": f"{increase}%" if en else f"{increase}{rng.choice(('%', ' %', ' procent'))}",
        "jaren": str(rng.randrange(2, 31)),
        "weken": str(rng.randrange(3, 15)),
        "land": rng.choice(COUNTRIES_EN if en else COUNTRIES_NL),
        "naam2": other.name,
        "medewerker": rng.choice(STAFF),
        "kind": rng.choice(NL_FIRST if not en else EN_FIRST),
        "km": f"{rng.randrange(12, 40)}.000" if not en else f"{rng.randrange(12, 40)},000",
        "eigen_risico": _money(rng.choice((150, 250, 300, 500, 750)), 0, en, rng),
        "product": rng.choice(PRODUCTS_EN if en else PRODUCTS_NL),
        "tijd": f"{rng.randrange(7, 23):02d}:{rng.choice((0, 15, 30, 45, rng.randrange(60))):02d}",
        "maand": months[now.month - 1],
        "jaar": str(year),
        "fiets": rng.choice(BIKES),
        "leeftijd": str(rng.randrange(17, 24)),
    }
    return slots


_FEMALE = frozenset(
    {
        "Sanne", "Lotte", "Emma", "Femke", "Iris", "Annelies", "Marieke", "Noor", "Willemijn",
        "Floor", "Ingrid", "Fatima", "Ayşe", "Renée", "Zoë", "Chloë", "Loïs", "Hélène",
        "Priscilla", "Els", "Gerda", "Mirjam", "Esther", "Nadia", "Karin", "Anouk", "Petra",
        "Saskia", "Dewi", "Olivia", "Priya", "María", "Aoife", "Sophie", "Hannah", "Elena",
        "Grace", "Amélie", "Isabella", "Kate", "Nina",
    }
)


def _ascii_local(text: str) -> str:
    table = str.maketrans("éëèïöüçşıÇÜáñóàíú", "eeeioucsiCUanoaiu")
    cleaned = text.translate(table).lower()
    return "".join(char for char in cleaned if char.isalnum())


def _capital_tussenvoegsel(last: str) -> str:
    # "heer de Vries" is written "heer De Vries" in a Dutch salutation.
    return last[0].upper() + last[1:]


def _policy_number(rng: random.Random) -> str:
    digits = f"{rng.randrange(10000000, 99999999)}"
    style = rng.randrange(4)
    if style == 0:
        return f"PZ-{digits}"
    if style == 1:
        return f"PZ{digits}"
    if style == 2:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:]}"
    return digits


def _plate(rng: random.Random) -> str:
    def pick(n: int) -> str:
        return "".join(rng.choice("BDFGHJKLNPRSTVXZ") for _ in range(n))

    def digits(n: int) -> str:
        return "".join(str(rng.randrange(10)) for _ in range(n))

    style = rng.randrange(3)
    if style == 0:
        return f"{pick(2)}-{digits(3)}-{pick(1)}"
    if style == 1:
        return f"{digits(1)}-{pick(3)}-{digits(2)}"
    return f"{pick(3)}-{digits(2)}-{pick(1)}"


def _iban(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**9, 10**10)}"
    if rng.random() < 0.5:
        return f"NL00DEMO{digits}"
    return f"NL00 DEMO {digits[:4]} {digits[4:8]} {digits[8:]}"


def _phone(rng: random.Random) -> str:
    digits = f"{rng.randrange(0, 999999):06d}"
    style = rng.randrange(3)
    if style == 0:
        return f"06-00{digits}"
    if style == 1:
        return f"06 00 {digits[:2]} {digits[2:4]} {digits[4:]}"
    return f"+31 6 00{digits}"


def _postcode(rng: random.Random) -> str:
    letters = "ABCDEGHJKLMNPRSTVWXZ"
    return f"{rng.randrange(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}"


def _money(euros: int, cents: int, en: bool, rng: random.Random) -> str:
    if en:
        whole = f"{euros:,}"
        return rng.choice((f"€{whole}.{cents:02d}", f"EUR {whole}.{cents:02d}", f"€{whole}"))
    whole = f"{euros:,}".replace(",", ".")
    tail = rng.choice((f",{cents:02d}", ",-" if cents == 0 else f",{cents:02d}"))
    return rng.choice((f"€ {whole}{tail}", f"€{whole}{tail}", f"{whole}{tail} euro"))


def _date_text(rng: random.Random, when: datetime, months: tuple[str, ...], en: bool) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"{when.day} {months[when.month - 1]}"
    if style == 1:
        return f"{when:%d/%m/%Y}" if en else f"{when.day}-{when.month}-{when.year}"
    if style == 2:
        return f"{when.day} {months[when.month - 1]} {when.year}"
    return f"{when:%d-%m-%Y}" if not en else f"{when.day} {months[when.month - 1][:3]}"
