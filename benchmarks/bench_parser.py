"""Throughput of labeling.mail.mime.normalise.

    python benchmarks/bench_parser.py [PATH] [--repeat N]

PATH is a Maildir tree (every file under a ``cur`` or ``new`` folder, all folders) or a folder
of ``.eml`` files, or a single file. Without PATH a few hundred varied mails are made here,
deterministically. Files are read into memory first, so the figures are the parser's alone:
messages/s and MB/s in wall-clock and CPU time (CPU time is the fairer figure on a shared
machine), latency percentiles, and how many mails raised MailParseError.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from labeling.errors import MailParseError
from labeling.mail.mime import normalise

SYNTHETIC_COUNT = 400


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, help="Maildir tree, .eml folder or file")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the mails (default 1)")
    args = parser.parse_args(argv)

    if args.path is None:
        mails = synthetic_mails(SYNTHETIC_COUNT)
        source = f"{len(mails)} synthetic mails"
    else:
        if not args.path.exists():
            parser.error(f"{args.path} does not exist")
        mails = [path.read_bytes() for path in mail_files(args.path)]
        source = f"{len(mails)} mails from {args.path}"
    if not mails:
        print(f"no mail files found under {args.path}", file=sys.stderr)
        return 1

    normalise(mails[0])  # load the language model outside the timed loop
    latencies: list[float] = []
    refused = 0
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(args.repeat):
        for raw in mails:
            started = time.perf_counter()
            try:
                normalise(raw)
            except MailParseError:
                refused += 1
            latencies.append(time.perf_counter() - started)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start

    count = len(latencies)
    megabytes = sum(len(raw) for raw in mails) * args.repeat / 1e6
    quantiles = statistics.quantiles(latencies, n=100) if count > 1 else latencies * 99
    print(f"{source}, {megabytes / args.repeat:.1f} MB, {args.repeat} pass(es)")
    print(f"wall: {count / wall:,.0f} messages/s, {megabytes / wall:.2f} MB/s ({wall:.2f} s)")
    print(f"cpu:  {count / cpu:,.0f} messages/s, {megabytes / cpu:.2f} MB/s ({cpu:.2f} s)")
    print(
        f"latency: median {quantiles[49] * 1e3:.2f} ms, p99 {quantiles[98] * 1e3:.2f} ms, "
        f"max {max(latencies) * 1e3:.1f} ms"
    )
    print(f"MailParseError: {refused // args.repeat} of {len(mails)}")
    return 0


def mail_files(root: Path) -> Iterator[Path]:
    """Mail files under ``root``: Maildir cur/new entries and .eml files, sorted."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and (path.parent.name in ("cur", "new") or path.suffix == ".eml"):
            yield path


# --- Synthetic mails ------------------------------------------------------------------------

_NL_TEXTS = (
    "Goedemorgen,\n\nIk heb schade aan mijn auto na een aanrijding op de A12. "
    "Kunt u mij laten weten welke gegevens u nodig heeft?",
    "Beste,\n\nMijn adres is gewijzigd per 1 juli: Kerkstraat 12, 3811 AB Amersfoort. "
    "Wilt u dit aanpassen in mijn polis?",
    "Hallo,\n\nIk wil mijn reisverzekering opzeggen omdat ik een nieuwe heb afgesloten "
    "via mijn werkgever. Graag een bevestiging.",
    "Geachte heer/mevrouw,\n\nDe premie is dit jaar met € 14,50 per maand gestegen. "
    "Ik begrijp niet waarom, want er is niets veranderd.",
    "Dag,\n\nKunt u een offerte maken voor een woonhuisverzekering? Het huis is in 1932 "
    "gebouwd en heeft een rieten dak.",
)
_EN_TEXTS = (
    "Hello,\n\nI would like to add my partner to the car insurance policy from next month. "
    "What do you need from us?",
    "Dear team,\n\nMy bicycle was stolen at the station yesterday. I have reported it to "
    "the police; the report number is attached.",
)
_SIGNATURES = (
    "Met vriendelijke groet,\n\nPetra Smit",
    "Mvg\nJan",
    "Groeten,\nAnouk",
    "Kind regards,\nSam Carter",
    "Verzonden vanaf mijn iPhone",
    "-- \nM. de Boer | 06-12345678",
)


def synthetic_mails(count: int, seed: int = 20240603) -> list[bytes]:
    """``count`` varied mails: plain, alternative, HTML-only, replies, forwards, attachments,
    legacy charsets, and a few broken ones, in a fixed pseudo-random order."""
    rng = random.Random(seed)
    makers = [
        _plain,
        _alternative,
        _html_only,
        _outlook_reply,
        _gmail_reply,
        _with_pdf,
        _forward_attached,
        _latin1_8bit,
        _broken,
    ]
    weights = [20, 25, 8, 12, 12, 10, 5, 6, 2]
    start = datetime(2024, 1, 8, 8, 0, tzinfo=UTC)
    mails = []
    for number in range(count):
        maker = rng.choices(makers, weights)[0]
        when = start + timedelta(minutes=37 * number)
        mails.append(maker(rng, number, when))
    return mails


def _base(rng: random.Random, number: int, when: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = rng.choice(
        [
            "Jan de Vries <jan@example.nl>",
            "René Müller <rene@example.nl>",
            "Sam Carter <sam@example.com>",
            "Anouk Bakker <anouk.bakker@example.nl>",
        ]
    )
    msg["To"] = "info@polderzeker.example"
    prefix = rng.choice(["", "", "Re: ", "RE: ", "Fwd: ", "WG: ", "Antw: "])
    msg["Subject"] = prefix + rng.choice(
        [
            "Schade aan mijn auto",
            "Adreswijziging",
            "Opzegging reisverzekering",
            "Vraag over premie €",
            "Offerte woonhuis",
            "Stolen bicycle",
        ]
    )
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<{number}.{rng.randrange(10**9)}@mail.example.nl>"
    return msg


def _text(rng: random.Random) -> str:
    text = rng.choice(_EN_TEXTS if rng.random() < 0.15 else _NL_TEXTS)
    return f"{text}\n\n{rng.choice(_SIGNATURES)}\n"


def _plain(rng: random.Random, number: int, when: datetime) -> bytes:
    msg = _base(rng, number, when)
    msg.set_content(_text(rng) * rng.choice([1, 1, 2, 5]))
    return bytes(msg)


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n") if line)
    return (
        "<html><head><style>p{font-family:Calibri}</style></head><body>"
        f"<div class=WordSection1>{paragraphs}</div></body></html>"
    )


def _alternative(rng: random.Random, number: int, when: datetime) -> bytes:
    msg = _base(rng, number, when)
    text = _text(rng)
    msg.set_content(text)
    msg.add_alternative(_html(text), subtype="html")
    return bytes(msg)


def _html_only(rng: random.Random, number: int, when: datetime) -> bytes:
    msg = _base(rng, number, when)
    msg.set_content(_html(_text(rng)) + "<script>track()</script>", subtype="html")
    return bytes(msg)


def _outlook_reply(rng: random.Random, number: int, when: datetime) -> bytes:
    msg = _base(rng, number, when)
    quoted = rng.choice(_NL_TEXTS)
    msg.set_content(
        f"{_text(rng)}\n-----Oorspronkelijk bericht-----\n"
        "Van: Polderzeker <info@polderzeker.example>\n"
        f"Verzonden: {format_datetime(when - timedelta(days=2))}\n"
        "Aan: Jan de Vries <jan@example.nl>\nOnderwerp: Uw vraag\n\n"
        f"{quoted}\n"
    )
    return bytes(msg)


def _gmail_reply(rng: random.Random, number: int, when: datetime) -> bytes:
    msg = _base(rng, number, when)
    quoted = "\n".join(f"> {line}" for line in rng.choice(_NL_TEXTS).split("\n"))
    msg.set_content(
        f"{_text(rng)}\nOp ma 3 jun. 2024 om 10:12 schreef Polderzeker "
        f"<info@polderzeker.example>:\n{quoted}\n"
    )
    return bytes(msg)


def _with_pdf(rng: random.Random, number: int, when: datetime) -> bytes:
    msg = _base(rng, number, when)
    msg.set_content(_text(rng))
    size = rng.choice([2_000, 40_000, 300_000])
    msg.add_attachment(
        rng.randbytes(size), maintype="application", subtype="pdf", filename="schadeformulier.pdf"
    )
    if rng.random() < 0.5:
        msg.add_attachment(
            rng.randbytes(5_000), maintype="image", subtype="jpeg", filename="foto €.jpg"
        )
    return bytes(msg)


def _forward_attached(rng: random.Random, number: int, when: datetime) -> bytes:
    inner = _base(rng, number + 100_000, when - timedelta(days=1))
    inner.set_content(_text(rng))
    msg = _base(rng, number, when)
    msg.set_content(rng.choice(["", "Zie bijgevoegde mail, graag oppakken.\n"]))
    msg.add_attachment(inner)
    return bytes(msg)


def _latin1_8bit(rng: random.Random, number: int, when: datetime) -> bytes:
    text = _text(rng).replace("€", "EUR")
    charset = rng.choice(["iso-8859-1", "windows-1252"])
    head = (
        f"From: =?{charset}?Q?Ren=E9_M=FCller?= <rene@example.nl>\n"
        f"Subject: =?{charset}?Q?Caf=E9_schade?=\n"
        f"Date: {format_datetime(when)}\nMessage-ID: <{number}@mail.example.nl>\n"
        f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n\n"
    )
    return head.encode("ascii") + text.encode("cp1252")


def _broken(rng: random.Random, number: int, when: datetime) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(600)  # not a mail: refused
    if kind == 1:
        body = base64.b64encode(_text(rng).encode())[:-5].decode()
        return (
            "From: jan@example.nl\nSubject: Afgebroken\nDate: gisteren\n"
            f"Content-Transfer-Encoding: base64\n\n{body}\n"
        ).encode()
    if kind == 2:
        return f"From: jan@example.nl\nContent-Type: multipart/mixed\n\n{_text(rng)}".encode()
    return (
        b"From: =?x-foo?Q?Jan?= <jan@example.nl>\nSubject: Onbekend\n"
        b"Content-Type: text/plain; charset=x-foo\n\n"
    ) + _text(rng).encode("cp1252", "replace")


if __name__ == "__main__":
    raise SystemExit(main())
