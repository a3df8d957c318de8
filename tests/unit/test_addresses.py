"""Addresses built and checked with the email package: no display name can add, hide or
replace a recipient; team addresses are one addr-spec; a send that fails in any way leaves
no connection behind mid-transaction (fake SMTP here; the real server in
tests/integration/test_smtp_addresses.py)."""

from __future__ import annotations

import email
import smtplib
from datetime import UTC, datetime
from email import policy
from email.headerregistry import AddressHeader
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.errors import ConfigError, SmtpError
from labeling.mail.addresses import (
    MAX_DISPLAY_NAME_CHARS,
    display_address,
    forward_address,
    needs_smtputf8,
)
from labeling.store.teams import load_teams_file
from worker.outgoing import ForwardInfo, SmtpSender, build_forward

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ORIGINAL = b"From: x@example.nl\r\nSubject: s\r\nMessage-ID: <o@example.nl>\r\n\r\nTekst.\r\n"

HOSTILE_NAMES = [
    "Jansen, Piet",
    "Jan Bcc: evil@attacker.example",
    "evil@attacker.example",
    "Jan <evil@attacker.example>",
    "Jan\r\nBcc: evil@attacker.example",
    "=?utf-8?q?Jan_Bcc=3A_evil=40attacker=2Eexample?=",
    "=?utf-8?b?SmFuIDxldmlsQGF0dGFja2VyLmV4YW1wbGU+?=",
    "Jörg Müller",
    "Jörg, Müller <evil@attacker.example>",
    'Jan "de Man" \\ Jansen',
    "(comment) Jan",
    "Groep: a@b.nl, c@d.nl;",
    "x" * 5000,
    "é" * 5000,
]


def _one_address(value: str) -> tuple[str, str]:
    """The single address a header value holds, read by the modern and the older parser."""
    header = policy.default.header_factory("Reply-To", value)
    assert isinstance(header, AddressHeader)
    assert len(header.addresses) == 1, value
    parsed = header.addresses[0]
    older = getaddresses([value])
    assert [addr for _name, addr in older] == [parsed.addr_spec], value
    return parsed.display_name, parsed.addr_spec


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_any_display_name_gives_one_reply_to_address(name: str) -> None:
    value = display_address(name, "piet@example.nl")
    assert value is not None and value.isascii() and "\n" not in value
    display, addr = _one_address(value)
    assert addr == "piet@example.nl"
    # (Python's parser keeps the space between the encoded words of a long name.)
    expected = " ".join(name.split())[:MAX_DISPLAY_NAME_CHARS]
    assert "".join(display.split()) == "".join(expected.split())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_no_display_name_can_add_or_change_an_address(name: str) -> None:
    value = display_address(name, "piet@example.nl")
    assert value is not None
    assert _one_address(value)[1] == "piet@example.nl"


def test_a_non_ascii_domain_is_written_in_idna_and_a_non_ascii_local_part_not_at_all() -> None:
    value = display_address("Jörg", "jorg@bücher.de")
    assert value is not None
    assert _one_address(value) == ("Jörg", "jorg@xn--bcher-kva.de")
    assert display_address("Jörg", "jörg@example.de") is None
    assert display_address("", "no-at-sign") is None


def _info(name: str, address: str = "jan@example.nl", subject: str = "Schade") -> ForwardInfo:
    return ForwardInfo(
        team_slug="schade",
        to_address="schade@polder.example",
        outgoing_id="<mailroom.1@mailroom.local>",
        decided_by="model",
        original_subject=subject,
        original_sender_name=name,
        original_sender_email=address,
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_the_forward_replies_to_the_sender_only(name: str) -> None:
    data = build_forward(ORIGINAL, _info(name), mode="attach", sender="m@polder.example", now=NOW)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    msg = email.message_from_bytes(data, policy=policy.default)
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["jan@example.nl"]
    assert [a.addr_spec for a in msg["To"].addresses] == ["schade@polder.example"]
    assert msg["Bcc"] is None and msg["Cc"] is None


def test_a_sender_without_an_ascii_address_gets_no_reply_to_but_is_named() -> None:
    data = build_forward(
        ORIGINAL, _info("Jörg", "jörg@example.de"), mode="attach", sender="m@x.nl", now=NOW
    )
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Reply-To"] is None
    assert "jörg@example.de" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_long_headers_are_folded_within_998_characters() -> None:
    subject = "Schade " * 700 + "x" * 3000
    data = build_forward(
        ORIGINAL, _info("Jan", subject=subject), mode="attach", sender="m@x.nl", now=NOW
    )
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Subject"] == "Fwd: " + subject.strip()


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("schade@polder.example", "schade@polder.example"),
        ("  Schade@Polder.Example ", "Schade@polder.example"),
        ("schade@bücher.de", "schade@xn--bcher-kva.de"),
        ("jörg@example.de", "jörg@example.de"),
        ("a.b+team@sub.example.nl", "a.b+team@sub.example.nl"),
    ],
)
def test_team_addresses_are_stored_as_one_addr_spec(written: str, stored: str) -> None:
    assert forward_address(written) == stored
    assert needs_smtputf8(stored) == (not stored.isascii())


@pytest.mark.parametrize(
    "written",
    [
        "",
        "schade@polder.example\r\nBcc: evil@attacker.example",
        "schade@polder.example\nx",
        "Schade <schade@polder.example>",
        "schade@polder.example, evil@attacker.example",
        "schade@polder.example;evil@attacker.example",
        "scha de@polder.example",
        "schade",
        "@polder.example",
        "schade@",
        "schade@localhost",
        "a@b@polder.example",
        ".schade@polder.example",
        "scha..de@polder.example",
        '"schade"@polder.example',
        "schade@polder..example",
        "schade@-polder.example",
        "x" * 65 + "@polder.example",
    ],
)
def test_bad_team_addresses_are_refused_with_a_reason(written: str) -> None:
    with pytest.raises(ValueError) as info:
        forward_address(written)
    assert str(info.value)


def test_the_teams_file_refuses_a_bad_address_and_stores_idna(tmp_path: Path) -> None:
    path = tmp_path / "teams.toml"
    template = (
        '[[team]]\nslug = "schade"\nname = "Schade"\ndescription = "d"\n'
        'forward_to = "{address}"\nfolder = "Schade"\nhotkey = 1\n'
    )
    path.write_text(template.format(address="schade@bücher.de"), encoding="utf-8")
    assert load_teams_file(path)[0].forward_address == "schade@xn--bcher-kva.de"
    path.write_text(
        template.format(address="schade@x.nl\\r\\nBcc: evil@attacker.example"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="forward_to: an address cannot contain a line break"):
        load_teams_file(path)


class TransactionalFakeSmtp:
    """Keeps SMTP's transaction state as a server does: a MAIL while one is open gets 503.
    ``fail_rcpt`` raises that exception once, after MAIL FROM was accepted (as smtplib does
    when a recipient cannot be encoded)."""

    def __init__(self, *, smtputf8: bool = False) -> None:
        self.smtputf8 = smtputf8
        self.in_transaction = False
        self.fail_rcpt: BaseException | None = None
        self.sent: list[tuple[str, list[str], list[str]]] = []
        self.closed = False

    def ehlo_or_helo_if_needed(self) -> None:
        pass

    def has_extn(self, name: str) -> bool:
        return name == "8bitmime" or (name == "smtputf8" and self.smtputf8)

    def sendmail(
        self, sender: str, rcpts: list[str], data: bytes, mail_options: Any = ()
    ) -> dict[str, Any]:
        assert not self.closed
        if "SMTPUTF8" in mail_options and not self.smtputf8:
            raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
        if self.in_transaction:
            raise smtplib.SMTPSenderRefused(503, b"5.5.1 Error: nested MAIL command", sender)
        self.in_transaction = True
        if self.fail_rcpt is not None:
            exc, self.fail_rcpt = self.fail_rcpt, None
            raise exc
        self.in_transaction = False
        self.sent.append((sender, rcpts, list(mail_options)))
        return {}

    def quit(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("failure", "transient"),
    [
        (UnicodeEncodeError("ascii", "schüde@x.nl", 4, 5, "ordinal not in range(128)"), False),
        (ValueError("odd"), True),
        (RuntimeError("a bug"), True),
        (smtplib.SMTPResponseException(554, b"5.7.1 no"), False),
    ],
)
def test_a_failed_send_resets_the_connection_so_the_next_mail_is_not_its_victim(
    failure: BaseException, transient: bool
) -> None:
    fakes: list[TransactionalFakeSmtp] = []

    def connect() -> smtplib.SMTP:
        fakes.append(TransactionalFakeSmtp())
        return fakes[-1]  # type: ignore[return-value]

    sender = SmtpSender("127.0.0.1", 2525, connect=connect)
    sender.send("m@x.nl", ["schade@x.nl"], b"first\r\n")
    fakes[0].fail_rcpt = failure
    with pytest.raises(SmtpError) as info:
        sender.send("m@x.nl", ["schade@x.nl"], b"bad\r\n")
    assert info.value.transient is transient
    assert fakes[0].closed  # never used again
    sender.send("m@x.nl", ["klachten@x.nl"], b"innocent\r\n")
    assert fakes[-1].sent[-1][1] == ["klachten@x.nl"]


def test_a_non_ascii_local_part_is_sent_with_smtputf8_or_refused_for_good() -> None:
    with_utf8 = TransactionalFakeSmtp(smtputf8=True)
    sender = SmtpSender("h", 25, connect=lambda: with_utf8)  # type: ignore[arg-type,return-value]
    sender.send("m@x.nl", ["jörg@x.nl"], b"x\r\n")
    assert with_utf8.sent[0][2] == ["BODY=8BITMIME", "SMTPUTF8"]
    sender.send("m@x.nl", ["jan@x.nl"], b"x\r\n")
    assert with_utf8.sent[1][2] == ["BODY=8BITMIME"]

    without = TransactionalFakeSmtp(smtputf8=False)
    sender = SmtpSender("h", 25, connect=lambda: without)  # type: ignore[arg-type,return-value]
    with pytest.raises(SmtpError, match="SMTPUTF8") as info:
        sender.send("m@x.nl", ["jörg@x.nl"], b"x\r\n")
    assert info.value.transient is False
