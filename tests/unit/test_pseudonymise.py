"""Pseudonymising mail (labeling.mail.pseudonymise): what is found, how placeholders are
numbered, what is left alone, and that every pattern is linear-time."""

from __future__ import annotations

import re

import pytest

from labeling.mail import pseudonymise
from labeling.mail.pseudonymise import (
    MailText,
    Pseudonymiser,
    check_linear,
    pseudonymise_mail,
    pseudonymiser_for,
)


@pytest.fixture(scope="module")
def pseudonymiser() -> Pseudonymiser:
    return pseudonymiser_for()


@pytest.mark.parametrize(
    ("text", "value", "placeholder"),
    [
        ("Mail me op jan.jansen@example.nl graag.", "jan.jansen@example.nl", "[EMAIL-1]"),
        ("Mijn rekening is NL91 ABNA 0417 1643 00.", "NL91 ABNA 0417 1643 00", "[IBAN-1]"),
        ("Nieuw: nl00demo0123456789 vanaf nu", "nl00demo0123456789", "[IBAN-1]"),
        ("Zijn nummer is 111222333.", "111222333", "[BSN-1]"),
        ("BSN: 1234.56.789", "1234.56.789", "[BSN-1]"),
        ("Bel 06-12345678 of niet", "06-12345678", "[TELEFOON-1]"),
        ("Call +31 6 12345678 please", "+31 6 12345678", "[TELEFOON-1]"),
        ("kenteken 12-ABC-3 is verkocht", "12-ABC-3", "[KENTEKEN-1]"),
        ("de auto XX-123-B staat", "XX-123-B", "[KENTEKEN-1]"),
        ("Ik woon op de Dorpsstraat 12a in Zwolle.", "Dorpsstraat 12a", "[ADRES-1]"),
        ("Postcode 1234 AB Utrecht", "1234 AB", "[POSTCODE-1]"),
        ("Mijn geboortedatum is 12-3-1984.", "12-3-1984", "[GEBOORTEDATUM-1]"),
        ("I was born on March 12, 1984.", "March 12, 1984", "[GEBOORTEDATUM-1]"),
        ("Polisnummer PZ-12345678 graag", "PZ-12345678", "[POLIS-1]"),
        ("schadenummer sch-2024-00123", "sch-2024-00123", "[SCHADE-1]"),
        ("Mijn klantnummer is 1234567.", "1234567", "[RELATIE-1]"),
        ("Beste Jan,\n\nIk bel je.", "Jan", "[NAAM-1]"),
        ("Geachte heer De Vries,", "De Vries", "[NAAM-1]"),
        ("Dear Mr Smith,\nThanks.", "Smith", "[NAAM-1]"),
        ("Mijn moeder, Gerda Bakker, is 88.", "Gerda Bakker", "[NAAM-1]"),
        ("Mijn zoon Daan haalde zijn rijbewijs.", "Daan", "[NAAM-1]"),
        ("Ik sprak met J.P. de Boer.", "J.P. de Boer", "[NAAM-1]"),
        ("Met vriendelijke groet,\n\nAyşe Yılmaz\n", "Ayşe Yılmaz", "[NAAM-1]"),
        ("Groet, Kees", "Kees", "[NAAM-1]"),
    ],
)
def test_each_kind_is_replaced(
    pseudonymiser: Pseudonymiser, text: str, value: str, placeholder: str
) -> None:
    out = pseudonymiser.mail(text).text(text)
    assert value not in out
    assert out == text.replace(value, placeholder, 1)


def test_a_name_before_an_address_in_brackets(pseudonymiser: Pseudonymiser) -> None:
    text = "Van: Priya Raman <priya@example.com>\nOp 3 mei schreef Ruben <r@example.org>:"
    out = pseudonymiser.mail(text).text(text)
    assert out == "Van: [NAAM-1] <[EMAIL-1]>\nOp 3 mei schreef [NAAM-2] <[EMAIL-2]>:"


@pytest.mark.parametrize(
    "text",
    [
        "Beste klantenservice,\n\nIk heb een vraag over mijn premie van € 1.234,50.",
        "Geachte heer/mevrouw,\n\nDe schade was op 12-03-2024 om 14:30.",
        "Stuur het naar info@polderzeker.example of service@example.nl.",
        "Bel Polderzeker op 088-000 1234.",  # the organisation's own number (keep list)
        "Wij betalen EUR 500 voor de WA-dekking; zie artikel 12 van de voorwaarden.",
        "Verstuurd vanaf mijn iPhone",
        "Wilt u mijn autoverzekering per 1 maart opzeggen? Dank u wel.",
    ],
)
def test_what_is_not_personal_stays(pseudonymiser: Pseudonymiser, text: str) -> None:
    assert pseudonymiser.mail(text).text(text) == text


def test_one_value_one_placeholder_and_a_surname_shares_its_full_name(
    pseudonymiser: Pseudonymiser,
) -> None:
    mail = MailText(
        subject="Vraag over polis PZ-12345678",
        sender_name="Jan de Vries",
        sender_email="jan@example.nl",
        new_text="Geachte heer/mevrouw,\n\nMijn polis PZ-12345678 en 06-12345678.",
        signature="Met vriendelijke groet,\nJan de Vries\n06 12 34 56 78",
        quoted_text="Beste heer De Vries,\n\nWij bellen u op +31 6 12345678.\n\nSanne Visser",
    )
    out, _ = pseudonymise_mail(mail, pseudonymiser)
    assert out.sender_name == "[NAAM-1]" and out.sender_email == "[EMAIL-1]"
    assert out.subject == "Vraag over polis [POLIS-1]"
    assert "[POLIS-1] en [TELEFOON-1]" in out.new_text
    assert out.signature == "Met vriendelijke groet,\n[NAAM-1]\n[TELEFOON-1]"
    assert out.quoted_text.startswith("Beste heer [NAAM-1],")
    assert "[TELEFOON-1]" in out.quoted_text and out.quoted_text.endswith("[NAAM-2]")


def test_numbers_start_again_in_every_mail(pseudonymiser: Pseudonymiser) -> None:
    first = pseudonymiser.mail("Beste Jan,").text("Beste Jan,")
    second = pseudonymiser.mail("Beste Piet,").text("Beste Piet,")
    assert first == second == "Beste [NAAM-1],"


def test_pseudonymised_text_is_left_as_it_is(pseudonymiser: Pseudonymiser) -> None:
    text = "Beste [NAAM-1],\n\nUw polis [POLIS-1] en rekening [IBAN-2].\n\nGroet,\n[NAAM-3]"
    assert pseudonymiser.mail(text).text(text) == text


def test_names_from_the_headers_are_found_in_the_text(pseudonymiser: Pseudonymiser) -> None:
    text = "Hierbij de foto's. Op het polisblad staat 'Wolters' maar dat klopt niet."
    out, _ = pseudonymise_mail(
        MailText(sender_name="Bram Wolters", sender_email="b@example.org", new_text=text),
        pseudonymiser,
    )
    assert "Wolters" not in out.new_text and "'[NAAM-1]'" in out.new_text


def test_a_shared_mailbox_display_name_is_not_a_name(pseudonymiser: Pseudonymiser) -> None:
    text = "Polderzeker Klantenservice heeft gereageerd."
    out, _ = pseudonymise_mail(
        MailText(sender_name="Klantenservice", sender_email="info@example.nl", new_text=text),
        pseudonymiser,
        correspondents=[("Polderzeker Klantenservice", "info@polderzeker.example")],
    )
    assert out.new_text == text and out.sender_email == "info@example.nl"


def test_html_text_is_pseudonymised_and_markup_kept(pseudonymiser: Pseudonymiser) -> None:
    mail = MailText(sender_name="Jan de Vries", sender_email="jan@example.nl", new_text="Jan")
    _, pseudonyms = pseudonymise_mail(mail, pseudonymiser)
    html = (
        '<p>Beste <b>Jan</b> de Vries, bel 06-12345678 &amp; mail '
        'jan@example.nl</p><img alt="Jan de Vries" src="data:image/png;base64,AA==">'
        "<p>&lt;script&gt;</p>"
    )
    out = pseudonyms.html(html)
    assert "Vries" not in out and "06-12345678" not in out and "jan@example.nl" not in out
    assert "<b>[NAAM-1]</b>" in out and 'alt="[NAAM-1]"' in out
    assert "[TELEFOON-1] &amp; mail [EMAIL-1]" in out
    assert "&lt;script&gt;" in out and "<script>" not in out


def test_organisation_patterns_are_configurable() -> None:
    custom = Pseudonymiser(
        org_patterns={"DOSSIER": r"dossier (?P<value>D\d{6})"}, keep=("Acme",)
    )
    text = "Over dossier D123456 en polis PZ-12345678, Acme."
    assert custom.mail(text).text(text) == "Over dossier [DOSSIER-1] en polis PZ-12345678, Acme."


@pytest.mark.parametrize(
    ("label", "pattern", "complaint"),
    [
        ("DOSSIER", r"(a+)+b", "unbounded"),
        ("DOSSIER", r"\d*", "unbounded"),
        ("DOSSIER", r"(?:\d{1,5}){1,5}", "inside a repeat"),
        ("DOSSIER", r"(\d)\1", "back-references"),
        ("DOSSIER", r"(", "not a regular expression"),
        ("dossier", r"\d{6}", "capital letters"),
        ("NAAM", r"\d{6}", "built-in"),
    ],
)
def test_patterns_that_could_backtrack_badly_are_refused(
    label: str, pattern: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        Pseudonymiser(org_patterns={label: pattern})


def test_every_pattern_of_the_module_is_linear_time() -> None:
    patterns = [
        value for value in vars(pseudonymise).values() if isinstance(value, re.Pattern)
    ]
    assert len(patterns) >= 15
    for pattern in patterns:
        check_linear(pattern.pattern)
    for pattern in pseudonymise.DEFAULT_ORG_PATTERNS.values():
        check_linear(pattern)
