"""A mail forwarded as an attachment (message/rfc822) is read for what it forwards: the
original's subject and text are what the model reads and what the pages show, the wrapper's
note folded."""

from __future__ import annotations

from labeling.mail.mime import normalise
from labeling.mail.model_text import model_text
from labeling.mail.quotes import FORWARDED_ORIGINAL_MARK
from labeling.store.tables import Message
from web.payloads import FORWARDER_NOTE, QUOTED_HISTORY, message_view

ORIGINAL = (
    "From: =?utf-8?q?Jos=C3=A9_Klant?= <klant@example.nl>\n"
    "Date: Mon, 03 Jun 2024 10:12:00 +0200\n"
    "Subject: Klacht over afhandeling\n"
    "Content-Type: text/plain; charset=utf-8\n\n"
    "Ik ben zeer ontevreden over de afhandeling van mijn schade.\n\n"
    "Met vriendelijke groet,\nJosé\n"
)


def forward(note: str, subject: str = "Zie onder", inner: str = ORIGINAL) -> bytes:
    return (
        "From: Collega <collega@polderzeker.example>\nTo: info@polderzeker.example\n"
        f"Subject: {subject}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="fwd"\n\n'
        "--fwd\nContent-Type: text/plain; charset=utf-8\n\n"
        f"{note}\n"
        "--fwd\nContent-Type: message/rfc822\n"
        'Content-Disposition: attachment; filename="klacht.eml"\n\n'
        f"{inner}"
        "--fwd--\n"
    ).encode()


# A note long enough that the "short new text" rule alone would not read the quoted part,
# under a subject that does not say Fwd:.
NOTE = "Hoi team, deze klant belde vanochtend ook al, kunnen jullie dit vandaag nog oppakken?"


def test_the_original_comes_first_in_the_quoted_part_with_its_headers() -> None:
    mail = normalise(forward(NOTE))
    assert mail.new_text == NOTE
    assert mail.body_text == NOTE
    assert mail.quoted_text.startswith(FORWARDED_ORIGINAL_MARK + "\n")
    head, _, text = mail.quoted_text.partition("\n\n")
    assert head.splitlines()[1:] == [
        "From: José Klant <klant@example.nl>",
        "Date: Mon, 03 Jun 2024 10:12:00 +0200",
        "Subject: Klacht over afhandeling",
    ]
    assert text == "Ik ben zeer ontevreden over de afhandeling van mijn schade."
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]


def test_the_model_reads_the_original_whatever_the_wrapper_says() -> None:
    mail = normalise(forward(NOTE))
    text = model_text(mail.subject, mail.new_text, mail.quoted_text)
    assert "Klacht over afhandeling" in text
    assert "zeer ontevreden" in text
    # A mail without a forwarded original and with a long note does not read its quote.
    plain = "Subject: Zie onder\n\n" + NOTE + "\n\nOp ma 3 jun. 2024 schreef X <x@y.nl>:\n> oud\n"
    quoted = normalise(plain.encode())
    assert quoted.quoted_text and quoted.quoted_text not in model_text(
        quoted.subject, quoted.new_text, quoted.quoted_text
    )


def test_an_empty_wrapper_still_takes_the_attached_body() -> None:
    mail = normalise(forward(""))
    assert "zeer ontevreden" in mail.new_text
    assert "body taken from attached message" in mail.defects
    assert not mail.quoted_text.startswith(FORWARDED_ORIGINAL_MARK)


def test_an_attached_message_without_text_adds_nothing() -> None:
    inner = "From: a@example.nl\nSubject: leeg\nContent-Type: text/plain\n\n\n"
    mail = normalise(forward(NOTE, inner=inner))
    assert mail.quoted_text == ""


def _row(raw: bytes) -> Message:
    mail = normalise(raw)
    return Message(
        id=1,
        subject=mail.subject,
        sender_name="",
        sender_email="collega@polderzeker.example",
        language=mail.language,
        body_text=mail.body_text,
        new_text=mail.new_text,
        quoted_text=mail.quoted_text,
        signature=mail.signature,
        attachments=[],
    )


def test_the_pages_show_the_original_and_fold_the_note() -> None:
    view = message_view(_row(forward(NOTE)), 0)
    assert view.new_text.startswith(FORWARDED_ORIGINAL_MARK)
    assert "zeer ontevreden" in view.new_text
    assert (view.quoted_text, view.quoted_label) == (NOTE, FORWARDER_NOTE)

    reply = b"Subject: Re: x\n\nDank u.\n\nOp ma 3 jun. 2024 schreef X <x@y.nl>:\n> Vraag\n"
    plain = message_view(_row(reply), 0)
    assert (plain.new_text, plain.quoted_label) == ("Dank u.", QUOTED_HISTORY)
    assert plain.quoted_text.startswith("Op ma 3 jun.")
