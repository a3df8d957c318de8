"""labeling.mail.mime (and the reply splitter in labeling.mail.quotes): hand-made tricky mails.

Every mail here is written for this file: Dutch and English insurance mail with the quirks
real clients produce. Raw MIME is spelled out as text so that broken structure stays broken.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from labeling.errors import MailParseError
from labeling.mail import mime
from labeling.mail.mime import normalise, subject_key
from labeling.mail.quotes import split_reply
from labeling.mail.values import Address, Attachment, NormalisedMail

HEADERS = (
    "From: Jan de Vries <jan@example.nl>\n"
    "To: schade@polderzeker.example\n"
    "Subject: Schade aan mijn auto\n"
    "Date: Mon, 03 Jun 2024 10:12:00 +0200\n"
    "Message-ID: <m1@example.nl>\n"
)


def mail(
    body: str = "Goedemorgen,\n\nMijn auto is beschadigd.\n",
    *,
    headers: str = HEADERS,
    extra: str = "",
    encoding: str = "utf-8",
) -> bytes:
    """A raw mail: ``headers`` + ``extra`` header lines, a blank line, then ``body``."""
    return (headers + extra + "\n" + body).encode(encoding)


def plain(body: str, charset: str = "utf-8", *, encoding: str | None = None) -> bytes:
    """A text/plain mail whose body bytes are ``body`` in ``charset`` (8bit)."""
    head = (
        HEADERS
        + "MIME-Version: 1.0\n"
        + f"Content-Type: text/plain; charset={charset}\n"
        + "Content-Transfer-Encoding: 8bit\n\n"
    ).encode("ascii")
    return head + body.encode(encoding or charset)


# --- Headers: RFC 2047, charsets, addresses ----------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("=?utf-8?B?U2NoYWRlIGFhbiBtaWpuIGF1dG8g4oKsIDI1MA==?=", "Schade aan mijn auto € 250"),
        (
            "=?utf-8?Q?Opzegging_reisverzekering_=E2=80=93_dringend?=",
            "Opzegging reisverzekering – dringend",
        ),
        ("=?iso-8859-1?Q?Wijziging_adres_Jos=E9?=", "Wijziging adres José"),
        ("=?ISO-8859-1?B?UHLkbWllIGb8ciBkaWUgUG9saWNl?=", "Prämie für die Police"),
        ("=?windows-1252?Q?=93Premie=94_te_hoog_=80_12?=", "“Premie” te hoog € 12"),
        # iso-8859-1 as labelled by many clients that really wrote windows-1252.
        ("=?iso-8859-1?Q?Klacht_=96_geen_reactie?=", "Klacht – geen reactie"),
        ("Re: =?utf-8?q?Schade?= =?utf-8?q?melding?= nr 12", "Re: Schademelding nr 12"),
    ],
)
def test_encoded_subjects_are_decoded(encoded: str, expected: str) -> None:
    result = normalise(mail(headers=HEADERS.replace("Schade aan mijn auto", encoded)))
    assert result.subject == expected
    assert ("Subject", expected) in result.headers


def test_encoded_display_names_in_three_charsets() -> None:
    headers = (
        "From: =?iso-8859-1?Q?Jos=E9_M=FCller?= <Jose.Muller@Example.NL>\n"
        "To: =?utf-8?B?QmrDtnJuIMOYc3RlcmdhYXJk?= <bjorn@example.nl>,\n"
        "  =?windows-1252?Q?Ren=E9e_=84de_Boer=93?= <renee@example.nl>\n"
        'Cc: "Team Schade, Noord" <schade-noord@polderzeker.example>\n'
        "Reply-To: antwoord@example.nl\n"
        "Subject: Vraag\n"
    )
    result = normalise(mail(headers=headers))
    assert result.sender == Address("José Müller", "jose.muller@example.nl")
    assert result.to == (
        Address("Björn Østergaard", "bjorn@example.nl"),
        Address("Renée „de Boer“", "renee@example.nl"),
    )
    assert result.cc == (Address("Team Schade, Noord", "schade-noord@polderzeker.example"),)
    assert result.reply_to == (Address("", "antwoord@example.nl"),)


def test_unknown_charset_in_header_is_guessed_and_recorded() -> None:
    result = normalise(
        mail(headers=HEADERS.replace("Schade aan mijn auto", "=?x-foo?Q?Caf=C3=A9_schade?="))
    )
    assert result.subject == "Café schade"
    assert "unknown charset x-foo" in result.defects


def test_raw_8bit_header_bytes_are_read_as_utf8_or_cp1252() -> None:
    raw = mail().replace(b"Schade aan mijn auto", "Schade aan één auto".encode())
    assert normalise(raw).subject == "Schade aan één auto"
    raw = mail().replace(b"Schade aan mijn auto", "Schade – € 80".encode("cp1252"))
    assert normalise(raw).subject == "Schade – € 80"


def test_address_headers_without_usable_address() -> None:
    headers = "From: Schadeafdeling\nTo: undisclosed-recipients:;\nCc: , ,\nSubject: Melding\n"
    result = normalise(mail(headers=headers))
    assert result.sender == Address("Schadeafdeling", "")
    assert result.to == ()
    assert result.cc == ()


def test_sender_falls_back_to_sender_header() -> None:
    headers = "Sender: claims-bot@polderzeker.example\nSubject: Melding\n"
    assert normalise(mail(headers=headers)).sender == Address("", "claims-bot@polderzeker.example")


def test_long_recipient_list_uses_the_linear_parser() -> None:
    recipients = ", ".join(f'"Klant {n}" <klant{n}@example.nl>' for n in range(300))
    result = normalise(mail(headers=f"To: {recipients}\nSubject: Nieuwsbrief\n"))
    assert len(result.to) == 300
    assert result.to[299] == Address("Klant 299", "klant299@example.nl")


def test_headers_keep_order_and_are_decoded() -> None:
    result = normalise(mail(extra="X-Mailer: =?utf-8?q?Outlook_f=C3=BCr_Mac?=\n"))
    names = [name for name, _ in result.headers]
    assert names == ["From", "To", "Subject", "Date", "Message-ID", "X-Mailer"]
    assert result.headers[-1] == ("X-Mailer", "Outlook für Mac")


# --- Dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Mon, 03 Jun 2024 10:12:00 +0200", datetime(2024, 6, 3, 8, 12, tzinfo=UTC)),
        ("3 Jun 2024 10:12 GMT", datetime(2024, 6, 3, 10, 12, tzinfo=UTC)),
        # -0000 means "zone unknown": the stdlib returns a naive time, which we take as UTC.
        ("Mon, 03 Jun 2024 10:12:00 -0000", datetime(2024, 6, 3, 10, 12, tzinfo=UTC)),
        ("2024-06-03T10:12:00+02:00", datetime(2024, 6, 3, 8, 12, tzinfo=UTC)),
        ("2024-06-03 10:12:00", datetime(2024, 6, 3, 10, 12, tzinfo=UTC)),
    ],
)
def test_dates_are_timezone_aware_utc(header: str, expected: datetime) -> None:
    result = normalise(mail(headers=HEADERS.replace("Mon, 03 Jun 2024 10:12:00 +0200", header)))
    assert result.date == expected
    assert result.date is not None and result.date.utcoffset() == timedelta(0)
    assert "bad date" not in result.defects


@pytest.mark.parametrize(
    "header", ["maandag 3 juni", "Mon, 32 Foo 2024 99:99:99 +0200", "Mon, 03 Jun 99999 10:12"]
)
def test_bad_date_is_none_and_recorded(header: str) -> None:
    result = normalise(mail(headers=HEADERS.replace("Mon, 03 Jun 2024 10:12:00 +0200", header)))
    assert result.date is None
    assert "bad date" in result.defects


def test_missing_date_is_none_without_defect() -> None:
    result = normalise(mail(headers="From: a@example.nl\nSubject: Vraag\n"))
    assert result.date is None
    assert result.defects == ()


# --- Thread keys ----------------------------------------------------------------------------


def test_thread_ids_lose_brackets_and_whitespace() -> None:
    headers = (
        "From: a@example.nl\n"
        "Message-ID:\n  <20240603.abc@mail.example.nl>\n"
        "In-Reply-To: <parent@mail.example.nl> (Jan's message of Monday)\n"
        "References: <root@mail.example.nl>\n\t<mid@mail.example.nl>  <parent@\n"
        " mail.example.nl>\n"
    )
    result = normalise(mail(headers=headers))
    assert result.message_id == "20240603.abc@mail.example.nl"
    assert result.in_reply_to == "parent@mail.example.nl"
    assert result.references == (
        "root@mail.example.nl",
        "mid@mail.example.nl",
        "parent@mail.example.nl",
    )
    assert result.thread_keys == (
        "20240603.abc@mail.example.nl",
        "parent@mail.example.nl",
        "root@mail.example.nl",
        "mid@mail.example.nl",
    )


def test_ids_without_brackets_are_accepted() -> None:
    headers = "From: a@example.nl\nMessage-ID: abc@x.nl\nReferences: r1@x.nl, r2@x.nl\n"
    result = normalise(mail(headers=headers))
    assert result.message_id == "abc@x.nl"
    assert result.references == ("r1@x.nl", "r2@x.nl")


def test_huge_references_keep_root_and_latest() -> None:
    refs = " ".join(f"<r{n}@x.nl>" for n in range(300))
    result = normalise(mail(extra=f"References: {refs}\n"))
    assert len(result.references) == mime.MAX_REFERENCES
    assert result.references[0] == "r0@x.nl"
    assert result.references[-1] == "r299@x.nl"
    assert any("references" in defect for defect in result.defects)


@pytest.mark.parametrize(
    "subject",
    [
        "Schade aan mijn auto",
        "Re: Schade aan mijn auto",
        "RE: RE: Schade aan mijn auto",
        "Fwd: Re: Schade aan mijn  auto",
        "FW: schade aan mijn auto",
        "WG: AW: Schade aan mijn auto",
        "Antw: Schade aan mijn auto",
        "Antwoord: Doorst: Schade aan mijn auto",
        "TR: SV: Schade aan mijn auto",
        "Re[2]: Schade aan mijn auto",
        "Re (3): Fw[12]: Schade aan mijn auto",
        "re:fwd:Schade aan mijn auto",
        "  Re :  SCHADE AAN MIJN AUTO  ",
    ],
)
def test_subject_key_drops_reply_and_forward_prefixes(subject: str) -> None:
    assert subject_key(subject) == "schade aan mijn auto"


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        ("Reis naar Spanje", "reis naar spanje"),  # "Re" inside a word is no prefix
        ("Trein: schade", "trein: schade"),
        ("Antwerpen: verhuizing", "antwerpen: verhuizing"),
        ("Svp bellen", "svp bellen"),
        ("", ""),
    ],
)
def test_subject_key_keeps_words_that_look_like_prefixes(subject: str, key: str) -> None:
    assert subject_key(subject) == key


def test_subject_key_is_cheap_on_long_whitespace() -> None:
    assert subject_key("re" + " " * 50_000 + "x") == "re x"


# --- Bodies: alternatives, HTML, charsets --------------------------------------------------


ALTERNATIVE = """\
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

{plain}
--alt
Content-Type: text/html; charset=utf-8

<html><body><p>{html}</p></body></html>
--alt--
"""


def alternative_mail(plain_text: str, html: str) -> bytes:
    head, _, rest = ALTERNATIVE.format(plain=plain_text, html=html).partition("\n\n")
    return mail(rest, extra=head + "\n")


def test_alternative_prefers_plain_text_and_keeps_html() -> None:
    result = normalise(
        alternative_mail(
            "Mijn polis moet worden aangepast.", "Mijn <b>polis</b> moet worden aangepast."
        )
    )
    assert result.body_text == "Mijn polis moet worden aangepast."
    assert result.html is not None and "<b>polis</b>" in result.html
    assert "html converted" not in result.defects


@pytest.mark.parametrize(
    "stub",
    [
        "",
        "   \n  ",
        "Bekijk deze e-mail in uw browser: https://example.nl/m/1",
        "Kunt u deze e-mail niet goed lezen? Klik hier.",
        "This email contains HTML. View it in your browser.",
    ],
)
def test_stub_plain_text_gives_way_to_html(stub: str) -> None:
    result = normalise(alternative_mail(stub, "Uw premie voor 2025 wordt <i>verlaagd</i>."))
    assert result.body_text == "Uw premie voor 2025 wordt verlaagd."
    assert "html converted" in result.defects


def test_html_only_mail_drops_script_and_style() -> None:
    html = (
        "<html><head><style>p { color: red } .x { display: none }</style>"
        "<script>document.write('stuur je wachtwoord')</script>"
        "<title>Nieuwsbrief</title></head><body>"
        "<p>Geachte heer Bakker,</p><p>Wij hebben uw <b>opzegging</b> ontvangen.</p>"
        "<table><tr><td>Polis</td><td>12345</td></tr></table>"
        "<script type='text/javascript'>alert(1)</script></body></html>"
    )
    raw = mail(html, extra="Content-Type: text/html; charset=utf-8\n")
    result = normalise(raw)
    assert "Geachte heer Bakker," in result.body_text
    assert "Wij hebben uw opzegging ontvangen." in result.body_text
    assert "Polis" in result.body_text and "12345" in result.body_text
    for hidden in ("wachtwoord", "alert", "color", "Nieuwsbrief"):
        assert hidden not in result.body_text
    assert result.html is not None and "<script" in result.html  # kept raw, never shown as is
    assert "html converted" in result.defects


def test_outlook_html_reply_is_split_after_conversion() -> None:
    html = (
        "<html><body><div class=WordSection1><p class=MsoNormal>Goedemiddag,</p>"
        "<p class=MsoNormal>Ik ga akkoord met de vergoeding.</p>"
        "<p class=MsoNormal>Met vriendelijke groet,<br>Petra Smit</p>"
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt">'
        "<p class=MsoNormal><b>Van:</b> Schade &lt;schade@polderzeker.example&gt;<br>"
        "<b>Verzonden:</b> maandag 3 juni 2024 10:12<br>"
        "<b>Aan:</b> Petra Smit &lt;petra@example.nl&gt;<br>"
        "<b>Onderwerp:</b> Voorstel vergoeding</p></div>"
        "<p class=MsoNormal>Wij stellen 450 euro voor.</p></div></body></html>"
    )
    result = normalise(mail(html, extra="Content-Type: text/html; charset=utf-8\n"))
    assert result.new_text == "Goedemiddag,\n\nIk ga akkoord met de vergoeding."
    assert result.signature == "Met vriendelijke groet,\nPetra Smit"
    assert result.quoted_text.startswith("Van: Schade <schade@polderzeker.example>")
    assert result.quoted_text.endswith("Wij stellen 450 euro voor.")


def test_html_charset_from_meta_tag() -> None:
    html = '<html><head><meta charset="windows-1252"></head><body>Premie € 12</body></html>'
    raw = HEADERS.encode() + b"Content-Type: text/html\n\n" + html.encode("cp1252")
    assert normalise(raw).body_text == "Premie € 12"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("utf-8", "Graag één afspraak – vóór vrijdag. € 50"),
        ("iso-8859-1", "Graag één afspraak vóór vrijdag."),
        ("iso-8859-15", "Premie € 50 voor één jaar"),
        ("windows-1252", "“Graag” één afspraak – vóór vrijdag. € 50"),
    ],
)
def test_body_charsets(charset: str, text: str) -> None:
    result = normalise(plain(text, charset))
    assert result.body_text == text
    assert result.defects == ()


def test_iso_8859_1_label_on_windows_1252_bytes() -> None:
    result = normalise(plain("Uw “premie” – € 50", "iso-8859-1", encoding="cp1252"))
    assert result.body_text == "Uw “premie” – € 50"


def test_unknown_body_charset_is_guessed() -> None:
    text = "Geachte heer, de schade aan uw caravan wordt vergoed. Café, één, reçu, è."
    result = normalise(plain(text, "x-unknown-foo", encoding="cp1252"))
    assert result.body_text == text
    assert "unknown charset x-unknown-foo" in result.defects


def test_mislabelled_utf8_body_is_recovered() -> None:
    result = normalise(
        plain("Mijn caravan is beschadigd. Één vraag.", "us-ascii", encoding="utf-8")
    )
    assert result.body_text == "Mijn caravan is beschadigd. Één vraag."


def test_undeclared_cp1252_body_is_guessed() -> None:
    text = "Beste, ik wil mijn inboedelverzekering opzeggen per één juli. Groet, René"
    raw = HEADERS.encode() + b"\n" + text.encode("cp1252")
    result = normalise(raw)
    assert result.body_text.startswith("Beste, ik wil mijn inboedelverzekering opzeggen per één")
    assert any(defect.startswith("charset guessed") for defect in result.defects)


def test_bytes_to_bytes_codec_is_not_a_charset() -> None:
    result = normalise(plain("Gewoon tekst", "zlib", encoding="ascii"))
    assert result.body_text == "Gewoon tekst"
    assert "unknown charset zlib" in result.defects


def test_quoted_printable_and_base64_bodies() -> None:
    qp = mail(
        "Schade =E2=82=AC 250,=\n- graag snel.\n",
        extra="Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n",
    )
    assert normalise(qp).body_text == "Schade € 250,- graag snel."
    b64 = base64.encodebytes(b"Mijn fiets is gestolen in Zwolle.").decode()
    raw = mail(
        b64, extra="Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n"
    )
    assert normalise(raw).body_text == "Mijn fiets is gestolen in Zwolle."


def test_crlf_and_mbox_from_line() -> None:
    raw = b"From jan@example.nl Mon Jun  3 10:12:00 2024\r\n" + mail().replace(b"\n", b"\r\n")
    result = normalise(raw)
    assert result.sender == Address("Jan de Vries", "jan@example.nl")
    assert result.body_text == "Goedemorgen,\n\nMijn auto is beschadigd."


def test_body_controls_are_removed_and_blank_lines_collapsed() -> None:
    raw = mail("Regel een\x00\x07\n\n\n\n\nRegel twee   \n")
    assert normalise(raw).body_text == "Regel een\n\nRegel twee"


# --- New text, quotes and signatures -------------------------------------------------------


OUTLOOK_NL = """\
Goedemiddag,

Hierbij stuur ik het ingevulde schadeformulier terug.

Met vriendelijke groet,

Petra Smit
Smit Installatietechniek B.V.
T 06-12345678

-----Oorspronkelijk bericht-----
Van: Schadeafdeling Polderzeker <schade@polderzeker.example>
Verzonden: maandag 3 juni 2024 10:12
Aan: Petra Smit <petra@smit-installatie.example>
Onderwerp: Uw schademelding 2024-0113

Beste mevrouw Smit,

Wilt u het bijgevoegde formulier invullen?
"""


def test_dutch_outlook_reply_with_original_message_separator() -> None:
    result = normalise(mail(OUTLOOK_NL))
    assert result.new_text == (
        "Goedemiddag,\n\nHierbij stuur ik het ingevulde schadeformulier terug."
    )
    assert result.signature.startswith("Met vriendelijke groet,\n\nPetra Smit")
    assert result.signature.endswith("T 06-12345678")
    assert result.quoted_text.startswith("-----Oorspronkelijk bericht-----\nVan: Schade")
    assert result.quoted_text.endswith("Wilt u het bijgevoegde formulier invullen?")
    assert result.language == "nl"


def test_outlook_header_block_under_a_rule_without_separator() -> None:
    text = (
        "Graag ontvang ik een offerte voor een bestelbus.\n\n"
        "________________________________\n"
        "Van: Offertes <offerte@polderzeker.example>\n"
        "Verzonden: dinsdag 4 juni 2024 09:00\n"
        "Aan: k.jansen@example.nl\n"
        "CC: verkoop@polderzeker.example\n"
        "Onderwerp: RE: Offerte\n\n"
        "Welk kenteken heeft de bus?\n"
    )
    split = split_reply(text)
    assert split.new_text == "Graag ontvang ik een offerte voor een bestelbus."
    assert split.quoted_text.startswith("________________________________\nVan: Offertes")


def test_english_outlook_header_block() -> None:
    text = (
        "Please find the invoice attached.\n\n"
        "From: Billing <billing@polderzeker.example>\n"
        "Sent: Tuesday, June 4, 2024 9:00 AM\n"
        "To: Sam Carter <sam@example.com>\n"
        "Subject: Premium invoice\n\n"
        "Dear Mr Carter,\n"
    )
    split = split_reply(text)
    assert split.new_text == "Please find the invoice attached."
    assert split.quoted_text.startswith("From: Billing")


def test_a_single_from_line_is_not_a_header_block() -> None:
    text = "Van: mijn buurman hoorde ik dat de dekking is gewijzigd.\nKlopt dat?\n"
    assert split_reply(text).new_text == text.strip()


@pytest.mark.parametrize(
    "attribution",
    [
        "Op ma 3 jun. 2024 om 10:12 schreef Jan <jan@x.nl>:",
        "Op 3 jun. 2024, om 10:12 heeft Jan Bakker <jan@x.nl> het volgende geschreven:",
        "Op 03-06-2024 10:12, schreef Polderzeker Klantenservice:",
        "On Mon, 3 Jun 2024 at 10:12, Jan Bakker <jan@x.nl> wrote:",
        "On 3 Jun 2024, at 10:12, jan@x.nl wrote:",
        "Am 03.06.2024 um 10:12 schrieb Jan Bakker <jan@x.nl>:",
    ],
)
def test_attribution_with_quoted_lines(attribution: str) -> None:
    text = (
        "Ja, de schade is op 1 juni ontstaan.\n\n"
        f"{attribution}\n"
        "> Wanneer is de schade ontstaan?\n"
        ">\n"
        "> Groet, Polderzeker\n"
    )
    split = split_reply(text)
    assert split.new_text == "Ja, de schade is op 1 juni ontstaan."
    assert split.quoted_text.startswith(attribution)
    assert split.quoted_text.endswith("> Groet, Polderzeker")
    assert split.signature == ""


def test_attribution_wrapped_over_two_lines() -> None:
    text = (
        "Prima, dank u.\n\n"
        "On Mon, 3 Jun 2024 at 10:12, Polderzeker Klantenservice <\n"
        "klantenservice@polderzeker.example> wrote:\n\n"
        "> Uw wijziging is verwerkt.\n"
    )
    split = split_reply(text)
    assert split.new_text == "Prima, dank u."
    assert split.quoted_text.startswith("On Mon, 3 Jun 2024")


def test_attribution_from_html_mail_without_quote_marks_cuts_the_rest() -> None:
    # Turned into text, an HTML blockquote loses its ">" marks.
    text = (
        "Ik ga akkoord met het voorstel.\n\n"
        "Op di 4 jun. 2024 om 09:00 schreef Polderzeker <info@polderzeker.example>:\n\n"
        "  Wij stellen een vergoeding van 450 euro voor.\n"
    )
    split = split_reply(text)
    assert split.new_text == "Ik ga akkoord met het voorstel."
    assert split.quoted_text.endswith("Wij stellen een vergoeding van 450 euro voor.")


def test_interleaved_reply_keeps_the_answers() -> None:
    text = (
        "On Mon, 3 Jun 2024 at 10:12, Claims <claims@polderzeker.example> wrote:\n"
        "> What is the registration number?\n"
        "AB-123-C\n\n"
        "> Where did it happen?\n"
        "In Utrecht, on the A12.\n\n"
        "Kind regards,\n"
        "Sam\n"
    )
    split = split_reply(text)
    assert split.new_text == "AB-123-C\n\nIn Utrecht, on the A12."
    assert "> What is the registration number?" in split.quoted_text
    assert split.signature == "Kind regards,\nSam"


def test_quoted_lines_without_attribution() -> None:
    split = split_reply("> Is de premie betaald?\nJa, gisteren.\n")
    assert split.new_text == "Ja, gisteren."
    assert split.quoted_text == "> Is de premie betaald?"


def test_forwarded_message_marker() -> None:
    text = (
        "Zie onderstaande klacht, graag oppakken.\n\n"
        "---------- Forwarded message ---------\n"
        "Van: Klant <klant@example.nl>\n"
        "Ik ben ontevreden over de afhandeling.\n"
    )
    split = split_reply(text)
    assert split.new_text == "Zie onderstaande klacht, graag oppakken."
    assert split.quoted_text.startswith("---------- Forwarded message")


@pytest.mark.parametrize(
    "sign_off",
    [
        "Met vriendelijke groet,\nJan Bakker",
        "Met vriendelijke groeten,\nJan Bakker",
        "Vriendelijke groet,\nJan",
        "Met vriendelijke groet / Kind regards,\nJan Bakker\nPolderzeker",
        "Mvg\nJan",
        "Mvg Jan Bakker",
        "M.v.g.,\nJan",
        "Groeten,\nJan",
        "Groetjes, Anouk",
        "Hartelijke groet,\nJan",
        "Gr. Jan",
        "Kind regards,\nSam Carter\nCarter Logistics Ltd",
        "Best regards,\nSam",
        "Regards,\nSam",
        "Yours sincerely,\nSam Carter",
        "-- \nJan Bakker | 06-12345678",
        "--\nJan Bakker",
        "Verzonden vanaf mijn iPhone",
        "Verstuurd vanaf mijn Samsung Galaxy-smartphone.",
        "Sent from my iPhone",
        "Get Outlook for Android",
    ],
)
def test_signatures(sign_off: str) -> None:
    text = f"Mijn nieuwe adres is Dorpsstraat 12 in Ede.\n\n{sign_off}\n"
    split = split_reply(text)
    assert split.new_text == "Mijn nieuwe adres is Dorpsstraat 12 in Ede."
    assert split.signature == sign_off


@pytest.mark.parametrize(
    "text",
    [
        # A greeting that opens prose is no sign-off.
        "Groeten uit Spanje!\nIk wil mijn reisverzekering verlengen met twee weken omdat "
        "onze terugvlucht is geannuleerd.\n",
        # A sign-off word inside a sentence.
        "Met vriendelijke groet aan uw collega wil ik nog melden dat de schade hersteld is.\n",
        # Only a sign-off and nothing before it: nothing to split from.
        "Met vriendelijke groet,\nJan\n",
    ],
)
def test_no_signature_split(text: str) -> None:
    split = split_reply(text)
    assert split.new_text == text.strip()
    assert split.signature == ""


def test_signature_tail_too_long_is_text() -> None:
    rest = "\n".join(f"Punt {n} van mijn klacht." for n in range(30))
    text = f"Inleiding.\n\nGroeten,\n{rest}\n"
    assert split_reply(text).signature == ""


def test_plain_text_without_conventions_is_all_new() -> None:
    text = "Ik wil mijn polis opzeggen.\nPolisnummer 123456."
    assert split_reply(text) == split_reply(text + "\n\n")
    assert split_reply(text).new_text == text
    assert split_reply(text).quoted_text == ""


def test_signature_then_iphone_then_quote_in_one_mail() -> None:
    text = (
        "Akkoord.\n\nGroet,\nJan\n\nVerzonden vanaf mijn iPhone\n\n"
        "> Op 3 jun. 2024 om 10:12 heeft Polderzeker het volgende geschreven:\n"
        "> Gaat u akkoord?\n"
    )
    split = split_reply(text)
    assert split.new_text == "Akkoord."
    assert split.signature == "Groet,\nJan\n\nVerzonden vanaf mijn iPhone"
    assert split.quoted_text.startswith("> Op 3 jun. 2024")


# --- Language -----------------------------------------------------------------------------


def test_language_dutch_and_english() -> None:
    nl = normalise(
        mail(
            "Goedemorgen,\n\nIk wil graag mijn inboedelverzekering opzeggen "
            "omdat ik ga verhuizen naar het buitenland.\n"
        )
    )
    assert nl.language == "nl"
    en = normalise(
        mail(
            "Hello,\n\nI would like to cancel my home contents insurance "
            "because I am moving abroad next month.\n"
        )
    )
    assert en.language == "en"


def test_language_uses_new_text_not_the_quoted_history() -> None:
    body = (
        "Thank you, I will send the documents tomorrow morning.\n\n"
        "Op ma 3 jun. 2024 om 10:12 schreef Polderzeker <info@polderzeker.example>:\n"
        "> Wilt u de documenten opsturen? Wij hebben ze nodig voor de beoordeling van "
        "uw aanvraag en de berekening van de premie.\n"
    )
    assert normalise(mail(body)).language == "en"


def test_language_falls_back_to_subject_then_und() -> None:
    headers = HEADERS.replace(
        "Schade aan mijn auto", "Vraag over de dekking van mijn woonhuisverzekering"
    )
    assert normalise(mail("Ok\n", headers=headers)).language == "nl"
    assert normalise(mail("Ok\n", headers="From: a@b.nl\nSubject: ?\n")).language == "und"


# --- Attachments and forwards --------------------------------------------------------------


MIXED = """\
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Zie de foto van de waterschade en het formulier.
--alt
Content-Type: text/html; charset=utf-8

<p>Zie de foto van de waterschade en het formulier.<img src="cid:foto1"></p>
--alt--
--rel
Content-Type: image/png
Content-ID: <foto1>
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--rel--
--mix
Content-Type: application/pdf; name="=?utf-8?Q?schadeformulier_=E2=82=AC.pdf?="
Content-Disposition: attachment; filename*=utf-8''schadeformulier%20%E2%82%AC.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==
--mix
Content-Type: text/plain; charset=utf-8; name="notities.txt"
Content-Disposition: attachment; filename="=?iso-8859-1?Q?notities_caf=E9.txt?="

Geen body, maar een bijlage.
--mix--
"""


def test_attachments_are_listed_not_kept() -> None:
    head, _, rest = MIXED.partition("\n\n")
    result = normalise(mail(rest, extra=head + "\n"))
    assert result.body_text == "Zie de foto van de waterschade en het formulier."
    assert result.attachments == (
        Attachment("", "image/png", 70),
        Attachment("schadeformulier €.pdf", "application/pdf", 52),
        Attachment("notities café.txt", "text/plain", 28),
    )
    assert "Geen body" not in result.body_text


FORWARD = """\
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain; charset=utf-8

{outer}
--fwd
Content-Type: message/rfc822
Content-Disposition: attachment; filename="klacht.eml"

From: Klant <klant@example.nl>
Subject: Klacht over afhandeling
Content-Type: text/plain; charset=utf-8

Ik ben zeer ontevreden over de afhandeling van mijn schade.
--fwd--
"""


def test_attached_message_is_listed_and_not_the_body() -> None:
    head, _, rest = FORWARD.format(outer="Graag oppakken door team klachten.").partition("\n\n")
    result = normalise(mail(rest, extra=head + "\n"))
    assert result.body_text == "Graag oppakken door team klachten."
    assert len(result.attachments) == 1
    attached = result.attachments[0]
    assert (attached.filename, attached.content_type) == ("klacht.eml", "message/rfc822")
    assert attached.size > 100
    assert "ontevreden" not in result.body_text


def test_forward_without_own_text_takes_the_attached_body() -> None:
    head, _, rest = FORWARD.format(outer="").partition("\n\n")
    result = normalise(mail(rest, extra=head + "\n"))
    assert result.body_text == "Ik ben zeer ontevreden over de afhandeling van mijn schade."
    assert "body taken from attached message" in result.defects
    assert result.attachments[0].content_type == "message/rfc822"


# --- Broken MIME ---------------------------------------------------------------------------


def test_multipart_without_boundary_is_read_as_text() -> None:
    raw = mail("Mijn ruit is gebarsten.\n", extra="Content-Type: multipart/mixed\n")
    result = normalise(raw)
    assert result.body_text == "Mijn ruit is gebarsten."
    assert "no boundary in multipart" in result.defects


def test_missing_boundary_is_recovered_from_the_delimiter_lines() -> None:
    body = (
        "--=_part_1\nContent-Type: text/plain; charset=utf-8\n\nMijn ruit is gebarsten.\n"
        "--=_part_1\nContent-Type: image/jpeg\nContent-Disposition: attachment; "
        'filename="ruit.jpg"\n\n/9j/\n'
        "--=_part_1--\n"
    )
    for header in (
        "Content-Type: multipart/mixed\n",
        'Content-Type: multipart/mixed; boundary="verkeerd"\n',
    ):
        result = normalise(mail(body, extra=header))
        assert result.body_text == "Mijn ruit is gebarsten."
        assert result.attachments == (Attachment("ruit.jpg", "image/jpeg", 4),)
        assert "multipart boundary recovered" in result.defects


def test_boundary_never_present_is_read_as_text() -> None:
    raw = mail(
        "Mijn ruit is gebarsten.\n", extra='Content-Type: multipart/mixed; boundary="nergens"\n'
    )
    result = normalise(raw)
    assert "Mijn ruit is gebarsten." in result.body_text
    assert "start boundary not found" in result.defects


def test_missing_close_boundary() -> None:
    body = "--b\nContent-Type: text/plain\n\nMijn ruit is gebarsten.\n"
    result = normalise(mail(body, extra='Content-Type: multipart/mixed; boundary="b"\n'))
    assert result.body_text == "Mijn ruit is gebarsten."
    assert "close boundary not found" in result.defects


def test_truncated_base64() -> None:
    encoded = base64.b64encode(b"Mijn fiets is gestolen bij het station.").decode()
    raw = mail(
        encoded[:-7] + "\n",
        extra="Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
    )
    result = normalise(raw)
    assert result.body_text.startswith("Mijn fiets is gestolen bij het")
    assert any("base64" in defect for defect in result.defects)


def test_unknown_transfer_encoding_keeps_the_bytes() -> None:
    raw = mail("Mijn fiets is gestolen.\n", extra="Content-Transfer-Encoding: x-gzip64\n")
    result = normalise(raw)
    assert result.body_text == "Mijn fiets is gestolen."
    assert "unknown transfer encoding x-gzip64" in result.defects


def test_header_line_without_colon_is_dropped_when_headers_follow() -> None:
    raw = (
        b"From: jan@example.nl\nSubject: Schade\nX-Kapot \xff\xfe\x00 geen dubbele punt\n"
        b"To: schade@polderzeker.example\nContent-Type: text/plain; charset=utf-8\n\nTekst\n"
    )
    result = normalise(raw)
    assert result.sender == Address("", "jan@example.nl")
    assert result.to == (Address("", "schade@polderzeker.example"),)
    assert result.body_text == "Tekst"
    assert "header line without colon dropped" in result.defects


def test_line_without_colon_before_body_text_ends_the_headers() -> None:
    # No blank line between headers and text: the text stays the body.
    raw = b"From: jan@example.nl\nSubject: Schade\nBeste,\nPolisnummer: 12345\n\nMvg Jan\n"
    result = normalise(raw)
    assert result.subject == "Schade"
    assert result.body_text.startswith("Beste,\nPolisnummer: 12345")
    assert "missing header body separator" in result.defects


def test_nul_bytes_are_dropped_everywhere() -> None:
    raw = mail("Mijn\x00 auto\x00.\n").replace(b"Schade aan", b"Schade\x00 aan")
    result = normalise(raw)
    assert result.subject == "Schade aan mijn auto"
    assert result.body_text == "Mijn auto."
    assert all("\x00" not in value for _, value in result.headers)


def test_overlong_content_header_is_cut_before_parsing() -> None:
    params = "; ".join(f'p{n}="{"x" * 20}"' for n in range(20_000))
    raw = mail("Tekst\n", extra=f"Content-Type: text/plain; {params}\n")
    result = normalise(raw)
    assert result.body_text == "Tekst"
    assert "overlong content header cut" in result.defects


def test_overlong_header_value_is_cut() -> None:
    raw = mail(extra="X-Junk: " + "a " * 20_000 + "\n")
    result = normalise(raw)
    value = dict(result.headers)["X-Junk"]
    assert len(value) <= mime.MAX_HEADER_CHARS
    assert "header X-Junk cut" in result.defects


# --- Limits and refusals -------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \r\n\t\n"])
def test_empty_input_is_refused(raw: bytes) -> None:
    with pytest.raises(MailParseError, match="empty"):
        normalise(raw)


@pytest.mark.parametrize(
    "raw", [b"\x00\x01\x02 not a mail at all \xff\xfe", bytes(range(256)) * 4, b"\n\n\n\x00"]
)
def test_binary_without_headers_is_refused(raw: bytes) -> None:
    with pytest.raises(MailParseError, match="not a mail"):
        normalise(raw)


def test_text_without_headers_is_read_with_a_defect() -> None:
    result = normalise(b"Beste, mijn adres is gewijzigd naar Kerkstraat 1.\n")
    assert result.body_text == "Beste, mijn adres is gewijzigd naar Kerkstraat 1."
    assert result.headers == ()
    assert "no headers" in result.defects


def test_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "MAX_RAW_BYTES", 1000)
    with pytest.raises(MailParseError, match="too large"):
        normalise(mail("x" * 2000))
    assert normalise(mail("x" * 500)).body_text == "x" * 500


def test_too_large_at_the_real_limit() -> None:
    with pytest.raises(MailParseError, match="too large"):
        normalise(mail("a" * (mime.MAX_RAW_BYTES + 1)))


def nested(depth: int) -> bytes:
    """A mail whose text sits inside ``depth`` nested multipart/mixed containers."""
    inner = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(1, depth)
    )
    closing = "".join(f"\n--b{n}--\n" for n in reversed(range(depth)))
    body = "--b0\n" + inner + "Content-Type: text/plain\n\nDiep verstopt.\n" + closing
    return mail(body, extra='Content-Type: multipart/mixed; boundary="b0"\n')


def test_nesting_within_the_limit_is_read() -> None:
    assert normalise(nested(mime.MAX_DEPTH)).body_text == "Diep verstopt."


def test_nesting_past_the_limit_is_cut_with_a_defect() -> None:
    result = normalise(nested(mime.MAX_DEPTH + 5))
    assert result.body_text == ""
    assert any("nested deeper" in defect for defect in result.defects)


def test_too_many_multipart_containers_are_refused() -> None:
    # Nested multiparts make the parser check each line against every enclosing boundary.
    with pytest.raises(MailParseError, match="too many multipart containers"):
        normalise(nested(mime.MAX_BOUNDARIES + 1))


def test_nesting_that_breaks_the_parser_is_refused() -> None:
    raw = mail(
        "Content-Type: message/rfc822\n\n" * 3_000 + "Subject: binnenste\n\nTekst\n",
        extra="Content-Type: message/rfc822\n",
    )
    with pytest.raises(MailParseError, match="nested too deeply"):
        normalise(raw)


def test_too_many_parts_is_refused() -> None:
    parts = "--b\nContent-Type: text/plain\n\nx\n" * (mime.MAX_DELIMITER_LINES + 1)
    with pytest.raises(MailParseError, match="too many MIME parts"):
        normalise(mail(parts + "--b--\n", extra='Content-Type: multipart/mixed; boundary="b"\n'))


def test_many_parts_are_listed_up_to_the_limit() -> None:
    count = mime.MAX_PARTS + 50
    parts = "--b\nContent-Type: image/gif\n\nGIF89a\n" * count
    raw = mail(
        f"--b\nContent-Type: text/plain\n\nFoto's.\n{parts}--b--\n",
        extra='Content-Type: multipart/mixed; boundary="b"\n',
    )
    result = normalise(raw)
    assert result.body_text == "Foto's."
    assert len(result.attachments) == mime.MAX_PARTS - 2  # the root and the text count too
    assert any("more than" in defect and "parts" in defect for defect in result.defects)


def test_long_body_is_truncated() -> None:
    result = normalise(mail("Lange klacht. " * 20_000))
    assert len(result.body_text) == mime.MAX_BODY_CHARS
    assert "truncated body" in result.defects


def test_long_html_is_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "MAX_HTML_CHARS", 1000)
    html = "<p>Begin van de mail.</p>" + "<p>vulling</p>" * 500 + "<p>EINDE</p>"
    result = normalise(mail(html, extra="Content-Type: text/html; charset=utf-8\n"))
    assert result.html is not None and len(result.html) == 1000
    assert result.body_text.startswith("Begin van de mail.")
    assert "EINDE" not in result.body_text
    assert "html truncated" in result.defects


def test_deeply_nested_html_does_not_break_conversion() -> None:
    html = "<div>" * 50_000 + "Schade" + "</div>" * 50_000
    result = normalise(mail(html, extra="Content-Type: text/html; charset=utf-8\n"))
    assert isinstance(result, NormalisedMail)


def test_library_errors_become_mail_parse_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> NormalisedMail:
        raise LookupError("boom")

    monkeypatch.setattr(mime, "_normalise", broken)
    with pytest.raises(MailParseError, match="unreadable mail: LookupError: boom"):
        normalise(mail())


def test_result_has_the_declared_shape() -> None:
    result = normalise(mail(OUTLOOK_NL))
    assert result == NormalisedMail(
        message_id="m1@example.nl",
        subject="Schade aan mijn auto",
        subject_key="schade aan mijn auto",
        sender=Address("Jan de Vries", "jan@example.nl"),
        to=(Address("", "schade@polderzeker.example"),),
        cc=(),
        reply_to=(),
        date=datetime(2024, 6, 3, 10, 12, tzinfo=timezone(timedelta(hours=2))),
        in_reply_to="",
        references=(),
        body_text=result.body_text,
        new_text=result.new_text,
        quoted_text=result.quoted_text,
        signature=result.signature,
        html=None,
        attachments=(),
        language="nl",
        headers=result.headers,
        defects=(),
    )
