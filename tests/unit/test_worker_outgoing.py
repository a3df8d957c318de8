"""Forwarded mail construction, SMTP error translation, Maildir delivery — through fakes."""

from __future__ import annotations

import email
import smtplib
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import Any

import pytest

from labeling.errors import SmtpError
from labeling.live.lifecycle import outgoing_message_id
from worker.outgoing import (
    ForwardInfo,
    SmtpSender,
    build_forward,
    deliver_to_maildir,
    move_maildir_file,
    translate_smtp_error,
)

RAW = (
    "From: Jan Jansen <jan@example.nl>\r\nTo: info@polder.example\r\n"
    "Subject: Waterschade =?utf-8?q?keuken_=C3=A9?=\r\nMessage-ID: <orig-1@example.nl>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Er staat water in de keuken, één centimeter.\r\n"
).encode()
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _info(**changes: Any) -> ForwardInfo:
    values: dict[str, Any] = {
        "team_slug": "schade",
        "to_address": "schade@polder.example",
        "outgoing_id": outgoing_message_id("a" * 64, "schade"),
        "decided_by": "model",
        "confidence": 0.9731,
        "model_version": "v0003",
        "original_message_id": "<orig-1@example.nl>",
        "original_subject": "Waterschade keuken é",
        "original_sender_name": "Jan Jansen",
        "original_sender_email": "jan@example.nl",
        "reason": "confident",
    }
    values.update(changes)
    return ForwardInfo(**values)


def test_outgoing_message_id_is_deterministic_per_mail_and_team() -> None:
    one = outgoing_message_id("a" * 64, "schade")
    assert one == outgoing_message_id("a" * 64, "schade")
    assert one != outgoing_message_id("a" * 64, "klachten")
    assert one != outgoing_message_id("b" * 64, "schade")
    assert one.startswith("<mailroom.") and one.endswith("@mailroom.local>")


def test_attach_mode_wraps_the_original_byte_for_byte() -> None:
    data = build_forward(RAW, _info(), mode="attach", sender="mailroom@polder.example", now=NOW)
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Message-ID"] == _info().outgoing_id
    assert msg["To"] == "schade@polder.example"
    assert msg["Reply-To"] == "Jan Jansen <jan@example.nl>"
    assert msg["Subject"] == "Fwd: Waterschade keuken é"
    assert msg["X-Mailroom-Team"] == "schade"
    assert msg["X-Mailroom-Confidence"] == "0.9731"
    assert msg["X-Mailroom-Model-Version"] == "v0003"
    assert msg["X-Mailroom-Decided-By"] == "model"
    assert msg["X-Mailroom-Original-Message-ID"] == "<orig-1@example.nl>"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/rfc822"]
    assert RAW in data  # the attachment is the original, unchanged
    attached = parts[1].get_content()
    assert attached["Message-ID"] == "<orig-1@example.nl>"
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF throughout


def test_resend_mode_puts_resent_headers_on_the_original() -> None:
    data = build_forward(RAW, _info(), mode="resend", sender="mailroom@polder.example", now=NOW)
    assert data.endswith(RAW)
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Resent-Message-ID"] == _info().outgoing_id
    assert msg["Resent-To"] == "schade@polder.example"
    assert msg["Message-ID"] == "<orig-1@example.nl>"
    assert msg["X-Mailroom-Decided-By"] == "model"


def test_the_original_message_id_gets_its_brackets_back() -> None:
    data = build_forward(
        RAW, _info(original_message_id="orig-1@example.nl"), mode="attach", sender="m", now=NOW
    )
    assert b"X-Mailroom-Original-Message-ID: <orig-1@example.nl>\r\n" in data


def test_mail_content_cannot_add_headers() -> None:
    evil = _info(original_subject="hi\r\nBcc: everyone@example.com", confidence=None)
    data = build_forward(RAW, evil, mode="attach", sender="m@x", now=NOW)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head
    assert b"X-Mailroom-Confidence: -" in head


def test_bare_lf_originals_are_sent_with_crlf() -> None:
    data = build_forward(RAW.replace(b"\r\n", b"\n"), _info(), mode="attach", sender="m@x", now=NOW)
    assert RAW in data


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (smtplib.SMTPResponseException(451, b"4.3.0 try later"), True),
        (smtplib.SMTPResponseException(550, b"5.1.1 no such user"), False),
        (smtplib.SMTPDataError(452, b"full"), True),
        (smtplib.SMTPDataError(554, b"rejected"), False),
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"no")}), False),
        (smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy")}), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError("timed out"), True),
    ],
)
def test_smtp_errors_are_translated(exc: BaseException, transient: bool) -> None:
    error = translate_smtp_error(exc, "SMTP server 127.0.0.1:25")
    assert isinstance(error, SmtpError)
    assert error.transient is transient
    assert "127.0.0.1:25" in str(error)


class FakeSmtp:
    """Stands in for smtplib.SMTP: answers sendmail with ``answer`` (an exception or None)."""

    def __init__(self, answer: BaseException | None = None) -> None:
        self.answer = answer
        self.sent: list[tuple[str, list[str], bytes, list[str]]] = []
        self.closed = False

    def ehlo_or_helo_if_needed(self) -> None:
        pass

    def has_extn(self, name: str) -> bool:
        return name == "8bitmime"

    def sendmail(
        self, sender: str, rcpts: list[str], data: bytes, mail_options: Any = ()
    ) -> dict[str, Any]:
        if self.answer is not None:
            raise self.answer
        self.sent.append((sender, rcpts, data, list(mail_options)))
        return {}

    def quit(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


def test_smtp_sender_keeps_its_connection_and_translates_refusals() -> None:
    fakes: list[FakeSmtp] = []

    def connect() -> smtplib.SMTP:
        fakes.append(FakeSmtp())
        return fakes[-1]  # type: ignore[return-value]

    sender = SmtpSender("127.0.0.1", 2525, connect=connect)
    sender.send("m@x", ["schade@x"], b"one\r\n")
    sender.send("m@x", ["schade@x"], b"two\r\n")
    assert len(fakes) == 1 and not fakes[0].closed
    assert [s[2] for s in fakes[0].sent] == [b"one\r\n", b"two\r\n"]
    assert fakes[0].sent[0][3] == ["BODY=8BITMIME"]

    # The server closed the kept connection while it was idle: one new connection.
    fakes[0].answer = smtplib.SMTPServerDisconnected("gone")
    sender.send("m@x", ["schade@x"], b"three\r\n")
    assert len(fakes) == 2 and fakes[0].closed and fakes[1].sent[0][2] == b"three\r\n"

    # A 451 is the server's answer, not a dead link: no second try here, the task retries.
    fakes[1].answer = smtplib.SMTPResponseException(451, b"later")
    with pytest.raises(SmtpError) as info:
        sender.send("m@x", ["schade@x"], b"four\r\n")
    assert info.value.transient and len(fakes) == 2 and fakes[1].closed

    def refuse() -> smtplib.SMTP:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(SmtpError, match=r"cannot talk to SMTP server 127\.0\.0\.1:2525") as info:
        SmtpSender("127.0.0.1", 2525, connect=refuse).send("m@x", ["a@x"], b"x")
    assert info.value.transient


def test_maildir_delivery_is_written_once(tmp_path: Path) -> None:
    first = deliver_to_maildir(tmp_path, "schade", "<id-1@x>", b"one")
    again = deliver_to_maildir(tmp_path, "schade", "<id-1@x>", b"one")
    assert first == again and first.read_bytes() == b"one"
    assert list((tmp_path / "schade" / "tmp").iterdir()) == []
    with pytest.raises(ValueError):
        deliver_to_maildir(tmp_path, "../etc", "<id@x>", b"x")


def test_maildir_original_is_moved_once(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "m1").write_bytes(b"x")
    assert move_maildir_file(tmp_path, "m1", "Mailroom.Done")
    assert (tmp_path / ".Mailroom.Done" / "cur" / "m1").exists()
    assert move_maildir_file(tmp_path, "m1", "Mailroom.Done")  # already there: still done
    assert not move_maildir_file(tmp_path, "gone", "Mailroom.Done")


def test_a_rules_priority_and_the_reasons_travel_with_the_forward() -> None:
    info = _info(
        explanation=("rule 'Schadeformulier' matched", "priority high (rule 'Spoed')"),
        priority="high",
    )
    data = build_forward(RAW, info, mode="attach", sender="mailroom@polder.example", now=NOW)
    forward = email.message_from_bytes(data, policy=policy.default)
    assert (forward["Importance"], forward["X-Priority"]) == ("high", "1 (Highest)")
    cover = forward.get_body(("plain",))
    assert cover is not None
    text = cover.get_content()
    assert "Why: rule 'Schadeformulier' matched.\r\n" in text and "Priority: high." in text
    plain = build_forward(RAW, _info(), mode="attach", sender="m@polder.example", now=NOW)
    assert b"Importance" not in plain.split(b"\r\n\r\n")[0] and b"Why:" not in plain
