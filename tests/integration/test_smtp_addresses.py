"""Against the real SMTP server (aiosmtpd on loopback): one mail's failure never poisons the
kept connection for the next, addresses arrive as one recipient each, SMTPUTF8 is used where
an address needs it. Team addresses are checked when saved (both databases)."""

from __future__ import annotations

import email
import smtplib
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from labeling.errors import ConfigError, SmtpError
from labeling.store.tables import Team
from labeling.store.teams import TeamDefinition, sync_teams
from mailroom.testbed.smtp_server import SmtpServer
from worker.outgoing import ForwardInfo, SmtpSender, build_forward


class RcptFailsOnce(smtplib.SMTP):
    """smtplib as it is, except that the next RCPT raises what smtplib raises for an address
    it cannot encode: after the server accepted MAIL FROM, mid-transaction."""

    fail_next = False

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if RcptFailsOnce.fail_next:
            RcptFailsOnce.fail_next = False
            raise UnicodeEncodeError("ascii", recip, 0, 1, "ordinal not in range(128)")
        return super().rcpt(recip, options)


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    return smtp_server


def _mail(n: int) -> bytes:
    return f"From: m@polder.example\r\nSubject: {n}\r\nMessage-ID: <{n}@x>\r\n\r\nx\r\n".encode()


def test_an_exception_mid_transaction_does_not_make_the_next_mail_pay(smtp: SmtpServer) -> None:
    sender = SmtpSender(
        smtp.host, smtp.port, connect=lambda: RcptFailsOnce(smtp.host, smtp.port, timeout=10)
    )
    sender.send("m@polder.example", ["schade@polder.example"], _mail(1))
    RcptFailsOnce.fail_next = True
    with pytest.raises(SmtpError) as info:
        sender.send("m@polder.example", ["schade@polder.example"], _mail(2))
    assert info.value.transient is False
    # Before: the kept connection was left after MAIL FROM, and this one got
    # "503 nested MAIL command" and was quarantined.
    sender.send("m@polder.example", ["klachten@polder.example"], _mail(3))
    sender.close()
    accepted = smtp.wait_for(2, timeout=10)
    assert [a.rcpts for a in accepted] == [
        ("schade@polder.example",),
        ("klachten@polder.example",),
    ]


def test_a_team_address_that_needs_smtputf8_is_delivered_with_it(smtp: SmtpServer) -> None:
    info = ForwardInfo(
        team_slug="schade",
        to_address="schüde@polder.example",
        outgoing_id="<mailroom.u@mailroom.local>",
        decided_by="model",
        original_sender_name="Jansen, Piet",
        original_sender_email="piet@example.nl",
    )
    data = build_forward(
        _mail(1), info, mode="attach", sender="m@polder.example", now=datetime.now(UTC)
    )
    sender = SmtpSender(smtp.host, smtp.port)
    sender.send("m@polder.example", [info.to_address], data)
    sender.close()
    (accepted,) = smtp.wait_for(1, timeout=10)
    assert accepted.rcpts == ("schüde@polder.example",)
    msg = email.message_from_string(accepted.data.decode("utf-8"), policy=policy.SMTPUTF8)
    assert [a.addr_spec for a in msg["To"].addresses] == ["schüde@polder.example"]
    assert [(a.display_name, a.addr_spec) for a in msg["Reply-To"].addresses] == [
        ("Jansen, Piet", "piet@example.nl")
    ]


@pytest.mark.parametrize(
    "name", ["Jansen, Piet", "Jan Bcc: evil@attacker.example", "Jörg <evil@attacker.example>"]
)
def test_the_server_receives_one_reply_to_address(smtp: SmtpServer, name: str) -> None:
    info = ForwardInfo(
        team_slug="schade",
        to_address="schade@polder.example",
        outgoing_id="<mailroom.r@mailroom.local>",
        decided_by="model",
        original_sender_name=name,
        original_sender_email="piet@example.nl",
    )
    data = build_forward(_mail(1), info, mode="attach", sender="m@x.nl", now=datetime.now(UTC))
    sender = SmtpSender(smtp.host, smtp.port)
    sender.send("m@x.nl", ["schade@polder.example"], data)
    sender.close()
    (accepted,) = smtp.wait_for(1, timeout=10)
    assert accepted.rcpts == ("schade@polder.example",)
    msg = email.message_from_bytes(accepted.data, policy=policy.default)
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["piet@example.nl"]


def test_team_addresses_are_checked_and_stored_in_idna_form(session: Session) -> None:
    with pytest.raises(ConfigError, match="line break"):
        sync_teams(
            session,
            [TeamDefinition("schade", "Schade", forward_address="s@x.nl\r\nBcc: e@evil.example")],
        )
    with pytest.raises(ConfigError, match="one plain address"):
        sync_teams(
            session, [TeamDefinition("schade", "Schade", forward_address="a@x.nl, b@evil.example")]
        )
    sync_teams(session, [TeamDefinition("schade", "Schade", forward_address="S@Bücher.de")])
    session.commit()
    stored = session.scalar(select(Team.forward_address).where(Team.slug == "schade"))
    assert stored == "S@xn--bcher-kva.de"


def test_the_teams_file_may_not_name_mailroom_s_own_address(session: Session) -> None:
    own = frozenset({"info@polder.example", "mailroom@polder.example"})
    with pytest.raises(ConfigError, match="Mailroom's own address"):
        sync_teams(
            session,
            [TeamDefinition("schade", "Schade", forward_address="INFO@polder.example")],
            reserved=own,
        )
    sync_teams(
        session,
        [TeamDefinition("schade", "Schade", forward_address="s@polder.example")],
        reserved=own,
    )
