"""Turning a composed demo mail into realistic MIME bytes with the stdlib ``email`` package.

A :class:`Draft` says what a mail client would have sent: text, signature, quoted history,
attachments, a forwarded message, the charset and transfer encoding. :func:`render` gives the
bytes. Everything is deterministic: multipart boundaries come from the mail's index, dates
from the draft. :func:`malform` breaks finished bytes on purpose (a few percent of the corpus).

The compat32 API (``email.mime``) is used for building because it lets us choose the
charset of each text part and of encoded headers (iso-8859-1 and windows-1252 as well as
utf-8), which ``EmailMessage`` always re-encodes as utf-8.
"""

from __future__ import annotations

import html
import random
import re
import struct
import textwrap
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from typing import Any

CLIENTS = ("outlook", "iphone", "gmail", "thunderbird", "webmail")
MALFORMATIONS = (
    "missing-boundary",
    "truncated-base64",
    "bad-date",
    "unknown-charset",
    "header-garbage",
    "broken-encoded-word",
)

_MAILERS = {
    "outlook": ("X-Mailer", "Microsoft Outlook 16.0"),
    "iphone": ("X-Mailer", "iPhone Mail (21D61)"),
    "gmail": None,
    "thunderbird": ("User-Agent", "Mozilla Thunderbird"),
    "webmail": ("X-Mailer", "Polderpost Webmail 4.2"),
}


@dataclass(frozen=True)
class Correspondent:
    """A display name (may be empty) and an address."""

    name: str
    address: str

    def formatted(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class QuoteBlock:
    """Earlier mail shown under new text: ``style`` is reply-gt (``> `` lines),
    reply-outlook (an Original Message header block) or forward (a forwarded header block)."""

    style: str
    language: str
    client: str
    author: Correspondent
    to: Correspondent
    sent: datetime
    subject: str
    text: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes


@dataclass
class Draft:
    """Everything needed to render one mail; see :func:`render`."""

    index: int
    language: str
    client: str
    sender: Correspondent
    to: Correspondent
    date: datetime
    message_id: str
    subject: str
    paragraphs: list[str]
    signature: list[str]
    quote: QuoteBlock | None = None
    attachments: list[Attachment] = field(default_factory=list)
    attached_message: Draft | None = None
    cc: Correspondent | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    body_format: str = "plain"  # plain | alternative | html
    charset: str = "utf-8"
    cte: str = "quoted-printable"  # quoted-printable | base64 | 8bit
    wrap: bool = False
    encode_subject: bool = False
    received: bool = True
    tag: str = ""  # distinguishes boundaries of a draft nested in another

    def plain_text(self) -> str:
        """The text/plain body as the client would write it (before charset fitting)."""
        paragraphs = self.paragraphs
        if self.wrap:
            paragraphs = [textwrap.fill(p, 72, break_long_words=False) for p in paragraphs]
        parts = ["\n\n".join(paragraphs)]
        if self.signature:
            sig = "\n".join(self.signature)
            parts.append(f"-- \n{sig}" if self.client == "thunderbird" else sig)
        if self.quote is not None:
            parts.append(quote_text(self.quote))
        return "\n\n".join(part for part in parts if part) + "\n"


def render(draft: Draft) -> bytes:
    """The mail as bytes with LF line endings, ready for a Maildir file."""
    return build_message(draft).as_bytes()


def build_message(draft: Draft) -> Message:
    """The compat32 message tree of ``draft`` (headers included)."""
    boundaries = _Boundaries(draft)
    body = _body(draft, boundaries)
    extras: list[Message] = []
    for attachment in draft.attachments:
        extras.append(_attachment_part(attachment))
    if draft.attached_message is not None:
        inner = build_message(draft.attached_message)
        wrapper = MIMEMessage(inner)
        del wrapper["MIME-Version"]
        name = _fit(draft.attached_message.subject or "bericht", "utf-8")
        wrapper.add_header("Content-Disposition", "attachment", filename=f"{name[:40]}.eml")
        extras.append(wrapper)
    if extras:
        outer: Message = MIMEMultipart("mixed", boundary=boundaries.next())
        outer.attach(body)
        for extra in extras:
            outer.attach(extra)
    else:
        outer = body
    _set_headers(outer, draft)
    return outer


def malform(raw: bytes, kind: str, rng: random.Random) -> bytes:
    """Break finished mail bytes in one of the :data:`MALFORMATIONS` ways.

    The input must suit the kind: multipart for ``missing-boundary``, a base64 body for
    ``truncated-base64``, a single 8bit text part for ``unknown-charset``.
    """
    head, sep, body = raw.partition(b"\n\n")
    if kind == "missing-boundary":
        head = re.sub(rb';\s*boundary="[^"]*"', b"", head, count=1)
    elif kind == "truncated-base64":
        lines = body.split(b"\n")
        starts = [i for i, line in enumerate(lines) if re.fullmatch(rb"[A-Za-z0-9+/=]{40,}", line)]
        if not starts:
            raise ValueError("truncated-base64 needs a base64 body")
        keep = starts[0] + max(1, (len(starts) // 2))
        cut_line = lines[min(keep, len(lines) - 1)]
        body = b"\n".join(lines[:keep]) + b"\n" + cut_line[: 4 * rng.randrange(2, 9) + 1]
        return head + sep + body
    elif kind == "bad-date":
        garbage = rng.choice(
            (
                b"Date: 31 februari 2024 25:61",
                b"Date: gisteren om tien uur",
                b"Date: 2024-13-45T99:99:99",
                b"Date: Mon, 32 Foo 20x4 10:12:00 +9999",
            )
        )
        head = re.sub(rb"(?m)^Date: .*$", garbage, head, count=1)
    elif kind == "unknown-charset":
        head = re.sub(rb'charset="?[A-Za-z0-9_-]+"?', b'charset="x-polder-8"', head, count=1)
    elif kind == "header-garbage":
        junk = rng.choice(
            (
                b"this line is not a header\n",
                b"X-Broken-Header \xff\xfe\x00 no colon here\n",
                b": empty name\n",
            )
        )
        head = head.replace(b"\nMIME-Version:", b"\n" + junk + b"MIME-Version:", 1)
        garbage_subject = b"Subject: Schade aan mijn caf\xe9 \x80 \xff"
        head = re.sub(rb"(?m)^Subject: .*$", garbage_subject, head, count=1)
    elif kind == "broken-encoded-word":
        broken = rng.choice(
            (
                b"Subject: =?utf-8?q?Premie_te_hoog_=E2=82?=",
                b"Subject: =?x-unknown?Q?Opzegging_polis?=",
                b"Subject: =?utf-8?B?U2NoYWRlbWVsZGluZy?=",
                b"Subject: =?iso-8859-1?Q?Adres_wijziging_=E9",
            )
        )
        head = re.sub(rb"(?m)^Subject: .*(\n[ \t].*)*$", broken, head, count=1)
    else:
        raise ValueError(f"unknown malformation {kind!r}")
    return head + sep + body


# --- attachments ---------------------------------------------------------------------------


def fake_pdf(rng: random.Random, title: str) -> bytes:
    """A tiny, structurally plausible PDF of one empty page (under 1 KB)."""
    safe = re.sub(r"[^A-Za-z0-9 _.-]", "_", title)[:60]
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
        + f"4 0 obj\n<< /Title ({safe}) /Producer (Polderzeker demo {rng.randrange(10**6)}) >>\n"
        f"endobj\ntrailer\n<< /Root 1 0 R /Info 4 0 R >>\n%%EOF\n".encode("ascii")
    )


def fake_png(rng: random.Random) -> bytes:
    """A valid 16x16 greyscale PNG with seeded pixels (a few hundred bytes)."""
    width = height = 16
    rows = b"".join(
        b"\x00" + bytes(rng.randrange(256) for _ in range(width)) for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def fake_docx(rng: random.Random) -> bytes:
    """Bytes that start like a zip (as a .docx does) followed by seeded noise; not a real
    document, sent as application/octet-stream like many mail clients do."""
    size = rng.randrange(300, 1500)
    return b"PK\x03\x04\x14\x00\x06\x00" + bytes(rng.randrange(256) for _ in range(size))


def make_attachment(filename: str, rng: random.Random) -> Attachment:
    """An attachment whose type follows the file name's extension (.pdf, .png, .docx)."""
    if filename.endswith(".png"):
        return Attachment(filename, "image", "png", fake_png(rng))
    if filename.endswith(".docx"):
        return Attachment(filename, "application", "octet-stream", fake_docx(rng))
    return Attachment(filename, "application", "pdf", fake_pdf(rng, filename))


# --- dates and quote headers ---------------------------------------------------------------

_WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
        "september", "oktober", "november", "december",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ),
}
_MONTH_ABBR = {
    "nl": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
_LABELS = {
    "nl": {
        "from": "Van", "sent": "Verzonden", "date": "Datum", "to": "Aan",
        "subject": "Onderwerp", "original": "-----Oorspronkelijk bericht-----",
        "forward": "---------- Doorgestuurd bericht ---------",
        "apple_forward": "Begin doorgestuurd bericht:",
    },
    "en": {
        "from": "From", "sent": "Sent", "date": "Date", "to": "To", "subject": "Subject",
        "original": "-----Original Message-----",
        "forward": "---------- Forwarded message ---------",
        "apple_forward": "Begin forwarded message:",
    },
}


def amsterdam_time(utc: datetime) -> datetime:
    """Local time in the Netherlands (CET/CEST with the EU switch rule) for a UTC time."""
    def last_sunday(month: int) -> datetime:
        day = datetime(utc.year, month, 31, 1, 0, tzinfo=UTC)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    summer = last_sunday(3) <= utc < last_sunday(10)
    offset = timezone(timedelta(hours=2 if summer else 1))
    return utc.astimezone(offset)


def _long_date(when: datetime, language: str) -> str:
    weekday = _WEEKDAYS[language][when.weekday()]
    month = _MONTHS[language][when.month - 1]
    if language == "nl":
        return f"{weekday} {when.day} {month} {when.year} {when:%H:%M}"
    hour = when.hour % 12 or 12
    noon = "AM" if when.hour < 12 else "PM"
    return f"{weekday}, {month} {when.day}, {when.year} {hour}:{when:%M} {noon}"


def _reply_intro(block: QuoteBlock) -> str:
    when, lang, who = block.sent, block.language, block.author
    abbr = _MONTH_ABBR[lang][when.month - 1]
    if block.client == "iphone":
        if lang == "nl":
            return (
                f"Op {when.day} {abbr} {when.year} om {when:%H:%M} heeft {who.formatted()} "
                "het volgende geschreven:"
            )
        return f"On {when.day} {abbr} {when.year}, at {when:%H:%M}, {who.formatted()} wrote:"
    if block.client == "thunderbird":
        if lang == "nl":
            return f"Op {when:%d-%m-%Y} om {when:%H:%M} schreef {who.name or who.address}:"
        return f"On {when:%d/%m/%Y} {when:%H:%M}, {who.name or who.address} wrote:"
    weekday = _WEEKDAYS[lang][when.weekday()][:2 if lang == "nl" else 3]
    author = who.formatted()
    if lang == "nl":
        return f"Op {weekday} {when.day} {abbr} {when.year} om {when:%H:%M} schreef {author}:"
    return f"On {weekday}, {when.day} {abbr} {when.year} at {when:%H:%M}, {author} wrote:"


def _header_block(block: QuoteBlock) -> list[tuple[str, str]]:
    labels = _LABELS[block.language]
    sent_label = labels["sent"] if block.client == "outlook" else labels["date"]
    return [
        (labels["from"], block.author.formatted()),
        (sent_label, _long_date(block.sent, block.language)),
        (labels["to"], block.to.formatted()),
        (labels["subject"], block.subject),
    ]


def quote_text(block: QuoteBlock) -> str:
    """The plain-text rendering of a quote block, as placed under new text."""
    labels = _LABELS[block.language]
    text = block.text.rstrip("\n")
    if block.style == "reply-gt":
        quoted = "\n".join(
            (">" + line if line.startswith(">") else "> " + line) if line else ">"
            for line in text.split("\n")
        )
        return f"{_reply_intro(block)}\n\n{quoted}"
    header = "\n".join(f"{label}: {value}" for label, value in _header_block(block))
    if block.style == "reply-outlook":
        marker = labels["original"] if block.sent.day % 2 else "_" * 32
        return f"{marker}\n{header}\n\n{text}"
    if block.client == "iphone":
        return f"{labels['apple_forward']}\n\n{header}\n\n{text}"
    marker = labels["original"] if block.client == "outlook" else labels["forward"]
    return f"{marker}\n{header}\n\n{text}"


# --- HTML ----------------------------------------------------------------------------------

_FONTS = {
    "outlook": "font-family:Calibri,Arial,sans-serif;font-size:11pt;color:#1F1F1F",
    "iphone": "font-family:-apple-system,Helvetica,Arial,sans-serif",
    "gmail": "font-family:Arial,Helvetica,sans-serif;font-size:small",
    "thunderbird": "font-family:Verdana,sans-serif;font-size:10pt",
    "webmail": "font-family:Tahoma,Geneva,sans-serif;font-size:10pt;color:#222",
}


def _text_html(text: str) -> str:
    blocks = [b for b in re.split(r"\n\s*\n", text.strip("\n")) if b.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line, quote=False) for line in block.split("\n")) + "</p>"
        for block in blocks
    )


def _quote_html(block: QuoteBlock) -> str:
    if block.style == "reply-gt":
        return (
            f'<div class="quote"><div dir="ltr">{html.escape(_reply_intro(block))}</div>\n'
            '<blockquote style="margin:0 0 0 .8ex;border-left:1px solid #cccccc;'
            f'padding-left:1ex">\n{_text_html(block.text)}\n</blockquote></div>'
        )
    rows = "<br>\n".join(
        f"<b>{html.escape(label)}:</b> {html.escape(value)}"
        for label, value in _header_block(block)
    )
    if block.style == "reply-outlook":
        return (
            '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
            f'<p class="MsoNormal">{rows}</p></div>\n{_text_html(block.text)}'
        )
    marker = _LABELS[block.language]["forward"]
    return f"<div>{html.escape(marker)}<br>\n{rows}</div><br>\n{_text_html(block.text)}"


def _html_text(draft: Draft) -> str:
    paragraphs = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in draft.paragraphs)
    signature = ""
    if draft.signature:
        lines = "<br>\n".join(html.escape(line, quote=False) for line in draft.signature)
        signature = f'\n<p style="color:#555555;font-size:10pt">{lines}</p>'
    quote = f"\n{_quote_html(draft.quote)}" if draft.quote is not None else ""
    style = _FONTS.get(draft.client, _FONTS["webmail"])
    return (
        "<html>\n<head>\n"
        f'<meta http-equiv="Content-Type" content="text/html; charset={draft.charset}">\n'
        "<style>p{margin:0 0 8px 0} blockquote{color:#555555}</style>\n"
        f'</head>\n<body style="{style}">\n{paragraphs}{signature}{quote}\n</body>\n</html>\n'
    )


# --- MIME assembly -------------------------------------------------------------------------


class _Boundaries:
    """Deterministic boundaries in the style of the draft's mail client."""

    def __init__(self, draft: Draft) -> None:
        self._draft = draft
        self._count = 0

    def next(self) -> str:
        self._count += 1
        key = f"{self._draft.index:06d}{self._draft.tag}{self._count}"
        digest = f"{zlib.crc32(key.encode()):08x}{self._draft.index:06x}{self._count:02x}"
        client = self._draft.client
        if client == "outlook":
            return f"_00{self._count}_AM0PR{digest.upper()}_"
        if client == "gmail":
            return f"0000000000{digest}"
        if client == "iphone":
            return f"Apple-Mail-{digest[:8].upper()}-{digest[8:12].upper()}-{self._count}"
        return f"------------{digest}{self._count}"


def _fit(text: str, charset: str) -> str:
    """Make ``text`` encodable in ``charset`` the way old mail clients did: typographic
    characters become ASCII look-alikes, anything else a question mark."""
    if charset.lower() in ("utf-8", "utf8"):
        return text
    if charset.lower() in ("iso-8859-1", "latin-1", "us-ascii"):
        for char, plain in (("€", "EUR"), ("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'),
                            ("–", "-"), ("—", "-"), ("…", "...")):
            text = text.replace(char, plain)
    out = []
    for char in text:
        try:
            char.encode(charset)
        except UnicodeEncodeError:
            char = "?"
        out.append(char)
    return "".join(out)


def _text_part(text: str, subtype: str, draft: Draft) -> MIMEText:
    text = _fit(text, draft.charset)
    cte = draft.cte
    if cte == "8bit" and any(len(line) > 900 for line in text.split("\n")):
        cte = "quoted-printable"
    charset = Charset(draft.charset)
    encodings: dict[str, int | None] = {"quoted-printable": QP, "base64": BASE64, "8bit": None}
    charset.body_encoding = encodings[cte]  # type: ignore[assignment]  # None means 7/8bit
    part = MIMEText(text, subtype, charset)  # type: ignore[arg-type]  # a Charset is accepted
    del part["MIME-Version"]
    if draft.client == "gmail":
        part.set_param("charset", draft.charset.upper())
    return part


def _body(draft: Draft, boundaries: _Boundaries) -> Message:
    if draft.body_format == "html":
        return _text_part(_html_text(draft), "html", draft)
    plain = _text_part(draft.plain_text(), "plain", draft)
    if draft.body_format == "plain":
        return plain
    alternative = MIMEMultipart("alternative", boundary=boundaries.next())
    del alternative["MIME-Version"]
    alternative.attach(plain)
    alternative.attach(_text_part(_html_text(draft), "html", draft))
    return alternative


def _attachment_part(attachment: Attachment) -> Message:
    part: Message
    if attachment.maintype == "image":
        part = MIMEImage(attachment.data, attachment.subtype)
    else:
        part = MIMEApplication(attachment.data, attachment.subtype)
    del part["MIME-Version"]
    name = attachment.filename
    if name.isascii():
        part.set_param("name", name)
        part.add_header("Content-Disposition", "attachment", filename=name)
    else:
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
    return part


def _header_text(value: str, draft: Draft, *, force: bool = False) -> str | Header:
    value = _fit(value, draft.charset)
    if value.isascii() and not force:
        return value
    return Header(value, draft.charset)


def _address(person: Correspondent, draft: Draft) -> str:
    name = _fit(person.name, draft.charset)
    if not name:
        return person.address
    return formataddr((name, person.address), charset=draft.charset)


def _set_headers(message: Message, draft: Draft) -> None:
    mime_headers = list(message.items())
    for key in {key for key, _ in mime_headers}:
        del message[key]
    if draft.received:
        host = draft.sender.address.split("@", 1)[1]
        arrival = draft.date + timedelta(seconds=3 + draft.index % 50)
        queue_id = f"{zlib.crc32(draft.message_id.encode()):08X}"
        message["Return-Path"] = f"<{draft.sender.address}>"
        message["Received"] = (
            f"from smtp.{host} (smtp.{host} [192.0.2.{draft.index % 250 + 1}]) by "
            f"mx1.polderzeker.example (Postfix) with ESMTPS id {queue_id} for "
            f"<{draft.to.address}>; {format_datetime(arrival)}"
        )
    message["From"] = _address(draft.sender, draft)
    message["To"] = _address(draft.to, draft)
    if draft.cc is not None:
        message["Cc"] = _address(draft.cc, draft)
    subject: Any = _header_text(draft.subject, draft, force=draft.encode_subject)
    message["Subject"] = subject  # compat32 writes a Header in its own charset
    message["Date"] = format_datetime(draft.date)
    message["Message-ID"] = draft.message_id
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        message["References"] = " ".join(draft.references)
    mailer = _MAILERS.get(draft.client)
    if mailer is not None:
        message[mailer[0]] = mailer[1]
    if draft.client == "outlook":
        message["Content-Language"] = "nl-NL" if draft.language == "nl" else "en-GB"
    message["MIME-Version"] = "1.0"
    for key, value in mime_headers:
        if key.lower() != "mime-version":
            message[key] = value
