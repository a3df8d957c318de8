"""Machine mail through the real worker stack (Dovecot, workers as processes, SMTP): an
auto-reply, a bounce and our own forward coming back are never forwarded to a team; the
bounce puts the mail it concerns back in review (promise 8)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from labeling.store.tables import AuditLog, Delivery, Message, ReviewItem
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.mail_factory import auto_reply_mail, bounce_mail
from mailroom.testbed.worker_stack import ADDRESS, VOCAB, Stack, team_mail


@pytest.mark.slow
def test_auto_replies_bounces_and_loops_never_reach_a_team(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot, inbox_addresses="info@polder.example")
    stack.start_worker("w1", beat=True)
    expected: dict[str, str] = {}
    for team in VOCAB:
        message_id, raw = team_mail(team, 1)
        stack.append(raw)
        expected[message_id] = team
    stack.wait_until(lambda: stack.states().get("done") == 3, 90, "3 customer mails done")
    forwards = stack.smtp.wait_for(3, timeout=10)
    schade_id = next(mid for mid, team in expected.items() if team == "schade")
    schade_forward = next(a for a in forwards if a.team == "schade")

    machine = {
        # The customer's out-of-office answering the team's reply: in the customer's thread.
        "<ooo-1@klant.example>": auto_reply_mail(
            message_id="ooo-1@klant.example",
            in_reply_to=schade_id.strip("<>"),
            sender="Klant 1 <klant1@klant.example>",
            to="info@polder.example",
        ),
        # A team's own out-of-office, Exchange style, answering our forward.
        "<ooo-2@teams.polder.example>": auto_reply_mail(
            message_id="ooo-2@teams.polder.example",
            sender=ADDRESS["klachten"],
            to="mailroom@polder.example",
            subject="Automatisch antwoord: Fwd: klacht",
            headers=(("X-Auto-Response-Suppress", "All"),),
        ),
        # The schade team's server refuses our forward.
        "<dsn-1@mx.polder.example>": bounce_mail(
            message_id="dsn-1@mx.polder.example",
            returned=schade_forward.data,
            recipient=ADDRESS["schade"],
        ),
        # Our own forward, delivered back into the watched inbox.
        schade_forward.message_id: schade_forward.data,
    }
    for raw in machine.values():
        stack.append(raw)

    def schade_in_review() -> bool:
        with stack.sessions() as session:
            state = session.scalar(
                select(Message.route_state).where(Message.message_id == schade_id.strip("<>"))
            )
        return state == "review"

    stack.wait_until(lambda: stack.states().get("done", 0) >= 2 + 4, 90, "machine mail filed")
    stack.wait_until(schade_in_review, 30, "the bounced mail back in review")
    time.sleep(2)  # a forward that should not happen would be sent by now
    assert len(stack.smtp.accepted) == 3, [a.headers for a in stack.smtp.accepted]

    with stack.sessions() as session:
        kinds = {
            f"<{row.message_id}>": row.kind
            for row in session.scalars(select(Message).where(Message.origin == "live"))
        }
        original = session.scalars(
            select(Message).where(Message.message_id == schade_id.strip("<>"))
        ).one()
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == original.id))
        delivery = session.scalar(select(Delivery).where(Delivery.message_id == original.id))
        filed = list(session.scalars(select(AuditLog.details).where(AuditLog.action == "filed")))
        ooo = session.scalars(
            select(Message).where(Message.message_id == "ooo-1@klant.example")
        ).one()
    assert kinds["<ooo-1@klant.example>"] == "auto_reply"
    assert kinds["<ooo-2@teams.polder.example>"] == "auto_reply"
    assert kinds["<dsn-1@mx.polder.example>"] == "bounce"
    assert all(kinds[mid] == "customer" for mid in expected)
    assert len(filed) == 4
    assert ooo.thread_id == original.thread_id  # filed with its thread
    assert item is not None and item.status == "open"
    assert item.reason.startswith(f"bounced by {ADDRESS['schade']}: 5.1.1")
    assert delivery is not None and delivery.state == "failed"
    # Filed mail is marked handled in the mailbox, like routed mail.
    flags = stack.imap_flags()
    assert b"$MailroomRouted" in flags["<ooo-1@klant.example>"]
    assert b"$MailroomRouted" in flags["<dsn-1@mx.polder.example>"]
