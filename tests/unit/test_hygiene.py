"""Mail hygiene: which mail is a person's, which a machine's, and what happens to each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from labeling.live.lifecycle import outgoing_message_id
from labeling.mail.hygiene import KINDS, classify, own_addresses
from mailroom.testbed.mail_factory import auto_reply_mail, bounce_mail
from tests.support.mail_samples import make_mail
from worker.outgoing import ForwardInfo, build_forward

OUR_ID = outgoing_message_id("a" * 64, "schade")
OWN = own_addresses("mailroom@polderzeker.example", ["Info <info@polderzeker.example>"])


def _headers(*pairs: tuple[str, str], subject: str = "Vraag over mijn polis") -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in pairs)
    return (
        "From: Jan de Vries <jan@example.nl>\r\n"
        "To: info@polderzeker.example\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <m1@example.nl>\r\n"
        f"{head}\r\n"
        "Goedemorgen, ik heb een vraag.\r\n"
    ).encode()


def _forward(mode: str) -> bytes:
    info = ForwardInfo(
        team_slug="schade",
        to_address="schade@polderzeker.example",
        outgoing_id=OUR_ID,
        decided_by="model",
        confidence=0.97,
        model_version="v0001",
        original_message_id="m1@example.nl",
    )
    return build_forward(
        make_mail("m1@example.nl"),
        info,
        mode=mode,  # type: ignore[arg-type]
        sender="mailroom@polderzeker.example",
        now=datetime(2024, 3, 1, tzinfo=UTC),
    )


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    kind: str
    handling: str
    recent: int = 0


CASES = [
    Case("plain customer mail", make_mail("c1@example.nl"), "customer", "route"),
    Case("Auto-Submitted: no is a person", _headers(("Auto-Submitted", "no")), "customer", "route"),
    Case(
        "RFC 3834 auto-replied", _headers(("Auto-Submitted", "auto-replied")), "auto_reply", "file"
    ),
    Case(
        "RFC 3834 auto-generated with a comment",
        _headers(("Auto-Submitted", "auto-generated; owner-email=x@y")),
        "auto_reply",
        "file",
    ),
    Case("X-Autoreply", _headers(("X-Autoreply", "yes")), "auto_reply", "file"),
    Case("X-Autorespond", _headers(("X-Autorespond", "1")), "auto_reply", "file"),
    Case(
        "Exchange X-Auto-Response-Suppress: All",
        _headers(("X-Auto-Response-Suppress", "All")),
        "auto_reply",
        "file",
    ),
    Case(
        "Exchange X-Auto-Response-Suppress: DR, OOF",
        _headers(("X-Auto-Response-Suppress", "DR, OOF")),
        "auto_reply",
        "file",
    ),
    Case("empty Return-Path", _headers(("Return-Path", "<>")), "auto_reply", "file"),
    Case(
        "Dutch out-of-office subject",
        _headers(subject="Automatisch antwoord: Vraag over mijn polis"),
        "auto_reply",
        "file",
    ),
    Case(
        "English Outlook subject",
        _headers(subject="Automatic reply: Vraag over mijn polis"),
        "auto_reply",
        "file",
    ),
    Case(
        "a customer's subject that merely mentions an auto reply",
        _headers(subject="Waarom kreeg ik een automatic reply?"),
        "customer",
        "route",
    ),
    Case(
        "testbed out-of-office",
        auto_reply_mail(message_id="v1@gmail.example"),
        "auto_reply",
        "file",
    ),
    Case("Precedence: bulk", _headers(("Precedence", "bulk")), "bulk", "review"),
    Case("Precedence: junk", _headers(("Precedence", "junk")), "bulk", "review"),
    Case("Precedence: list", _headers(("Precedence", "list")), "bulk", "review"),
    Case("List-Id", _headers(("List-Id", "<news.example.org>")), "bulk", "review"),
    Case(
        "bulk and auto-submitted: the auto-reply wins",
        _headers(("Precedence", "bulk"), ("Auto-Submitted", "auto-replied")),
        "auto_reply",
        "file",
    ),
    Case(
        "DSN of our forward",
        bounce_mail(message_id="b1@mx.example", returned=_forward("attach")),
        "bounce",
        "file",
    ),
    Case(
        "MAILER-DAEMON without a DSN",
        _headers().replace(b"jan@example.nl", b"MAILER-DAEMON@mx.example"),
        "bounce",
        "file",
    ),
    Case(
        "postmaster sender",
        _headers().replace(b"jan@example.nl", b"postmaster@x.example"),
        "bounce",
        "file",
    ),
    Case("X-Failed-Recipients", _headers(("X-Failed-Recipients", "a@b.example")), "bounce", "file"),
    Case("our attach forward came back", _forward("attach"), "loop", "file"),
    Case("our resend forward came back", _forward("resend"), "loop", "file"),
    Case(
        "sent from Mailroom's own address",
        _headers().replace(b"jan@example.nl", b"info@polderzeker.example"),
        "loop",
        "file",
    ),
    Case(
        "a reply that references our forward is still a person",
        make_mail("r1@example.nl", in_reply_to=OUR_ID.strip("<>")),
        "customer",
        "route",
    ),
    Case("sender over the rate limit", make_mail("c2@example.nl"), "loop", "review", recent=20),
    Case("sender under the rate limit", make_mail("c3@example.nl"), "customer", "route", recent=19),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kind_and_handling(case: Case) -> None:
    found = classify(case.raw, own_addresses=OWN, recent_from_sender=case.recent, sender_limit=20)
    assert (found.kind, found.handling) == (case.kind, case.handling), found
    assert found.kind in KINDS
    assert found.machine == (case.kind != "customer")
    if found.machine:
        assert found.reason and found.reason in found.signals


def test_a_bounce_names_our_forward_and_what_failed() -> None:
    for mode in ("attach", "resend"):
        found = classify(bounce_mail(message_id="b2@mx.example", returned=_forward(mode)))
        assert found.kind == "bounce"
        assert found.our_ids == (OUR_ID,)
        assert found.failed
        assert found.recipients == ("schade@polderzeker.example",)
        assert found.status.startswith("5.1.1 smtp; 550")


def test_a_delay_notice_is_not_a_failure() -> None:
    found = classify(
        bounce_mail(message_id="b3@mx.example", returned=_forward("attach"), action="delayed")
    )
    assert (found.kind, found.failed) == ("bounce", False)


def test_a_bounce_of_someone_elses_mail_names_none_of_ours() -> None:
    found = classify(bounce_mail(message_id="b4@mx.example", returned=make_mail("x@example.nl")))
    assert found.kind == "bounce"
    assert found.our_ids == ()


def test_hostile_headers_are_bounded() -> None:
    # Long runs in every header classify looks at: linear, and values are cut short.
    big = "a" * 200_000
    raw = _headers(
        ("Auto-Submitted", " " * 100_000 + "no"),
        ("X-Auto-Response-Suppress", ", " * 50_000),
        ("Content-Type", "multipart/report; report-type" + " " * 100_000 + "="),
        ("Precedence", big),
        subject=big,
    )
    found = classify(raw)
    assert found.kind == "customer"
    assert all(len(signal) < 1_000 for signal in found.signals)
