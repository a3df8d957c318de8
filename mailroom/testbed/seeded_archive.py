# ruff: noqa: E501 - the mail texts below read better as one line each
"""A store seeded with teams, a labeller, an admin and a small labelling archive.

Shared by the browser tests, ``benchmarks/bench_labeling.py`` and the screenshots:
:func:`seed_store` fills a migrated database with teams and a small mail archive written
here (short Dutch and English mails; a few with quoted history, signatures, attachments,
archive-folder labels, near-duplicate groups, and one HTML mail that tries to run script).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from labeling.store.tables import Annotation, Message, Team, User

PASSWORD = "labelen is leuk"
START = datetime(2022, 3, 1, 8, 30, tzinfo=UTC)

# (slug, name, hotkey, guideline, [(subject, text)…]); texts written for these tests.
TEAMS: list[tuple[str, str, str, str, list[tuple[str, str]]]] = [
    (
        "schade",
        "Schade",
        "1",
        "Claims: damage, theft, accidents, photos and repair quotes for a claim, the status "
        "or payout of a claim. Not: complaints about claim handling (Klachten).",
        [
            (
                "Waterschade in de keuken",
                "Gisteren is er een leiding gesprongen onder het aanrecht. De vloer en de kastjes zijn nat. Hoe meld ik deze schade en moet ik zelf een loodgieter bellen?",
            ),
            (
                "Aanrijding op de parkeerplaats",
                "Bij het achteruitrijden heeft iemand mijn auto geraakt. Ik heb het schadeformulier samen met de andere bestuurder ingevuld; zie de bijlage.",
            ),
            (
                "Fiets gestolen",
                "Mijn elektrische fiets is vannacht uit de schuur gestolen. Aangifte is gedaan bij de politie. Wat heeft u nog van mij nodig?",
            ),
            (
                "Claim status",
                "I reported storm damage to my roof three weeks ago (claim 2024-118). Could you tell me when the loss adjuster will visit?",
            ),
        ],
    ),
    (
        "polis-wijzigen",
        "Polis wijzigen",
        "2",
        "Changes to an existing policy: cover, deductible, a new car or driver, a renovation, "
        "moving house with home insurance. Not: address only (Persoonsgegevens).",
        [
            (
                "Nieuwe auto",
                "Vanaf volgende week rijd ik in een andere auto. Kunt u de polis aanpassen naar het nieuwe kenteken? Het oude kenteken mag eraf.",
            ),
            (
                "Eigen risico verhogen",
                "Ik wil graag het eigen risico van mijn autoverzekering verhogen naar 500 euro. Wat betekent dat voor de premie?",
            ),
            (
                "Verbouwing",
                "We bouwen een serre aan ons huis. Moet de herbouwwaarde van de opstalverzekering omhoog?",
            ),
            (
                "Add a driver",
                "My daughter just got her licence. Please add her as a regular driver on my car insurance.",
            ),
        ],
    ),
    (
        "premie",
        "Premie & betalingen",
        "3",
        "Premiums and billing: increases, direct debits, reminders, payment plans, refunds of "
        "premium.",
        [
            (
                "Dubbele afschrijving",
                "Deze maand is de premie twee keer van mijn rekening afgeschreven. Wilt u het teveel betaalde terugstorten?",
            ),
            (
                "Premieverhoging",
                "Waarom is mijn premie per januari met twaalf procent gestegen? Ik heb geen schade gehad.",
            ),
            (
                "Betalingsregeling",
                "Ik kan de jaarpremie niet in een keer betalen. Is een betalingsregeling per maand mogelijk?",
            ),
            (
                "Reminder received",
                "I received a payment reminder, but I paid the invoice on the 3rd. Could you check?",
            ),
        ],
    ),
    (
        "klachten",
        "Klachten",
        "4",
        "Formal complaints and dissatisfaction about service, handling or staff.",
        [
            (
                "Klacht over afhandeling",
                "Ik ben zeer ontevreden over hoe mijn schademelding is behandeld. Niemand belt terug en ik wacht al twee maanden.",
            ),
            (
                "Onvriendelijke medewerker",
                "De medewerker aan de telefoon was kortaf en hing zelfs op. Ik wil hier formeel een klacht over indienen.",
            ),
            (
                "Complaint",
                "This is the third time I have to explain my situation. I want to file a formal complaint about your service.",
            ),
        ],
    ),
    (
        "offertes",
        "Offertes",
        "5",
        "New business: quotes for a new policy, comparing packages, becoming a customer.",
        [
            (
                "Offerte inboedelverzekering",
                "Wij verhuizen naar een appartement en zoeken een inboedelverzekering. Kunt u een offerte sturen?",
            ),
            (
                "Reisverzekering",
                "Wat kost een doorlopende reisverzekering voor een gezin met twee kinderen?",
            ),
            (
                "Quote for a van",
                "I am starting a small business and need insurance for a delivery van. Can you send me a quote?",
            ),
        ],
    ),
    (
        "opzeggingen",
        "Opzeggingen",
        "6",
        "Ending a policy: cancellation, notice periods, the customer has gone elsewhere.",
        [
            (
                "Opzeggen autoverzekering",
                "Ik heb mijn auto verkocht en wil de autoverzekering per de eerste van de maand opzeggen.",
            ),
            (
                "Overstappen",
                "Per 1 mei ben ik elders verzekerd. Hierbij zeg ik al mijn polissen bij u op.",
            ),
            (
                "Cancel my policy",
                "Please cancel my travel insurance; I no longer need it. What is the notice period?",
            ),
        ],
    ),
    (
        "persoonsgegevens",
        "Persoonsgegevens",
        "7",
        "Personal data only: a new postal address, e-mail, phone number or bank account; "
        "privacy requests.",
        [
            (
                "Nieuw adres",
                "Per 15 juni woon ik op een nieuw adres. Wilt u mijn gegevens aanpassen? Mijn polissen blijven verder hetzelfde.",
            ),
            (
                "Ander rekeningnummer",
                "Graag de premie voortaan afschrijven van mijn nieuwe rekening. Het IBAN staat hieronder.",
            ),
            (
                "Change of e-mail",
                "Please send all correspondence to my new e-mail address from now on.",
            ),
        ],
    ),
    (
        "algemeen",
        "Algemeen",
        "8",
        "Everything else: general questions about cover when nothing has happened, opening "
        "hours, documents.",
        [
            (
                "Ben ik verzekerd?",
                "Is mijn laptop meeverzekerd als ik die meeneem naar mijn werk? Er is niets gebeurd, ik wil het alleen weten.",
            ),
            ("Polisblad kwijt", "Ik kan mijn polisblad niet meer vinden. Kunt u een kopie sturen?"),
            ("Opening hours", "What are your opening hours during the Christmas holidays?"),
        ],
    ),
]

GREETINGS = ["Beste Polderzeker,", "Geachte heer, mevrouw,", "Hallo,", "Dear Sir or Madam,", ""]
SIGNATURES = [
    "Met vriendelijke groet,\nJ. de Vries\n06-12345678",
    "Groet,\nSanne",
    "Kind regards,\nPeter Smith",
    "",
]
QUOTE = (
    "Op {date} schreef Polderzeker <service@polderzeker.example>:\n"
    "> Beste klant,\n>\n> Dank voor uw bericht. Wij nemen binnen vijf werkdagen contact met u op.\n"
    ">\n> Met vriendelijke groet,\n> Klantenservice Polderzeker"
)

# An HTML mail that tries everything that must not run: a script and an onerror handler
# (both would mark the top page), an inline style, a remote image, a form.
EVIL_HTML = """<html><head><title>Factuur</title>
<style>body { background: url(/pwned-style.png) }</style>
<script>window.top.name = 'pwned-script'; document.title = 'pwned'; fetch('/pwned-fetch');</script>
</head><body>
<h1>Uw factuur</h1>
<p onclick="window.top.name='pwned-click'">Beste klant, in de bijlage vindt u de <b>factuur</b> voor uw reisverzekering.</p>
<img src="x" onerror="window.top.name='pwned-onerror'; window.top.document.title='pwned'; fetch('/pwned-img')">
<img src="https://tracker.example/open.gif" alt="">
<form action="/pwned-form"><input name="q"><button>Verstuur</button></form>
<p><a href="javascript:window.top.name='pwned-link'">Bekijk online</a></p>
</body></html>"""
EVIL_MARKERS = ("pwned",)

# The mail on the README's screenshot: the one after the HTML mail.
SHOWCASE = 6
SHOWCASE_MAIL = (
    "Re: Lekkage badkamer - schadenummer 2022-0417",
    "Beste meneer Jansen,\n\n"
    "Zoals afgesproken stuur ik u de foto's van de lekkage en de offerte van de loodgieter.\n"
    "De schade aan het plafond van de woonkamer is groter dan we dachten: er zit ook water in "
    "de muur. Kan de expert deze week nog langskomen? Ik ben dinsdag en donderdag thuis.\n\n"
    "Alvast bedankt.",
)

NEWSLETTER = (
    "Nieuwsbrief Verzekeringsnieuws",
    "In deze editie: tips voor een veilige vakantie, wat te doen bij stormschade en de nieuwe "
    "voorwaarden per 1 januari. Afmelden kan via de link onderaan.",
)


@dataclass
class SeededArchive:
    """What :func:`seed_store` created: ids in the order the 'oldest' queue shows them."""

    labeller: str
    admin: str
    teams: dict[str, int]  # slug -> id
    hotkeys: dict[str, str]  # slug -> key
    messages: list[int]  # by date, oldest first
    truth: dict[int, str]  # message id -> team slug it was written for
    evil_html: int = 0
    groups: dict[int, list[int]] = field(default_factory=dict)


def _message(n: int, subject: str, text: str, *, date: datetime, rng: random.Random) -> Message:
    greeting = rng.choice(GREETINGS)
    signature = rng.choice(SIGNATURES)
    new_text = f"{greeting}\n\n{text}".strip() if greeting else text
    quoted = (
        QUOTE.format(date=(date - timedelta(days=9)).strftime("%d-%m-%Y")) if n % 3 == 0 else ""
    )
    body = "\n\n".join(part for part in (new_text, signature, quoted) if part)
    raw = f"Subject: {subject}\r\nX-Seq: {n}\r\n\r\n{body}\r\n".encode()
    english = subject.isascii() and any(w in text for w in (" the ", " my ", " I "))
    first, last = (
        rng.choice(["Anna", "Bram", "Chantal", "Daan", "Emma", "Peter"]),
        rng.choice(["de Vries", "Jansen", "Bakker", "Smith", "Visser", "El Amrani"]),
    )
    attachments: list[dict[str, Any]] = []
    if "bijlage" in text or n % 7 == 0:
        attachments = [
            {"filename": "foto_schade.jpg", "content_type": "image/jpeg", "size": 184_320},
            {"filename": "formulier.pdf", "content_type": "application/pdf", "size": 53_248},
        ][: 1 + n % 2]
    message = Message(
        raw_compressed=b"",
        raw_size=0,
        content_hash=hashlib.sha256(raw).hexdigest(),
        subject=subject,
        subject_key=subject.lower(),
        sender_name=f"{first} {last}",
        sender_email=f"{first.lower()}.{last.split()[-1].lower()}{n}@example.nl",
        date=date,
        language="en" if english else "nl",
        body_text=body,
        new_text=new_text,
        quoted_text=quoted,
        signature=signature,
        attachments=attachments,
    )
    message.raw = raw
    return message


def seed_store(
    sessions: sessionmaker[Session], *, messages: int = 220, seed: int = 7
) -> SeededArchive:
    """Teams, a labeller ``lotte`` and an admin ``beheer`` (password :data:`PASSWORD`), and
    ``messages`` mails, oldest first: the 6th oldest is :data:`EVIL_HTML`; every fourth
    carries an archive-folder label; three newsletters form a near-duplicate group."""
    rng = random.Random(seed)
    password_hash = generate_password_hash(PASSWORD)
    with sessions() as session:
        session.add_all(
            [
                User(username="lotte", password_hash=password_hash, role="labeler"),
                User(username="beheer", password_hash=password_hash, role="admin"),
            ]
        )
        teams = {
            slug: Team(
                slug=slug,
                name=name,
                hotkey=key,
                description=guideline,
                imap_folder=name.split()[0],
                forward_address=f"{slug}@polderzeker.example",
            )
            for slug, name, key, guideline, _texts in TEAMS
        }
        session.add_all(teams.values())
        session.flush()

        rows: list[tuple[Message, str]] = []
        for n in range(messages):
            date = START + timedelta(hours=7 * n, minutes=rng.randrange(60))
            if n == 5:
                message = _message(
                    n,
                    "Uw factuur reisverzekering",
                    "Beste klant, in de bijlage vindt u de factuur voor uw reisverzekering.",
                    date=date,
                    rng=rng,
                )
                message.html = EVIL_HTML
                rows.append((message, "premie"))
                continue
            if n == SHOWCASE:
                message = _message(n, *SHOWCASE_MAIL, date=date, rng=rng)
                message.new_text = SHOWCASE_MAIL[1]
                message.signature = "Met vriendelijke groet,\nAnna de Vries\n06-12345678"
                message.quoted_text = QUOTE.format(date="20-02-2022")
                message.attachments = [
                    {"filename": "foto_lekkage.jpg", "content_type": "image/jpeg", "size": 812_544},
                    {
                        "filename": "offerte_loodgieter.pdf",
                        "content_type": "application/pdf",
                        "size": 96_256,
                    },
                ]
                rows.append((message, "schade"))
                continue
            if n in (40, 41, 42):
                message = _message(n, *NEWSLETTER, date=date, rng=rng)
                message.quoted_text = message.signature = ""
                rows.append((message, "algemeen"))
                continue
            slug, _name, _key, _guide, texts = TEAMS[rng.randrange(len(TEAMS))]
            subject, text = texts[rng.randrange(len(texts))]
            rows.append((_message(n, subject, text, date=date, rng=rng), slug))
        session.add_all(message for message, _slug in rows)
        session.flush()

        group = [message.id for message, _slug in rows[40:43]]
        for message, _slug in rows[40:43]:
            message.dup_group_id = group[0]
        groups = {group[0]: group} if group else {}
        for n, (message, slug) in enumerate(rows):
            if (n % 4 == 0 and n != 0) or n == SHOWCASE:
                # A weak label from the archive folder; now and then the wrong one, as in life.
                weak = slug if n % 12 else TEAMS[(n // 4) % len(TEAMS)][0]
                session.add(
                    Annotation(
                        message_id=message.id, team_id=teams[weak].id, source="archive-folder"
                    )
                )
        session.add(
            Annotation(
                message_id=rows[0][0].id, team_id=teams[rows[0][1]].id, source="archive-folder"
            )
        )
        session.commit()
        return SeededArchive(
            labeller="lotte",
            admin="beheer",
            teams={slug: team.id for slug, team in teams.items()},
            hotkeys={slug: team.hotkey or "" for slug, team in teams.items()},
            messages=[message.id for message, _slug in rows],
            truth={message.id: slug for message, slug in rows},
            evil_html=rows[5][0].id,
            groups=groups,
        )
