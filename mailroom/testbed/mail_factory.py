"""Varied mails to load into a test server: deterministic, each one unique.

Plain text, 8-bit UTF-8 and Latin-1 bodies, quoted-printable, RFC 2047 subjects, HTML
alternatives, base64 attachments, replies, a few large mails and a few malformed ones —
so a test that compares bytes after a round trip through a real server covers what a real
archive holds. Lines end in CRLF, as mail does on the wire: a Maildir server may store
bare LF but hands CRLF back, so only CRLF mail round-trips byte for byte.
"""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

_WORDS_NL = [
    "schade",
    "auto",
    "polis",
    "premie",
    "opzeggen",
    "adres",
    "wijzigen",
    "offerte",
    "klacht",
    "ruit",
    "storm",
    "lekkage",
    "fiets",
    "reis",
    "inboedel",
    "aansprakelijkheid",
    "betaling",
    "incasso",
    "herinnering",
]
_WORDS_EN = [
    "claim",
    "car",
    "policy",
    "premium",
    "cancel",
    "address",
    "quote",
    "complaint",
    "storm",
    "travel",
]


def varied_mails(count: int, *, seed: int = 7, tag: str = "mail") -> list[bytes]:
    """``count`` different mails; Message-IDs are ``<tag>-<n>@mailroom.test``."""
    rng = random.Random(seed)
    builders = (_plain, _utf8, _latin1, _alternative, _attachment, _reply, _encoded_subject)
    mails = []
    for n in range(count):
        message_id = f"{tag}-{n}@mailroom.test"
        if n % 17 == 16:
            mails.append(_malformed(rng, n, message_id))
        elif n % 23 == 11:
            mails.append(_large(rng, n, message_id))
        else:
            mails.append(builders[n % len(builders)](rng, n, message_id))
    return mails


def _base(rng: random.Random, n: int, message_id: str, subject: str) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Klant {n} <klant{n}@example.nl>"
    msg["To"] = "info@polderzeker.example"
    msg["Subject"] = subject
    when = datetime(2024, 1, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=37 * n)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{message_id}>"
    return msg


def _sentence(rng: random.Random, words: tuple[str, ...] | list[str], length: int) -> str:
    return " ".join(rng.choice(words) for _ in range(length)).capitalize() + "."


def _plain(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Vraag over mijn polis {n}")
    msg.set_content("\n".join(_sentence(rng, _WORDS_NL, 12) for _ in range(rng.randint(1, 8))))
    return msg.as_bytes()


def _utf8(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Schade na storm, graag reactie ({n})")
    body = f"Geachte heer/mevrouw,\n\nDe ruit is kapot — kosten € {rng.randint(80, 900)},-.\n"
    body += "Zeer vervelend; mijn dochter Zoë wacht al een week. Überhaupt geen reactie.\n"
    msg.set_content(body, cte="8bit")
    return msg.as_bytes()


def _latin1(rng: random.Random, n: int, message_id: str) -> bytes:
    head = _base(rng, n, message_id, f"Adreswijziging {n}").as_bytes().split(b"\r\n\r\n")[0]
    body = f"Mijn nieuwe adres is Café-straat {n}, 1234 AB Één-dorp. Groeten, René\r\n"
    return (
        head
        + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        + b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + body.encode("iso-8859-1")
    )


def _alternative(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Offerte aanvragen {n}")
    text = _sentence(rng, _WORDS_NL, 20)
    msg.set_content(text)
    msg.add_alternative(f"<html><body><p>{text}</p><p><b>Groet</b></p></body></html>", "html")
    return msg.as_bytes()


def _attachment(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Foto's van de schade {n}")
    msg.set_content(_sentence(rng, _WORDS_EN, 15))
    blob = rng.randbytes(rng.randint(2_000, 60_000))
    msg.add_attachment(blob, maintype="image", subtype="jpeg", filename=f"schade-{n}.jpg")
    return msg.as_bytes()


def _reply(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Re: Premie {n}")
    msg["In-Reply-To"] = f"<orig-{n}@polderzeker.example>"
    quoted = "\n".join("> " + _sentence(rng, _WORDS_NL, 10) for _ in range(3))
    msg.set_content(f"Dank u.\n\nOp 1 maart 2024 schreef Polderzeker:\n{quoted}\n")
    return msg.as_bytes()


def _encoded_subject(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Klacht über de afhandeling — dossier {n}")
    msg.set_content(_sentence(rng, _WORDS_NL, 30), cte="quoted-printable")
    return msg.as_bytes()


def _large(rng: random.Random, n: int, message_id: str) -> bytes:
    msg = _base(rng, n, message_id, f"Groot bestand {n}")
    msg.set_content("Zie bijlage.")
    blob = rng.randbytes(300_000)
    msg.add_attachment(blob, maintype="application", subtype="pdf", filename=f"dossier-{n}.pdf")
    return msg.as_bytes()


def _malformed(rng: random.Random, n: int, message_id: str) -> bytes:
    # A header line without a colon, a bad date, an unknown charset and broken base64.
    junk = base64.b64encode(rng.randbytes(40)).decode()[:-3]
    return (
        f"Message-ID: <{message_id}>\r\nFrom: nobody\r\nthis is not a header\r\n"
        f"Date: gisteren om {n} uur\r\nSubject: =?x-unknown?B?{junk}?=\r\n"
        "Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n"
        f"\r\n{junk}\r\n"
    ).encode()


# Machine mail (labeling.mail.hygiene): what a real inbox gets besides customers. ----------


def auto_reply_mail(
    *,
    message_id: str,
    in_reply_to: str = "",
    sender: str = "Piet Jansen <piet@klant.example>",
    to: str = "info@polderzeker.example",
    subject: str = "Automatisch antwoord: Schade aan mijn auto",
    headers: tuple[tuple[str, str], ...] = (("Auto-Submitted", "auto-replied"),),
) -> bytes:
    """An out-of-office reply (Exchange-like by default): RFC 3834 ``Auto-Submitted``.
    ``message_id`` and ``in_reply_to`` without angle brackets."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    for name, value in headers:
        msg[name] = value
    msg.set_content(
        "Ik ben afwezig tot en met maandag en lees mijn mail daarna.\n"
        "I am out of the office until Monday.\n"
    )
    return msg.as_bytes(policy=SMTP)


def bounce_mail(
    *,
    message_id: str,
    returned: bytes,
    recipient: str = "schade@polderzeker.example",
    to: str = "mailroom@polderzeker.example",
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <schade@polderzeker.example>: user unknown",
) -> bytes:
    """A delivery status notification (RFC 3464) from MAILER-DAEMON that returns the
    header section of ``returned`` (the mail that could not be delivered)."""
    header_end = returned.find(b"\r\n\r\n")
    if header_end < 0:
        header_end = returned.find(b"\n\n")
    returned_headers = returned[: header_end if header_end >= 0 else len(returned)]
    boundary = f"dsn-{message_id.split('@')[0]}"
    text = (
        "This is the mail system at host mx.polderzeker.example.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n"
    )
    dsn = (
        "Reporting-MTA: dns; mx.polderzeker.example\r\n"
        "Arrival-Date: Fri, 1 Mar 2024 09:31:00 +0000\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
    )
    head = (
        "From: MAILER-DAEMON@mx.polderzeker.example (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 1 Mar 2024 09:31:00 +0000\r\n"
        f"Message-ID: <{message_id}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{boundary}"\r\n'
        "\r\n"
    )
    body = (
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{text}\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"{dsn}\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
    )
    tail = f"\r\n--{boundary}--\r\n"
    return head.encode() + body.encode() + returned_headers + b"\r\n" + tail.encode()
