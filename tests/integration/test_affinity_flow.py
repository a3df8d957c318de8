"""Customer affinity end to end against real servers (Dovecot, aiosmtpd, Redis, PostgreSQL,
a worker process with a small trained model): a customer's mail the model cannot place
follows their recent case to its team, and the forward's cover note says so."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from labeling.store.tables import Message, RoutingDecision
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.worker_stack import ADDRESS, Stack, team_mail, unsure_mail


@pytest.mark.slow
def test_a_customers_unsure_mail_follows_their_case_through_the_worker(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    stack.start_worker("w1")
    case_id, raw = team_mail("opzeggingen", 7)
    stack.append(raw)
    stack.wait_until(lambda: stack.settled(1), 90, "the customer's first mail routed")
    # The same customer writes words the model cannot place; another customer does too.
    again_id, raw = unsure_mail(2)
    raw = raw.replace(b"From: iemand@klant.example", b"From: Klant 7 <klant7@klant.example>")
    raw = raw.replace(b"unsure-2@", b"again-7@")
    again_id = again_id.replace("unsure-2@", "again-7@")
    stack.append(raw)
    stranger_id, raw = unsure_mail(3)
    stack.append(raw)
    stack.wait_until(lambda: stack.settled(3), 90, "both later mails routed")
    stack.smtp.wait_for(2, timeout=10)
    forwards = {accepted.original_id: accepted for accepted in stack.smtp.accepted}
    assert forwards[again_id].rcpts == (ADDRESS["opzeggingen"],)
    assert stranger_id not in forwards  # no case: it waits for a person
    with stack.sessions() as session:
        case = session.scalar(select(Message).where(Message.message_id == case_id.strip("<>")))
        again = session.scalar(select(Message).where(Message.message_id == again_id.strip("<>")))
        stranger = session.scalar(
            select(Message).where(Message.message_id == stranger_id.strip("<>"))
        )
        assert case is not None and again is not None and stranger is not None
        decision = session.scalar(
            select(RoutingDecision).where(
                RoutingDecision.message_id == again.id, RoutingDecision.is_current
            )
        )
        assert decision is not None
        assert (decision.decided_by, decision.reason) == ("affinity", "affinity")
        assert decision.details["affinity_case"] == case.id
        assert stranger.route_state == "review"
    assert f"same team as case #{case.id} (today)".encode() in forwards[again_id].data
