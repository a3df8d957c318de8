"""Raw mail bytes to a :class:`~labeling.mail.values.NormalisedMail`. Pure: no I/O.

:func:`normalise` returns the normalised mail or raises :class:`~labeling.errors.MailParseError`
with a reason fit for the quarantine list; no library exception escapes it. What it had to
tolerate on the way (a bad date, an unknown charset, HTML turned into text, a cut body) is
listed in ``NormalisedMail.defects``.

How the stdlib ``email`` package is used, and why:

* The MIME *structure* (parts, boundaries, transfer decoding) comes from its parser with the
  ``compat32`` policy. ``policy.default`` re-parses a header through its modern parser on
  every access; that made a whole parse about 3x slower, and it is quadratic on crafted
  parameter lists (measured on 3.11: a 1 MB Content-Type header took 245 s, 200,000 tiny
  parts 53 s against 2.5 s).
* Header *values* are read with ``policy.default``'s header classes (RFC 2047 words, quoted
  names, address groups) when they fit on one RFC 5322 line; longer values, or values that
  make it raise, fall back to ``email.header.decode_header`` and ``email.utils.getaddresses``,
  which are linear. Before parsing, cheap checks on the raw bytes bound the places where
  the compat32 parser itself is slow (long parameter lists, deep nesting, many parts).

Bodies: the best text part is decoded with its declared charset, else UTF-8, else a guess by
charset-normalizer among the legacy charsets Dutch and English mail uses, else cp1252 with
replacement characters. In ``multipart/alternative`` the text/plain part wins unless it is
empty or a stub ("view this mail in your browser"); then the HTML is turned into text with
inscriptis. Attached messages (``message/rfc822``) are listed as attachments and their text
is not the outer mail's body: the first one is read (its From, Date, Subject and text) and
put in front of ``quoted_text`` under :data:`~labeling.mail.quotes.FORWARDED_ORIGINAL_MARK`,
because that is what the sender asks the reader to look at; the model reads it
(:func:`labeling.mail.model_text.model_text`) and the pages show it as the mail. A forward
whose own text is empty takes the attached message's body instead (defect ``body taken from
attached message``).

Repairs beyond the stdlib's own tolerance, each recorded as a defect: a garbage line among
the headers is dropped when known headers follow it; a multipart whose boundary parameter is
missing or wrong is re-read with the delimiter its body really uses; base64 cut off
mid-quantum is decoded up to the cut.
"""

from __future__ import annotations

import base64
import codecs
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.errors import MessageError
from email.header import decode_header
from email.headerregistry import AddressHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import cache
from html import unescape

import charset_normalizer
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from lxml import etree
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from labeling.errors import MailParseError
from labeling.mail.quotes import FORWARDED_ORIGINAL_MARK, split_reply
from labeling.mail.values import Address, Attachment, NormalisedMail

__all__ = ["normalise", "subject_key"]

# --- Limits (DESIGN promise 5: huge or nested attachments and HTML bombs get a clear error or
# a recorded cut, never a hang). ------------------------------------------------------------

# Mail servers commonly refuse more than 25 MB; anything larger is not a mail we route.
MAX_RAW_BYTES = 25 * 1024 * 1024
# The parser builds one object per part; lines starting with "--" bound the number of parts
# cheaply before parsing. Real mail has a handful, a hostile one could have millions.
MAX_DELIMITER_LINES = 10_000
# The parser checks every line against each enclosing boundary, so its cost is lines x depth
# (measured: 7 MB under 100 nested multiparts took 1.7 s). Mentions of "boundary" bound the
# depth cheaply; a forwarded chain with attachments has a dozen or two.
MAX_BOUNDARIES = 64
# compat32 parameter parsing is quadratic; real Content-Type/-Disposition headers, RFC 2231
# continuations included, stay far below this.
MAX_PARAMETER_HEADER_BYTES = 4 * 1024
# Garbage lines among the headers that are dropped so the headers after them count; a
# header block with more of them is not one.
MAX_STRAY_HEADER_LINES = 5
# Parts we look at; more are listed as a defect, not walked (a real mail has a few dozen).
MAX_PARTS = 500
# Nesting deeper than this is hostile or broken (each forward-as-attachment adds two).
MAX_DEPTH = 20
# inscriptis takes about a second per 2 MB of HTML; the text a router needs is near the top.
MAX_HTML_CHARS = 2_000_000
# ... but dense table markup costs it about 4 µs a character (2 MB of nested tables: 6 s),
# so only this much is turned into text: one mail must not hold a mailbox for a second.
MAX_HTML_TO_TEXT_CHARS = 100_000
# Routing and labelling read the start of a mail; a 100k-character body is a book already.
MAX_BODY_CHARS = 100_000
# policy.default's header parser is quadratic in the value's length (a 16 kB address list of
# quotes takes 8 s); up to one RFC 5322 line it is fast, beyond it the older parser takes over.
MAX_STRICT_HEADER_CHARS = 998
# A header value longer than this is cut: it bounds the older parsers too (16 kB is ~400
# recipients) and keeps the stored header list small.
MAX_HEADER_CHARS = 16 * 1024
# Headers kept in ``headers``; spam with thousands of headers must not bloat the store.
MAX_HEADERS = 500
# Message-IDs in References kept: the root and the most recent ones are what threading uses.
MAX_REFERENCES = 100
# The store's message_id column holds one RFC 5322 line.
MAX_MESSAGE_ID_CHARS = 998
# RFC 5321's limit for a path; the store's sender_email column has this width.
MAX_EMAIL_CHARS = 320
# Defects listed; past this many more of them add nothing a person can act on.
MAX_DEFECTS = 50
# charset-normalizer's cost grows with its input; its guess is settled by the first 64 kB.
DETECT_SAMPLE_BYTES = 64 * 1024
# Legacy charsets of Dutch and English mail. Left free, charset-normalizer guesses Central
# European or Asian charsets for short West-European texts.
LEGACY_CHARSETS = ("cp1252", "iso8859_15", "mac_roman", "cp850", "utf_16")
# Languages we tell apart; restricting the model makes it far more reliable on short mails.
LANGUAGES = ("nl", "en", "de", "fr")
# Fewer letters than this is too little text to name a language ("Ok", "Zie bijlage").
MIN_LANGUAGE_LETTERS = 10
# Below this probability (over LANGUAGES only) the answer is 'und', not a coin toss.
MIN_LANGUAGE_CONFIDENCE = 0.8
# The language is settled by the first couple of thousand characters.
LANGUAGE_SAMPLE_CHARS = 2_000
# A plain-text alternative this short that points to the HTML version is only a stub.
MAX_STUB_CHARS = 400

# What the stdlib parser, the codecs, lxml/inscriptis and charset-normalizer raise on input
# they cannot read; normalise() turns these into MailParseError.
_LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    MessageError,
    ValueError,  # includes UnicodeError and binascii.Error
    LookupError,  # includes KeyError and IndexError
    TypeError,
    AttributeError,
    AssertionError,
    ArithmeticError,
    RecursionError,
    etree.LxmlError,
)

_IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_TRANSFER_ENCODINGS = _IDENTITY_ENCODINGS | {
    "base64",
    "quoted-printable",
    *("x-uuencode", "uuencode", "uue", "x-uue"),
}
# Text codecs that are not charsets: decoding mail text with them is wrong or unsafe.
_NOT_CHARSETS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode"})

# One header class for every name, so that ``headers`` shows each value as written.
_UNSTRUCTURED_HEADER = HeaderRegistry(use_default_map=False)["x-header"]
_ADDRESS_HEADER = HeaderRegistry()["to"]  # the class policy.default uses for To/Cc/From


def normalise(raw: bytes) -> NormalisedMail:
    """Read ``raw`` (one mail as received) into a :class:`NormalisedMail`.

    Raises :class:`MailParseError` when the bytes are empty, too large, too intricate to
    parse safely, or not a mail at all; its ``reason`` says which. Everything else that is
    wrong with a mail is tolerated and listed in ``defects``.
    """
    data = bytes(raw)
    if not data or data.isspace():
        raise MailParseError("empty input")
    if len(data) > MAX_RAW_BYTES:
        raise MailParseError(
            f"too large: {len(data):,} bytes, more than the {MAX_RAW_BYTES:,} bytes we read"
        )
    if data.count(b"\n--") > MAX_DELIMITER_LINES:
        raise MailParseError(
            f"too many MIME parts: more than {MAX_DELIMITER_LINES:,} boundary lines"
        )
    if data.lower().count(b"boundary") > MAX_BOUNDARIES:
        raise MailParseError(f"too many multipart containers: more than {MAX_BOUNDARIES}")
    try:
        return _normalise(data)
    except RecursionError:
        raise MailParseError("MIME structure nested too deeply to read") from None
    except _LIBRARY_ERRORS as exc:
        detail = _clean_line(str(exc))[:300]
        raise MailParseError(f"unreadable mail: {type(exc).__name__}: {detail}") from exc


def subject_key(subject: str) -> str:
    """``subject`` without reply/forward prefixes, whitespace collapsed, casefolded.

    "Re: [2] AW: WG: Schade" and "schade" get the same key, so replies whose
    In-Reply-To is missing can still be matched to their thread.
    """
    collapsed = " ".join(subject.split())
    return " ".join(_SUBJECT_PREFIXES.sub("", collapsed).split()).casefold()


_SUBJECT_PREFIXES = re.compile(
    r"""^(?:[ ]?
        (?:re|fwd?|wg|aw|antw(?:oord)?|doorst|tr|sv)
        [ ]?(?:(?:\[\d{1,6}\]|\(\d{1,6}\))[ ]?)?
        [:：]
    )+""",
    re.IGNORECASE | re.VERBOSE,
)


# --- The whole mail -----------------------------------------------------------------------


class _Defects:
    """What was tolerated, in the order met, each once."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, text: str) -> None:
        if len(self._seen) < MAX_DEFECTS:
            self._seen.setdefault(_clean_line(text)[:200], None)

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self._seen)


def _normalise(data: bytes) -> NormalisedMail:
    defects = _Defects()
    data = _cap_parameter_headers(data, defects)
    message = _parse(data, defects)

    raw_headers = list(message.raw_items())
    headers = _decode_headers(raw_headers, defects)
    first: dict[str, str] = {}
    for name, value in raw_headers:
        first.setdefault(name.strip().lower(), _unfold(value)[:MAX_HEADER_CHARS])

    body, html, attachments, forwarded = _extract(message, 0, defects)
    if not headers:
        if _looks_binary(data):
            raise MailParseError("not a mail: no header lines, binary content")
        if not body.strip() and not attachments:
            raise MailParseError("not a mail: no headers and no body")
        defects.add("no headers")

    subject = _decode_text(first.get("subject", ""), defects)
    from_ = _addresses(first.get("from"), defects) or _addresses(first.get("sender"), defects)
    split = split_reply(body)
    quoted_text = split.quoted_text
    if forwarded is not None:
        # Forwarded as an attachment: the original is what the mail is about. It goes in
        # front of the quoted part, marked, so the model reads it (model_text) and the pages
        # show it as the mail, the forwarder's note folded.
        original = _forwarded_original(*forwarded, defects)
        if original:
            quoted_text = original + ("\n\n" + quoted_text if quoted_text else "")
    return NormalisedMail(
        message_id=_first_id(first.get("message-id", "")),
        subject=subject,
        subject_key=subject_key(subject),
        sender=from_[0] if from_ else None,
        to=_addresses(first.get("to"), defects),
        cc=_addresses(first.get("cc"), defects),
        reply_to=_addresses(first.get("reply-to"), defects),
        date=_date(first.get("date"), defects),
        in_reply_to=_first_id(first.get("in-reply-to", "")),
        references=_id_list(first.get("references", ""), defects),
        body_text=body,
        new_text=split.new_text,
        quoted_text=quoted_text,
        signature=split.signature,
        html=html,
        attachments=tuple(attachments),
        language=_language(split.new_text, body, subject),
        headers=headers,
        defects=defects.as_tuple(),
    )


def _parse(data: bytes, defects: _Defects) -> Message:
    message = BytesParser(policy=email_policy.compat32).parsebytes(data)
    for _ in range(MAX_STRAY_HEADER_LINES):
        repaired = _without_stray_header_line(message, data)
        if repaired is None:
            break
        defects.add("header line without colon dropped")
        data = repaired
        message = BytesParser(policy=email_policy.compat32).parsebytes(data)
    return message


# Headers a stray line is found between; an unknown "Name:" after it may be body text.
_KNOWN_HEADER = re.compile(
    rb"""(?i)(?:content-[a-z-]+|mime-version|from|to|cc|subject|date|message-id|in-reply-to
    |references|reply-to|sender|return-path|received|x-[!-9;-~]*)[ \t]*:""",
    re.VERBOSE,
)


def _without_stray_header_line(message: Message, data: bytes) -> bytes | None:
    """``data`` without the line that made the parser end the headers early, when real
    headers follow it; None when there is no such line."""
    if not any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in message.defects):
        return None
    if _transfer_encoding(message) not in _IDENTITY_ENCODINGS:
        return None  # the payload would come back transfer-decoded, not as written
    payload = message.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    stray, _, rest = payload.partition(b"\n")
    if not stray.strip() or not _KNOWN_HEADER.match(rest):
        return None
    position = data.find(stray + b"\n")
    return None if position < 0 else data[:position] + data[position + len(stray) + 1 :]


_PARAMETER_HEADER = re.compile(
    rb"(?i)\ncontent-(?:type|disposition)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*"
)


def _cap_parameter_headers(data: bytes, defects: _Defects) -> bytes:
    """Cut overlong Content-Type/-Disposition headers anywhere in the mail before parsing."""
    padded = b"\n" + data  # the pattern anchors on a newline so the regex can skip ahead fast
    if not any(
        len(m.group()) > MAX_PARAMETER_HEADER_BYTES for m in _PARAMETER_HEADER.finditer(padded)
    ):
        return data
    defects.add("overlong content header cut")
    return _PARAMETER_HEADER.sub(lambda m: m.group()[:MAX_PARAMETER_HEADER_BYTES], padded)[1:]


def _looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    controls = sum(1 for byte in sample if byte < 9 or 13 < byte < 32)
    return b"\x00" in sample or controls * 10 > len(sample)


# --- Headers ------------------------------------------------------------------------------


def _decode_headers(
    raw_headers: list[tuple[str, str]], defects: _Defects
) -> tuple[tuple[str, str], ...]:
    if len(raw_headers) > MAX_HEADERS:
        defects.add(f"more than {MAX_HEADERS} headers; the rest dropped")
    decoded = []
    for name, value in raw_headers[:MAX_HEADERS]:
        unfolded = _unfold(value)
        if len(unfolded) > MAX_HEADER_CHARS:
            defects.add(f"header {name} cut")
            unfolded = unfolded[:MAX_HEADER_CHARS]
        decoded.append((_clean_line(name), _decode_text(unfolded, defects)))
    return tuple(decoded)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _unfold(value: str) -> str:
    # Folding whitespace follows the line break, so dropping the break unfolds the value.
    return _LINE_BREAK.sub("", str(value))


def _decode_text(value: str, defects: _Defects) -> str:
    """An unstructured header value (unfolded) as readable text."""
    if value.isascii() and "=?" not in value:
        return _clean_line(value)
    if len(value) <= MAX_STRICT_HEADER_CHARS and _modern_parser_can_read(value, defects):
        try:
            return _clean_line(str(_UNSTRUCTURED_HEADER("x-header", value)))
        except _LIBRARY_ERRORS:
            pass
    return _clean_line(_decode_words(value, defects))


_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?*\s]{1,60})(?:\*[^?]*)?\?[qQbB]\?")


def _modern_parser_can_read(value: str, defects: _Defects) -> bool:
    """False for raw 8-bit bytes or encoded words in a charset Python lacks: policy.default
    would turn those into U+FFFD, where _decode_words guesses the charset."""
    if _SURROGATE.search(value):
        return False
    charsets = (match.group(1) for match in _ENCODED_WORD_CHARSET.finditer(value))
    return all(_codec_for(charset, defects) is not None for charset in charsets)


def _decode_words(value: str, defects: _Defects) -> str:
    """RFC 2047 decoding with the older, linear decoder; tolerant of unknown charsets."""
    try:
        chunks = decode_header(value)
    except _LIBRARY_ERRORS:
        defects.add("undecodable encoded word in header")
        return value
    parts = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        elif charset is None:
            # decode_header hands unencoded text back as raw-unicode-escape bytes.
            parts.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            parts.append(_decode_bytes(chunk, charset, defects))
    return "".join(parts)


# "Jan Jansen <jan@x.nl>, b@c.nl": nothing the modern parser reads better than getaddresses,
# which is several times faster; quotes, comments, groups and encoded words go the long way.
_PLAIN_ADDRESSES = re.compile(r"[\w .,<>@+'-]*")


def _addresses(value: str | None, defects: _Defects) -> tuple[Address, ...]:
    if not value or not value.strip():
        return ()
    pairs: list[tuple[str, str]] | None = None
    if (
        len(value) <= MAX_STRICT_HEADER_CHARS
        and not _PLAIN_ADDRESSES.fullmatch(value)
        and _modern_parser_can_read(value, defects)
    ):
        try:
            header = _ADDRESS_HEADER("to", value)
            if isinstance(header, AddressHeader):
                pairs = [(str(a.display_name), str(a.addr_spec)) for a in header.addresses]
        except _LIBRARY_ERRORS:
            pairs = None
    if pairs is None:
        pairs = [(_decode_words(name, defects), addr) for name, addr in getaddresses([value])]
    found = (_address(name, addr, defects) for name, addr in pairs)
    return tuple(address for address in found if address is not None)


def _address(name: str, addr: str, defects: _Defects) -> Address | None:
    name = _clean_line(name).strip("\"' ")
    written = "".join(_clean_line(addr).split()).strip("<>")
    email = written.lower()
    local, at, domain = email.rpartition("@")
    if not (at and local and domain) or len(email) > MAX_EMAIL_CHARS:
        if len(email) > MAX_EMAIL_CHARS:
            defects.add("overlong address dropped")
        # "From: Schadeafdeling" holds a name, not an address.
        name = name or written[:MAX_EMAIL_CHARS]
        email = ""
    if not name and not email:
        return None
    return Address(name=name, email=email)


def _date(value: str | None, defects: _Defects) -> datetime | None:
    if not value or not value.strip():
        return None
    text = _clean_line(value)
    parsed: datetime | None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        try:
            # Some scripts write ISO 8601 into the Date header.
            parsed = datetime.fromisoformat(text)
        except ValueError:
            defects.add("bad date")
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.add("bad date")
        return None


_BRACKETED_ID = re.compile(r"<([^<>]*)>")


def _first_id(value: str) -> str:
    """The first Message-ID in a header, brackets and whitespace removed."""
    ids = _ids(value)
    return ids[0] if ids else ""


def _id_list(value: str, defects: _Defects) -> tuple[str, ...]:
    ids = list(dict.fromkeys(_ids(value)))
    if len(ids) > MAX_REFERENCES:
        defects.add(f"more than {MAX_REFERENCES} references; middle ones dropped")
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return tuple(ids)


def _ids(value: str) -> list[str]:
    text = _clean_line(value)
    found = _BRACKETED_ID.findall(text)
    if not found:
        # Some clients drop the brackets; then ids are separated by whitespace or commas.
        found = [token for token in re.split(r"[\s,]+", text) if "@" in token]
    ids = ("".join(item.split()) for item in found)
    return [item[:MAX_MESSAGE_ID_CHARS] for item in ids if item]


# --- Structure and bodies -----------------------------------------------------------------


@dataclass
class _Content:
    """Body candidates found while walking one message, in document order."""

    plain: list[Message] = field(default_factory=list)
    html: list[Message] = field(default_factory=list)
    forwarded: list[tuple[Message, int]] = field(default_factory=list)  # (message, depth)


class _Walker:
    """Walks one message's MIME tree: body candidates into a _Content, the rest listed."""

    def __init__(self, defects: _Defects) -> None:
        self.defects = defects
        self.attachments: list[Attachment] = []
        self.parts = 0
        self.recovered = False

    def visit(self, part: Message, depth: int, into: _Content) -> None:
        if depth > MAX_DEPTH:
            self.defects.add(f"MIME parts nested deeper than {MAX_DEPTH} levels ignored")
            return
        if self.parts >= MAX_PARTS:
            self.defects.add(f"more than {MAX_PARTS} MIME parts; the rest ignored")
            return
        self.parts += 1
        _note_parser_defects(part, self.defects)
        content_type = _clean_line(part.get_content_type())
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            if content_type.startswith("message/"):
                self._list(part, content_type, sum(_message_size(c) for c in children))
                if content_type in ("message/rfc822", "message/global") and children:
                    into.forwarded.append((children[0], depth + 1))
            elif content_type == "multipart/alternative":
                self._alternative(children, depth, into)
            else:
                for child in children:
                    self.visit(child, depth + 1, into)
            return
        if content_type.startswith("multipart/") and not self.recovered:
            recovered = _with_found_boundary(part, content_type)
            if recovered is not None:
                # Once per message: a re-read part that still fails is read as text.
                self.recovered = True
                self.defects.add("multipart boundary recovered")
                self.visit(recovered, depth + 1, into)
                return
        filename = _filename(part, self.defects)
        disposition = _clean_line(str(part.get_content_disposition() or ""))
        # A multipart without a usable boundary keeps its payload as text: read it as such.
        textual = content_type in ("text/plain", "text/html") or content_type.startswith(
            "multipart/"
        )
        if textual and disposition != "attachment" and not filename:
            (into.html if content_type == "text/html" else into.plain).append(part)
            return
        self._list(part, content_type, _payload_size(part), filename)

    def _alternative(self, children: list[Message], depth: int, into: _Content) -> None:
        branches = []
        for child in children:
            branch = _Content()
            self.visit(child, depth + 1, branch)
            branches.append(branch)
        # Plain text is what we route on; of several HTML versions the last is the richest.
        into.plain.extend(next((b.plain for b in branches if b.plain), []))
        into.html.extend(next((b.html for b in reversed(branches) if b.html), []))
        for branch in branches:
            into.forwarded.extend(branch.forwarded)

    def _list(self, part: Message, content_type: str, size: int, filename: str = "") -> None:
        name = filename or _filename(part, self.defects)
        self.attachments.append(Attachment(filename=name, content_type=content_type, size=size))


# A delimiter line (RFC 2046 boundary characters) followed by a part's first header line.
_DELIMITER = re.compile(rb"^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?\n[!-9;-~]+:", re.MULTILINE)
_MEDIA_TYPE = re.compile(r"[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,80}")


def _with_found_boundary(part: Message, content_type: str) -> Message | None:
    """Re-read a multipart whose boundary parameter is missing or wrong, using the first
    delimiter line its payload really has; None when there is none to find."""
    if _transfer_encoding(part) not in _IDENTITY_ENCODINGS:
        return None
    payload = part.get_payload(decode=True)  # identity encoding: the bytes as written
    if not isinstance(payload, bytes):
        return None
    match = _DELIMITER.search(payload, 0, 64 * 1024)
    if match is None or match.group(1).decode("ascii") == part.get_boundary():
        return None
    media_type = content_type if _MEDIA_TYPE.fullmatch(content_type) else "multipart/mixed"
    head = f'Content-Type: {media_type}; boundary="{match.group(1).decode("ascii")}"\n\n'
    return BytesParser(policy=email_policy.compat32).parsebytes(head.encode("ascii") + payload)


def _transfer_encoding(part: Message) -> str:
    return _clean_line(str(part.get("content-transfer-encoding", ""))).lower()


def _extract(
    message: Message, depth: int, defects: _Defects
) -> tuple[str, str | None, list[Attachment], tuple[Message, int] | None]:
    """Body text, raw HTML and attachments of ``message``, and the first attached message
    (with its depth) when the body is the sender's own text beside it; None when there is
    none, or when the body was empty and taken from it."""
    walker = _Walker(defects)
    content = _Content()
    walker.visit(message, depth, content)
    body, html = _choose_body(content, defects)
    forwarded = content.forwarded[0] if content.forwarded else None
    if not body.strip() and forwarded is not None:
        inner, inner_depth = forwarded
        inner_body, inner_html, _, _ = _extract(inner, inner_depth, defects)
        if inner_body.strip():
            defects.add("body taken from attached message")
            body, html, forwarded = inner_body, html or inner_html, None
    return body, html, walker.attachments, forwarded


def _forwarded_original(inner: Message, depth: int, defects: _Defects) -> str:
    """An attached message as text a person and the model can read: the forwarded-message
    separator, its From, Date and Subject, then what its sender wrote (and what that
    quoted). '' when it holds no text."""
    body, _html, _attachments, _nested = _extract(inner, depth, defects)
    split = split_reply(body)
    text = split.new_text or body.strip()
    if split.new_text and split.quoted_text:
        text += "\n\n" + split.quoted_text
    if not text:
        return ""
    header = {
        name: _unfold(str(inner.get(name, "")))[:MAX_HEADER_CHARS]
        for name in ("from", "date", "subject")
    }
    lines = [FORWARDED_ORIGINAL_MARK]
    sender = _addresses(header["from"], defects)
    if sender:
        name, email = sender[0].name, sender[0].email
        lines.append(f"From: {name} <{email}>" if name and email else f"From: {name or email}")
    if header["date"].strip():
        lines.append(f"Date: {_clean_line(header['date'])}")
    subject = _decode_text(header["subject"], defects)
    if subject:
        lines.append(f"Subject: {subject}")
    return ("\n".join(lines) + "\n\n" + text)[:MAX_BODY_CHARS]


def _choose_body(content: _Content, defects: _Defects) -> tuple[str, str | None]:
    plain_parts: list[str] = []
    length = 0
    for part in content.plain:
        if length > MAX_BODY_CHARS:
            break
        text = _clean_body(_decode_part(part, defects, MAX_BODY_CHARS))
        if text:
            plain_parts.append(text)
            length += len(text)
    plain = "\n\n".join(plain_parts)

    html: str | None = None
    if content.html:
        html = _clean_markup(_decode_part(content.html[0], defects, MAX_HTML_CHARS))
        if len(html) > MAX_HTML_CHARS:
            defects.add("html truncated")
            html = html[:MAX_HTML_CHARS]

    body = plain
    if html is not None and _is_stub(plain):
        converted = _html_to_text(html, defects)
        if converted or not plain:
            defects.add("html converted")
            body = converted
    if len(body) > MAX_BODY_CHARS:
        defects.add("truncated body")
        body = body[:MAX_BODY_CHARS]
    return body, html


def _decode_part(part: Message, defects: _Defects, max_chars: int) -> str:
    data = part.get_payload(decode=True)
    _note_parser_defects(part, defects)  # transfer decoding adds its own defects
    encoding = _transfer_encoding(part)
    if encoding not in _TRANSFER_ENCODINGS:
        defects.add(f"unknown transfer encoding {encoding[:40]}")
    if encoding == "base64" and any(
        type(defect).__name__ == "InvalidBase64LengthDefect" for defect in part.defects
    ):
        data = _salvage_base64(part)
    if not isinstance(data, bytes) or not data:
        return ""
    # No charset spends more than 4 bytes per character: this many bytes fill max_chars.
    complete = len(data) <= max_chars * 4
    if not complete:
        data = data[: max_chars * 4]
    charset = part.get_content_charset()
    if charset is None and part.get_content_type() == "text/html":
        match = _META_CHARSET.search(data[:4096])
        charset = match.group(1).decode("ascii") if match else None
    return _decode_bytes(data, charset, defects, complete=complete)


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def _salvage_base64(part: Message) -> bytes:
    """Decode a base64 body cut off mid-quantum: the stdlib then gives up on all of it."""
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return b""
    encoded = _NOT_BASE64.sub(b"", payload.encode("utf-8", "surrogateescape"))
    return base64.b64decode(encoded[: len(encoded) - len(encoded) % 4])


_META_CHARSET = re.compile(rb"""(?i)<meta[^>]{0,200}?charset\s*=\s*["']?([a-z0-9_.:-]{1,40})""")


def _filename(part: Message, defects: _Defects) -> str:
    name = part.get_filename()
    if not name:
        return ""
    return _decode_text(_unfold(str(name))[:MAX_HEADER_CHARS], defects)


def _payload_size(part: Message) -> int:
    data = part.get_payload(decode=True)
    return len(data) if isinstance(data, bytes) else 0


def _message_size(message: Message) -> int:
    try:
        return len(message.as_bytes())
    except _LIBRARY_ERRORS:
        # A broken attached message still counts as attached; its size is then unknown.
        return 0


def _note_parser_defects(part: Message, defects: _Defects) -> None:
    for defect in part.defects:
        name = type(defect).__name__.removesuffix("Defect")
        defects.add(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower())


_STUB = re.compile(
    r"""
      view\s+(?:this\s+(?:e-?mail|message)\s+)?(?:in|with)\s+(?:your|a|the)\s+(?:web\s*)?browser
    | bekijk\s+(?:deze\s+(?:e-?mail|mail|nieuwsbrief)\s+)?(?:in|met)\s+(?:je|uw|de)\s+
      (?:web)?browser
    | (?:this|deze)\s+(?:e-?mail|mail|message|bericht)\s+(?:is|contains|bevat)\s+(?:an?\s+)?html
    | (?:your|uw|je)\s+(?:e-?mail\s*)?(?:client|programma|mailprogramma)\s+
      (?:does\s+not|doesn't|ondersteunt\s+geen|kan\s+geen)
    | (?:kunt|kan)\s+(?:u|je)\s+deze\s+(?:e-?mail|mail|nieuwsbrief)\s+niet\s+(?:goed\s+)?
      (?:lezen|bekijken|zien)
    | html[- ]?(?:versie|version)
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _is_stub(plain: str) -> bool:
    if sum(map(str.isalnum, plain[:200])) < 2:
        return True
    return len(plain) <= MAX_STUB_CHARS and bool(_STUB.search(plain))


# Up to the next "<" or ">": each character is read by one tag candidate only.
_TAG = re.compile(r"<[^<>]{0,2000}>")


# The strict profile renders blocks without the relaxed profile's padding, so the text's
# lines start where the writer's did and the reply splitter sees them as such.
_HTML_TO_TEXT = ParserConfig(css=CSS_PROFILES["strict"])


def _html_to_text(html: str, defects: _Defects) -> str:
    if len(html) > MAX_HTML_TO_TEXT_CHARS:
        defects.add(f"html cut to {MAX_HTML_TO_TEXT_CHARS:,} characters before reading its text")
        html = html[:MAX_HTML_TO_TEXT_CHARS]
    try:
        text = get_text(html, _HTML_TO_TEXT)
    except (etree.LxmlError, ValueError, RecursionError):
        defects.add("html unreadable; tags stripped")
        text = unescape(_TAG.sub(" ", html))
    return _clean_body(text)


# --- Charsets and text cleaning -----------------------------------------------------------


def _decode_bytes(
    data: bytes, charset: str | None, defects: _Defects, *, complete: bool = True
) -> str:
    """``data`` as text: declared charset, else UTF-8, else a guess, else cp1252."""
    declared = _codec_for(charset, defects)
    for codec in _codec_order(declared):
        try:
            # Incremental, so that bytes cut short mid-character do not count as an error.
            return codecs.getincrementaldecoder(codec)("strict").decode(data, final=complete)
        except UnicodeDecodeError:
            continue
    if declared is not None:
        defects.add(f"bytes not valid in declared charset {declared}")
    return _decode_unknown(data, defects)


def _codec_order(declared: str | None) -> list[str]:
    if declared is None:
        return ["utf-8"]
    if declared == "ascii":
        # "us-ascii" with 8-bit bytes: the sender's client wrote UTF-8 or cp1252 anyway.
        return ["utf-8", "cp1252"]
    if declared in ("iso8859-1", "cp1252"):
        # As in browsers (WHATWG): an iso-8859-1 label means windows-1252; latin-1 takes
        # the five bytes cp1252 leaves undefined.
        return ["cp1252", "iso8859-1"]
    return [declared] if declared == "utf-8" else [declared, "utf-8"]


def _codec_for(charset: str | None, defects: _Defects) -> str | None:
    """Python's codec name for a declared charset; None (and a defect) when unusable."""
    if not charset:
        return None
    name = str(charset).strip().strip("\"' ;").lower()
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        defects.add(f"unknown charset {name[:40]}")
        return None
    # Bytes-to-bytes codecs (zlib, base64, …) would decompress or decode, not read text.
    if getattr(info, "_is_text_encoding", True) is False or info.name in _NOT_CHARSETS:
        defects.add(f"unknown charset {name[:40]}")
        return None
    return info.name


def _decode_unknown(data: bytes, defects: _Defects | None = None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(
        data[:DETECT_SAMPLE_BYTES], cp_isolation=list(LEGACY_CHARSETS)
    ).best()
    encoding = best.encoding if best is not None else "cp1252"
    if defects is not None:
        defects.add(f"charset guessed as {encoding}")
    return data.decode(encoding, "replace")


_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
_WHITESPACE = re.compile(r"\s+")
# Only from the start of a run, taken whole: a long run of spaces inside a line is given up
# once, not retried from each of its spaces (that was quadratic: 32 kB of spaces, 5.6 s).
_TRAILING_SPACE = re.compile(r"(?<![ \t\u00a0])[ \t\u00a0]++$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


def _repair_surrogates(text: str) -> str:
    """Turn raw 8-bit bytes the parser kept as surrogate escapes back into characters."""
    if not _SURROGATE.search(text):
        return text
    text = _ESCAPED_BYTES.sub(lambda m: _decode_8bit_run(m.group()), text)
    return _SURROGATE.sub("\ufffd", text)


def _decode_8bit_run(escaped: str) -> str:
    # A run of raw bytes between ASCII characters is one or a few characters: too little for
    # charset detection. UTF-8 runs decode as such; anything else is most likely cp1252.
    data = escaped.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _fix_c1(text: str) -> str:
    # C1 controls in decoded text are windows-1252 bytes read as latin-1: curly quotes, €, –.
    return _C1_CONTROL.sub(lambda m: bytes([ord(m.group())]).decode("cp1252", "ignore"), text)


def _clean_line(text: str) -> str:
    """One line of text that the store and the browser can hold: no controls, no NUL."""
    text = _fix_c1(_repair_surrogates(str(text)))
    return _WHITESPACE.sub(" ", _CONTROL.sub("", text)).strip()


def _clean_markup(text: str) -> str:
    return _CONTROL.sub("", _fix_c1(_repair_surrogates(text)))


def _clean_body(text: str) -> str:
    text = _LINE_BREAK.sub("\n", _clean_markup(text))
    return _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("", text)).strip()


# --- Language -----------------------------------------------------------------------------


@cache
def _identifier() -> LanguageIdentifier:
    # Loaded on first use, not at import: the model takes about half a second to read.
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def _language(*texts: str) -> str:
    """The language of the first text with enough letters to tell, else 'und'."""
    for text in texts:
        sample = text[:LANGUAGE_SAMPLE_CHARS]
        if sum(map(str.isalpha, sample)) < MIN_LANGUAGE_LETTERS:
            continue
        language, confidence = _identifier().classify(sample)
        if confidence >= MIN_LANGUAGE_CONFIDENCE:
            return str(language)
    return "und"
