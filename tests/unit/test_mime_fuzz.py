"""Property-based fuzzing of labeling.mail.mime.normalise: whatever the bytes, it returns a
NormalisedMail the store can hold, or raises MailParseError; never anything else."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.errors import MailParseError
from labeling.mail import mime
from labeling.mail.values import NormalisedMail

# Deadlines off: the machine running the suite is shared and a slow example is not a bug;
# the limits in labeling.mail.mime are what bound the time per mail.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEDS: tuple[bytes, ...] = (
    b"From: =?iso-8859-1?Q?Jos=E9_M=FCller?= <jose@example.nl>\n"
    b'To: schade@polderzeker.example, "Team, Claims" <claims@polderzeker.example>\n'
    b"Subject: =?utf-8?B?UmU6IFNjaGFkZSDigqwgMjUw?=\n"
    b"Date: Mon, 03 Jun 2024 10:12:00 +0200\n"
    b"Message-ID: <m1@example.nl>\n"
    b"References: <r0@example.nl> <r1@example.nl>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="mix"\n'
    b"\n"
    b"--mix\n"
    b'Content-Type: multipart/alternative; boundary="alt"\n'
    b"\n"
    b"--alt\n"
    b"Content-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Beste,=0A=0AMijn auto is beschadigd. Schade =80 250.\n"
    b"\n"
    b"Met vriendelijke groet,\nJos=E9\n"
    b"\n"
    b"Op ma 3 jun. 2024 om 10:12 schreef Schade <schade@polderzeker.example>:\n"
    b"> Kunt u foto's sturen?\n"
    b"--alt\n"
    b"Content-Type: text/html; charset=utf-8\n"
    b"\n"
    b"<html><body><p>Beste,</p><script>x()</script><p>Mijn auto</p></body></html>\n"
    b"--alt--\n"
    b"--mix\n"
    b'Content-Type: application/pdf; name="=?utf-8?Q?formulier_=E2=82=AC.pdf?="\n'
    b"Content-Disposition: attachment; filename*=utf-8''formulier%20%E2%82%AC.pdf\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\n"
    b"--mix\n"
    b"Content-Type: message/rfc822\n"
    b"\n"
    b"From: Klant <klant@example.nl>\n"
    b"Subject: Klacht\n"
    b"Content-Type: text/plain; charset=windows-1252\n"
    b"\n"
    b"Ik ben \x93ontevreden\x94 over de afhandeling.\n"
    b"--mix--\n",
    b"From: Sam Carter <sam@example.com>\r\n"
    b"Subject: RE: FW: Premium invoice\r\n"
    b"Date: 4 Jun 2024 09:00 GMT\r\n"
    b"Content-Type: text/plain; charset=x-unknown\r\n"
    b"\r\n"
    b"Please find the invoice attached.\r\n\r\n"
    b"From: Billing <billing@polderzeker.example>\r\n"
    b"Sent: Tuesday, June 4, 2024 9:00 AM\r\n"
    b"To: Sam Carter <sam@example.com>\r\n"
    b"Subject: Premium invoice\r\n",
    b"From: info@polderzeker.example\n"
    b"Subject: Nieuwsbrief\n"
    b"Content-Type: text/html; charset=utf-8\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"PGh0bWw+PGJvZHk+PHA+VXcgcHJlbWllIHdvcmR0IHZlcmxhYWdkLjwvcD48L2JvZHk+PC9odG1sPg==\n",
)

# Found by fuzzing: re-reading a multipart with a recovered boundary used to recurse, each
# round tripling the 8-bit bytes, until memory ran out.
RUNAWAY_RECOVERY = (
    b"From: =?iso-8859-1?Q?Jos=E9_M=FCller?= <jose@example.nl>\n"
    b'To: schade@polderzeker.example, "Team, Claims" <claims@polderzeker.example>\n'
    b"Subject: =?utf-8?B?UmU6IFNjaGFkZSDigqwgMjUw?=\n"
    b"Date: Mon, 03 Ju\tn 2024 10:12:00 +0200\n"
    b"Message-ID: <m1@example.nl>\n"
    b"References: <r0@example.nl> <r1@example.nl>\n"
    b"10:12:00 +0200\n"
    b"Message-ID: <m1@example.nl>\n"
    b"References: <r0@example.nl> <r1@example.nl>\n"
    b"MIME-Version: \r1.0\n"
    b'Content-Type: multipart/mixed; boundary="mix"\n'
    b"\n"
    b"--mix\n"
    b'Content-Type: multipart/alternat"\n'
    b"\n"
    b"--alt\n"
    b"Content-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Tran\x1efer-Encoding: quoted-printable\n"
    b"\n"
    b"Beste,=0A=0AMijn auto is beschadigd. Schade =80 250.\n"
    b"\n"
    b"Met vriendelijke groet,\n"
    b"Jos=E9\n"
    b"\n"
    b"Op ma 3 jun. 2024 om 10:12 schreef Schade <schade@polderzeker.example>:\n"
    b"> Kunt u foto's sturen?\n"
    b"--alt\n"
    b"Content-Type: text/html; charset=utf-8\n"
    b"\n"
    b"<html><body><p>Beste\x18</p><script>x()</script><p>M\xf8jn auto</p></body></html>\n"
    b"--alt--\n"
    b"--mix\n"
    b'Content-Type: application/pdf; name="=?utf-8?Q?ffilename*0*=ormulier_=E2=82=AC.pdf?="\n'
    b"Content-Disposition: attachment; filename*=utf-8''formulier%20%E2%82%AC.pdf\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3"
)

# Fragments that steer random edits into the parser's interesting corners.
TOKENS: tuple[bytes, ...] = (
    b"=?utf-8?B?",
    b"=?x-foo?Q?",
    b"=?iso-8859-1?q?=E9",
    b"?=",
    b"<",
    b">",
    b'"',
    b"(",
    b")",
    b"\\",
    b";",
    b":",
    b",",
    b"@",
    b"=",
    b"%",
    b"*",
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"\t",
    b"\n\n",
    b"--mix\n",
    b"--alt--\n",
    b"--\n",
    b"boundary=",
    b"charset=",
    b"filename*0*=",
    b"Content-Type: multipart/mixed; boundary=mix\n",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: x-foo\n",
    b"Content-Type: text/html\n\n<p>",
    b"Date: 99 Foo 2024 99:99\n",
    b"\xff",
    b"\x00",
    b"\xc3",
    b"\x80",
    b"-----Oorspronkelijk bericht-----\n",
    b"Van: x\nVerzonden: y\nAan: z\n",
    b"> ",
    b"Op ma schreef Jan:\n",
    b"-- \n",
    b"Mvg\n",
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed mail with a few byte flips, cuts, insertions, deletions and duplications."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(("flip", "truncate", "insert", "token", "delete", "dup")))
        if operation == "flip" and data:
            index = min(position, len(data) - 1)
            data[index] ^= draw(st.integers(1, 255))
        elif operation == "truncate":
            del data[position:]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "token":
            data[position:position] = draw(st.sampled_from(TOKENS))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 200))]
    return bytes(data)


token_soup = st.lists(st.sampled_from(TOKENS) | st.binary(max_size=8), max_size=60).map(b"".join)

_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def check(raw: bytes) -> None:
    try:
        result = mime.normalise(raw)
    except MailParseError as exc:
        assert exc.reason
        assert not _UNSAFE.search(exc.reason)
        return
    assert isinstance(result, NormalisedMail)
    # What the store and the browser receive: no NUL, no lone surrogates, bounded sizes.
    texts = [
        result.message_id,
        result.subject,
        result.subject_key,
        result.in_reply_to,
        result.body_text,
        result.new_text,
        result.quoted_text,
        result.signature,
        result.html or "",
        result.language,
        *result.references,
        *result.defects,
    ]
    for address in (
        *result.to,
        *result.cc,
        *result.reply_to,
        *((result.sender,) if result.sender else ()),
    ):
        texts += [address.name, address.email]
    for attachment in result.attachments:
        texts += [attachment.filename, attachment.content_type]
        assert attachment.size >= 0
    for name, value in result.headers:
        texts += [name, value]
    for text in texts:
        assert isinstance(text, str)
        assert not _UNSAFE.search(text), text[:80]
        text.encode("utf-8")
    assert len(result.body_text) <= mime.MAX_BODY_CHARS
    assert result.html is None or len(result.html) <= mime.MAX_HTML_CHARS
    assert result.date is None or result.date.utcoffset() == timedelta(0)
    assert result.language in (*mime.LANGUAGES, "und")


def test_runaway_recovery_regression() -> None:
    result = mime.normalise(RUNAWAY_RECOVERY)
    assert "multipart boundary recovered" in result.defects
    check(RUNAWAY_RECOVERY)


def test_seeds_are_valid_mails() -> None:
    for seed in SEEDS:
        assert mime.normalise(seed).body_text


@FUZZ
@given(st.binary(max_size=2_000))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(mutated())
def test_mutated_mails(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(token_soup)
def test_token_soup(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(st.sampled_from(SEEDS), token_soup)
def test_token_soup_inside_headers(seed: bytes, soup: bytes) -> None:
    head, _, body = seed.partition(b"\n")
    check(head + soup + b"\n" + body)
