"""The worker end to end against real servers: a private Dovecot, a recording aiosmtpd
server, Redis as broker, PostgreSQL as database, and workers as separate processes
(``celery -A worker worker``) with a small trained TF-IDF model.

Each mail reaches the right team exactly once, unsure mail goes to review (flagged in
IMAP, nothing sent), a reply follows its thread, and a UIDVALIDITY change does not route
old mail again. The harness (:class:`~mailroom.testbed.worker_stack.Stack`, the
``make_stack`` fixture) lives in mailroom/testbed/worker_stack.py and tests/support.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from labeling.store.tables import AuditLog, Delivery, Message, ReviewItem, RoutingDecision, Team
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.worker_stack import VOCAB, Stack, team_mail, unsure_mail


@pytest.mark.slow
def test_each_mail_reaches_its_team_once_unsure_mail_waits_and_replies_follow(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    stack.start_worker("w1", beat=True)
    stack.start_worker("w2")
    expected: dict[str, str] = {}
    for n in range(4):
        for team in VOCAB:
            message_id, raw = team_mail(team, n)
            stack.append(raw)
            expected[message_id] = team
    unsure_id, raw = unsure_mail(1)
    stack.append(raw)
    stack.wait_until(lambda: stack.settled(13), 90, "13 mails routed")
    stack.smtp.wait_for(12, timeout=10)

    # A reply to a schade mail that talks like a complaint: the model is sure it is a
    # complaint, so it goes to klachten, and the decision says the topic changed.
    parent = next(mid for mid, team in expected.items() if team == "schade")
    reply_id, raw = team_mail("schade", 99, tag="reply", in_reply_to=parent, words_of="klachten")
    stack.append(raw)
    expected[reply_id] = "klachten"
    stack.wait_until(lambda: stack.settled(14), 60, "the reply routed")

    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)
    assert len(stack.smtp.accepted) == 13  # not one copy more: nothing was resent here
    with stack.sessions() as session:
        reply = session.scalar(select(Message).where(Message.message_id == reply_id.strip("<>")))
        assert reply is not None
        decision = session.scalar(
            select(RoutingDecision).where(RoutingDecision.message_id == reply.id)
        )
        assert decision is not None
        assert (decision.decided_by, decision.reason) == ("model", "confident")
        assert decision.details.get("topic_changed") is True
        assert decision.details.get("thread_team") == "schade"
        unsure = session.scalar(select(Message).where(Message.message_id == unsure_id.strip("<>")))
        assert unsure is not None and unsure.route_state == "review"
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == unsure.id))
        assert item is not None and item.status == "open" and item.reason == "below-threshold"
        audited = session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "forward")
        )
        assert audited == 13
    # Marked in IMAP: routed mail flagged and seen, the unsure one flagged for review.
    stack.wait_until(lambda: stack.states().get("done") == 13, 20, "13 mails marked done")
    flags = stack.imap_flags()
    assert all({b"$MailroomRouted", b"\\Seen"} <= flags[mid] for mid in expected)
    assert b"$MailroomReview" in flags[unsure_id] and b"\\Seen" not in flags[unsure_id]
    assert not any(a.original_id == unsure_id for a in stack.smtp.accepted)


@pytest.mark.slow
def test_a_uidvalidity_change_does_not_route_old_mail_again(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    stack.start_worker("w1", beat=True)
    expected: dict[str, str] = {}
    for n, team in enumerate(["schade", "klachten", "opzeggingen", "schade"]):
        message_id, raw = team_mail(team, n, tag="old")
        stack.append(raw)
        expected[message_id] = team
    stack.wait_until(lambda: stack.states().get("done") == 4, 60, "4 mails done")

    # The server renumbers INBOX and forgets our flags: only the store can tell the mails
    # were routed (by Message-ID and content hash).
    assert stack.dovecot is not None
    stack.dovecot.change_uidvalidity(stack.user, "INBOX", renumber=True)
    with stack.dovecot.client(stack.user) as client:
        client.select_folder("INBOX")
        client.remove_flags(client.search("ALL"), [b"$MailroomRouted", b"\\Seen"])
    message_id, raw = team_mail("opzeggingen", 50, tag="new")
    stack.append(raw)
    expected[message_id] = "opzeggingen"
    stack.wait_until(lambda: stack.states().get("done") == 5, 60, "the new mail done")
    time.sleep(3)  # room for a wrong second routing to show up

    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)
    assert len(stack.smtp.accepted) == 5
    assert stack.count(Message) == 5 and stack.count(Delivery) == 5
    with stack.sessions() as session:
        uidvalidities = set(session.scalars(select(Message.uidvalidity)))
    assert len(uidvalidities) == 1  # every row now points at the renumbered folder


@pytest.mark.slow
def test_imap_move_puts_each_mail_in_its_team_folder_and_unsure_mail_in_review(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot, outgoing="imap-move", review_folder="Review")
    with stack.sessions() as session:
        for row in session.scalars(select(Team)):
            row.imap_folder = f"Teams.{row.slug}"
        session.commit()
    stack.start_worker("w1", beat=True)
    expected: dict[str, str] = {}
    for n, team in enumerate(VOCAB):
        message_id, raw = team_mail(team, n, tag="move")
        stack.append(raw)
        expected[message_id] = team
    unsure_id, raw = unsure_mail(3)
    stack.append(raw)
    stack.wait_until(lambda: stack.settled(4), 60, "4 mails routed")
    stack.wait_until(
        lambda: stack.count(AuditLog, action="flag-review") == 1, 20, "the unsure mail flagged"
    )
    assert stack.dovecot is not None
    moved: dict[str, tuple[str, set[bytes]]] = {}
    for folder in [f"Teams.{team}" for team in VOCAB] + ["Review", "INBOX"]:
        with stack.dovecot.client(stack.user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        for item in fetched.values():
            header = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
            moved[header] = (folder, set(item[b"FLAGS"]))
    for message_id, team in expected.items():
        assert moved[message_id][0] == f"Teams.{team}"
        assert b"$MailroomRouted" in moved[message_id][1]
    assert moved[unsure_id][0] == "Review"
    assert moved[unsure_id][1] - {b"\\Recent"} == {b"$MailroomReview"}
    assert stack.smtp.accepted == []
    with stack.sessions() as session:
        deliveries = session.execute(select(Delivery.method, Delivery.state)).all()
    assert sorted(deliveries) == [("imap-move", "sent")] * 3
    print(f"sent 3, forwarded {len(deliveries)}, lost 0, duplicated 0")
