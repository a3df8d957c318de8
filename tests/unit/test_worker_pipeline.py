"""The worker's state machine on SQLite with fake model and SMTP (the seams): each step
happens once however often a task runs, failures release claims, nothing is dropped."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from classifier.scoring import Prediction
from labeling.errors import SmtpError
from labeling.live import lifecycle
from labeling.live.lifecycle import RouteDecision
from labeling.mail.values import RawMail
from labeling.rules.flags import LearnedFlag
from labeling.settings import Settings, load_settings
from labeling.store.db import make_engine, make_session_factory, upgrade
from labeling.store.tables import (
    AuditLog,
    Delivery,
    Message,
    ReviewItem,
    RoutingDecision,
    Team,
    User,
    utcnow,
)
from mailroom.testbed.mail_factory import auto_reply_mail, bounce_mail
from worker import leases
from worker.driver import (
    Services,
    advance,
    quarantine,
    stale_messages,
)
from worker.watchers import configured_mailboxes, record, register_mailboxes


@dataclass
class FakePredictor:
    """Predicts ``team`` with ``confidence`` for every text; auto above 0.8."""

    team: str = "schade"
    confidence: float = 0.95
    has_model: bool = True
    calls: int = 0

    def active(self) -> bool:
        return self.has_model

    def warm_up(self) -> None:
        pass

    def predict(
        self,
        texts: Sequence[str],
        known_teams: Collection[str],
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        self.calls += 1
        auto = self.confidence >= 0.8 and self.team in known_teams
        reason = "confident" if auto else "below-threshold"
        if self.team not in known_teams:
            reason = "unknown-team"
        return [
            Prediction(
                team=self.team,
                confidence=self.confidence,
                top=((self.team, self.confidence),),
                auto=auto,
                reason=reason,  # type: ignore[arg-type]
                model_version="v0001",
                margin=self.confidence,
            )
            for _ in texts
        ]


@dataclass
class FakeSmtp:
    """Records what was sent; fails while ``failures`` lists errors."""

    sent: list[tuple[list[str], bytes]] = field(default_factory=list)
    failures: list[SmtpError] = field(default_factory=list)

    def send(self, envelope_from: str, recipients: list[str], data: bytes) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((recipients, data))


@dataclass
class Clock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def worker_settings(tmp_path: Path) -> Settings:
    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        outgoing="smtp",
        claim_timeout=30,
        sweep_interval=10,
    )
    upgrade(settings)
    return settings


@pytest.fixture
def sessions(worker_settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(worker_settings)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class World:
    settings: Settings
    sessions: sessionmaker[Session]
    predictor: FakePredictor
    smtp: FakeSmtp
    clock: Clock
    services: Services
    mailbox_id: int
    inbox: Path
    counter: int = 0
    files: int = 0

    def mail(self, subject: str = "Waterschade", **headers: str) -> int:
        self.counter += 1
        msg = EmailMessage()
        msg["From"] = "klant@example.nl"
        msg["To"] = "info@polder.example"
        msg["Subject"] = subject
        msg["Message-ID"] = headers.pop("message_id", f"<m{self.counter}@example.nl>")
        for name, value in headers.items():
            msg[name.replace("_", "-")] = value
        msg.set_content(f"tekst {self.counter}")
        return self.deliver(msg.as_bytes())

    def deliver(self, raw: bytes) -> int:
        """Put ``raw`` in the Maildir inbox and record its arrival; its row id."""
        self.files += 1
        name = f"{self.files}.mail"
        (self.inbox / "new" / name).write_bytes(raw)
        arrival = record(self.sessions, self.mailbox_id, RawMail(raw, "", name))
        result, queue = arrival.result, arrival.queue
        assert queue
        return result.message_id

    def state(self, message_id: int) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(Message.route_state).where(Message.id == message_id))

    def count(self, model: Any, **where: Any) -> int:
        with self.sessions() as session:
            query = select(func.count()).select_from(model).filter_by(**where)
            return int(session.scalar(query) or 0)


@pytest.fixture
def world(worker_settings: Settings, sessions: sessionmaker[Session]) -> World:
    with sessions() as session:
        session.add_all(
            [
                Team(slug="schade", name="Schade", forward_address="schade@polder.example"),
                Team(slug="klachten", name="Klachten", forward_address="klachten@polder.example"),
                User(username="rita", password_hash="x", role="reviewer"),
            ]
        )
        session.commit()
    configs = configured_mailboxes(worker_settings)
    mailbox_id = next(iter(register_mailboxes(sessions, configs)))
    inbox = worker_settings.maildir_inbox
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    predictor, smtp, clock = FakePredictor(), FakeSmtp(), Clock()
    services = Services(
        settings=worker_settings,
        sessions=sessions,
        predictor=predictor,
        smtp=smtp,  # type: ignore[arg-type]
        clock=clock,
        sleep=lambda _: None,
    )
    return World(worker_settings, sessions, predictor, smtp, clock, services, mailbox_id, inbox)


def test_a_confident_mail_is_forwarded_once_however_often_the_task_runs(world: World) -> None:
    mid = world.mail()
    assert world.state(mid) == "new"
    for _ in range(3):
        assert advance(world.services, mid).state == "done"
    assert len(world.smtp.sent) == 1
    rcpts, data = world.smtp.sent[0]
    assert rcpts == ["schade@polder.example"] and b"X-Mailroom-Team: schade" in data
    assert world.predictor.calls == 1
    assert world.count(RoutingDecision, message_id=mid, is_current=True) == 1
    assert world.count(Delivery, message_id=mid, state="sent") == 1
    actions = {"route", "forward", "mark-done"}
    with world.sessions() as session:
        logged = set(session.scalars(select(AuditLog.action).where(AuditLog.message_id == mid)))
        decision = session.scalar(select(RoutingDecision).where(RoutingDecision.message_id == mid))
        assert decision is not None
        assert (decision.decided_by, decision.mode, decision.model_version) == (
            "model",
            "auto",
            "v0001",
        )
        actor = session.scalar(select(AuditLog.actor).where(AuditLog.action == "route"))
    assert actions <= logged and actor == "model:v0001"
    # Marked done only after the forward: the original left the inbox for the done folder.
    assert not any((world.inbox / "new").iterdir())
    assert len(list((world.inbox / ".Mailroom.Done" / "cur").iterdir())) == 1


def test_transitions_are_conditional(world: World) -> None:
    mid = world.mail()
    unsure = RouteDecision(mode="review", reason="below-threshold", decided_by="model", team=None)
    with world.sessions() as session:
        assert lifecycle.record_route(session, mid, unsure, utcnow(), outgoing="maildir")
        # A second task that decided the same mail finds it moved on and records nothing.
        assert lifecycle.record_route(session, mid, unsure, utcnow(), outgoing="maildir") is None
        session.commit()
        assert session.scalar(select(func.count()).select_from(RoutingDecision)) == 1
    assert world.state(mid) == "review"


def test_unsure_mail_goes_to_review_and_nothing_is_sent(world: World) -> None:
    world.predictor.confidence = 0.5
    mid = world.mail()
    assert advance(world.services, mid).state == "review"
    assert advance(world.services, mid).state == "review"
    assert world.smtp.sent == []
    assert world.count(ReviewItem, message_id=mid, status="open") == 1
    assert world.count(Delivery) == 0
    # Flagged for review: moved into the review folder of the Maildir inbox.
    assert len(list((world.inbox / ".Mailroom.Review" / "cur").iterdir())) == 1


def test_review_mail_left_unflagged_by_a_dead_worker_is_swept(world: World) -> None:
    world.predictor.confidence = 0.5
    mid = world.mail()
    advance(world.services, mid)
    assert mid not in stale_messages(world.services)
    with world.sessions() as session:  # as if the worker died before flagging it
        session.execute(update(ReviewItem).values(flagged_at=None))
        session.commit()
    assert mid not in stale_messages(world.services)  # not before a sweep interval
    world.clock.now += timedelta(seconds=11)
    assert mid in stale_messages(world.services)
    assert advance(world.services, mid).state == "review"
    assert mid not in stale_messages(world.services)


def test_no_model_and_unknown_team_go_to_review(world: World) -> None:
    world.predictor.has_model = False
    first = world.mail()
    assert advance(world.services, first).state == "review"
    world.predictor.has_model, world.predictor.team = True, "nieuw"
    second = world.mail()
    assert advance(world.services, second).state == "review"
    with world.sessions() as session:
        reasons = dict(session.execute(select(ReviewItem.message_id, ReviewItem.reason)).all())
    assert reasons == {first: "no-model", second: "unknown-team"}
    assert world.smtp.sent == []


def test_a_transient_smtp_error_releases_the_claim_and_the_retry_sends(world: World) -> None:
    world.smtp.failures = [SmtpError("451 later", transient=True)]
    mid = world.mail()
    with pytest.raises(SmtpError):
        advance(world.services, mid)
    with world.sessions() as session:
        delivery = session.scalar(select(Delivery))
        assert delivery is not None
        assert (delivery.state, delivery.claimed_until, delivery.attempts) == ("pending", None, 1)
        assert "451" in (delivery.last_error or "")
    assert advance(world.services, mid).state == "done"
    assert len(world.smtp.sent) == 1


def test_a_worker_dead_after_the_accept_is_covered_by_the_same_message_id(world: World) -> None:
    mid = world.mail()

    def die(_: float) -> None:
        raise KeyboardInterrupt("killed between the SMTP accept and the record")

    world.services.settings = world.settings.model_copy(update={"fault_pause_after_send": 1.0})
    world.services.sleep = die
    with pytest.raises(KeyboardInterrupt):
        advance(world.services, mid)
    world.services.settings = world.settings
    # The claim still holds: a redelivered task does not send while the first might live.
    assert advance(world.services, mid).state == "forwarding"
    assert len(world.smtp.sent) == 1
    world.clock.now += timedelta(seconds=31)
    assert mid in stale_messages(world.services)
    assert advance(world.services, mid).state == "done"
    ids = {data.split(b"Message-ID: ")[1].split(b"\r\n")[0] for _, data in world.smtp.sent}
    assert len(world.smtp.sent) == 2 and len(ids) == 1  # a recognisable duplicate


def test_quarantine_keeps_the_mail_for_a_person(world: World) -> None:
    world.smtp.failures = [SmtpError("550 no such user", transient=False)]
    mid = world.mail()
    with pytest.raises(SmtpError):
        advance(world.services, mid)
    assert quarantine(world.services, mid, "550 no such user (permanent error)")
    assert not quarantine(world.services, mid, "again")
    assert world.state(mid) == "quarantined"
    assert advance(world.services, mid).state == "quarantined"
    with world.sessions() as session:
        item = session.scalar(select(ReviewItem))
        assert item is not None and item.status == "open" and "550" in item.reason
        assert session.scalar(select(Delivery.state)) == "failed"
        assert session.scalar(select(AuditLog.details).where(AuditLog.action == "quarantine"))


def test_unreadable_mail_is_quarantined_with_the_reason(world: World) -> None:
    (world.inbox / "new" / "bad").write_bytes(b"")
    result = record(world.sessions, world.mailbox_id, RawMail(b"", "", "bad")).result
    assert advance(world.services, result.message_id).state == "quarantined"
    with world.sessions() as session:
        reason = session.scalar(select(ReviewItem.reason))
    assert reason is not None and reason.startswith("quarantined: unreadable mail")


def test_a_person_decides_and_the_mail_is_forwarded_and_its_thread_follows(world: World) -> None:
    world.predictor.confidence = 0.5
    mid = world.mail()
    advance(world.services, mid)
    with world.sessions() as session:
        item = session.scalar(select(ReviewItem))
        user = session.scalar(select(User))
        team = session.scalar(select(Team).where(Team.slug == "klachten"))
        assert item is not None and user is not None and team is not None
        item.status, item.team_id, item.resolved_by = "resolved", team.id, user.id
        session.commit()
    assert mid in stale_messages(world.services)
    assert advance(world.services, mid).state == "done"
    assert world.smtp.sent[0][0] == ["klachten@polder.example"]
    assert b"X-Mailroom-Decided-By: user:" in world.smtp.sent[0][1]
    # A reply follows the person's team, although the model would say schade.
    world.predictor.confidence = 0.99
    reply = world.mail("Re: Waterschade", In_Reply_To=f"<m{world.counter}@example.nl>")
    assert advance(world.services, reply).state == "done"
    assert world.smtp.sent[1][0] == ["klachten@polder.example"]
    with world.sessions() as session:
        decision = session.scalar(
            select(RoutingDecision).where(RoutingDecision.message_id == reply)
        )
        assert decision is not None and decision.decided_by == "thread"
        assert decision.reason == "thread-moved-by-person"  # a person chose its team
        assert "topic_changed" not in decision.details


def test_a_mail_seen_again_is_not_routed_again(world: World) -> None:
    mid = world.mail()
    advance(world.services, mid)
    with world.sessions() as session:
        raw = session.get(Message, mid).raw  # type: ignore[union-attr]
    arrival = record(world.sessions, world.mailbox_id, RawMail(raw, "", "renamed:2,S"))
    result, queue = arrival.result, arrival.queue
    assert (result.outcome, result.message_id, queue) == ("duplicate", mid, False)
    assert len(world.smtp.sent) == 1


def test_a_lease_has_one_holder_until_it_expires(world: World) -> None:
    now = utcnow()
    assert leases.acquire(world.sessions, "mailbox:1", "a", 10, now=now)
    assert not leases.acquire(world.sessions, "mailbox:1", "b", 10, now=now)
    assert leases.acquire(world.sessions, "mailbox:1", "a", 10, now=now + timedelta(seconds=5))
    assert leases.acquire(world.sessions, "mailbox:1", "b", 10, now=now + timedelta(seconds=16))
    leases.release(world.sessions, "mailbox:1", "b")
    assert leases.acquire(world.sessions, "mailbox:1", "a", 10, now=now)


class _Retry(Exception):
    """What the fake task's retry() raises, as Celery's Retry would."""


class _FakeTask:
    """The parts of a bound Celery task that worker.tasks uses."""

    def __init__(self, services: Services, retries: int) -> None:
        runtime = type("R", (), {"services": lambda self: services})()
        self.app = type("A", (), {"mailroom_runtime": runtime})()
        self.request = type("Q", (), {"retries": retries})()
        self.countdowns: list[float] = []

    def retry(self, exc: BaseException, countdown: float) -> _Retry:
        self.countdowns.append(countdown)
        return _Retry(str(exc))


def test_the_task_retries_transient_errors_with_backoff_then_quarantines(world: World) -> None:
    from worker.tasks import _advance_or_retry, retry_delay

    world.services.settings = world.settings.model_copy(
        update={"task_max_retries": 2, "retry_backoff_max": 60}
    )
    mid = world.mail()
    for retries in (0, 1):
        world.smtp.failures = [SmtpError("451 later", transient=True)]
        task = _FakeTask(world.services, retries)
        with pytest.raises(_Retry):
            _advance_or_retry(task, mid)
        assert 0.5 * 2**retries <= task.countdowns[0] <= 2**retries
        assert world.state(mid) == "forwarding"
    world.smtp.failures = [SmtpError("451 later", transient=True)]
    assert _advance_or_retry(_FakeTask(world.services, 2), mid) == "quarantined"
    with world.sessions() as session:
        reason = session.scalar(select(ReviewItem.reason))
    assert reason is not None and "451 later" in reason and "after 2 retries" in reason
    assert retry_delay(10, 300) <= 300 and retry_delay(30, 5) <= 5


def test_a_permanent_error_quarantines_at_once(world: World) -> None:
    from worker.tasks import _advance_or_retry

    world.smtp.failures = [SmtpError("550 5.1.1 no such user", transient=False)]
    mid = world.mail()
    assert _advance_or_retry(_FakeTask(world.services, 0), mid) == "quarantined"
    assert world.smtp.sent == [] and world.state(mid) == "quarantined"


# Machine mail (labeling.mail.hygiene) -------------------------------------------------------


def _audit(world: World, message_id: int, action: str) -> dict[str, Any]:
    with world.sessions() as session:
        details = session.scalar(
            select(AuditLog.details).where(
                AuditLog.message_id == message_id, AuditLog.action == action
            )
        )
    assert details is not None, f"no {action} audit row for {message_id}"
    return dict(details)


def _kind(world: World, message_id: int) -> str | None:
    with world.sessions() as session:
        return session.scalar(select(Message.kind).where(Message.id == message_id))


def test_an_auto_reply_is_filed_with_its_thread_and_never_forwarded(world: World) -> None:
    first = world.mail()
    assert advance(world.services, first).state == "done"
    reply = world.deliver(
        auto_reply_mail(
            message_id="ooo-1@klant.example", in_reply_to=f"m{world.counter}@example.nl"
        )
    )
    assert advance(world.services, reply).state == "done"
    assert len(world.smtp.sent) == 1  # only the customer's mail
    assert world.predictor.calls == 1  # the model never saw the auto-reply
    assert _kind(world, reply) == "auto_reply" and _kind(world, first) == "customer"
    assert _audit(world, reply, "filed")["kind"] == "auto_reply"
    with world.sessions() as session:
        threads = {m.thread_id for m in session.scalars(select(Message))}
    assert len(threads) == 1  # filed with its thread
    # Filed in its mailbox too: out of the inbox, into the done folder.
    assert not any((world.inbox / "new").iterdir())
    assert world.count(RoutingDecision, message_id=reply) == 0
    assert world.count(Delivery, message_id=reply) == 0


def test_a_bounce_of_our_forward_fails_the_delivery_and_returns_the_mail_to_review(
    world: World,
) -> None:
    mid = world.mail()
    assert advance(world.services, mid).state == "done"
    forward = world.smtp.sent[0][1]
    bounce = world.deliver(
        bounce_mail(
            message_id="dsn-1@mx.example", returned=forward, recipient="schade@polder.example"
        )
    )
    assert advance(world.services, bounce).state == "done"
    assert len(world.smtp.sent) == 1  # the bounce went nowhere
    assert _kind(world, bounce) == "bounce"
    assert world.state(mid) == "review"
    assert world.count(Delivery, message_id=mid, state="failed") == 1
    with world.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == mid))
        assert item is not None and item.status == "open"
        assert item.reason.startswith("bounced by schade@polder.example: 5.1.1")
    assert _audit(world, mid, "bounce")["bounce_message_id"] == bounce
    assert _audit(world, bounce, "filed")["bounced_messages"] == [mid]
    # The bounce is recorded once: seen again, nothing moves.
    assert advance(world.services, bounce).state == "done"
    assert world.count(AuditLog, action="bounce") == 1
    # A person sends it to another team: it goes out again.
    with world.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == mid))
        user = session.scalar(select(User))
        team = session.scalar(select(Team).where(Team.slug == "klachten"))
        assert item is not None and user is not None and team is not None
        item.status, item.team_id, item.resolved_by = "resolved", team.id, user.id
        session.commit()
    assert advance(world.services, mid).state == "done"
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]


def test_a_delay_notice_leaves_the_forward_alone(world: World) -> None:
    mid = world.mail()
    advance(world.services, mid)
    notice = world.deliver(
        bounce_mail(message_id="dsn-2@mx.example", returned=world.smtp.sent[0][1], action="delayed")
    )
    assert advance(world.services, notice).state == "done"
    assert world.state(mid) == "done"
    assert world.count(Delivery, message_id=mid, state="sent") == 1


def test_our_own_forward_coming_back_is_a_loop_stopped_and_recorded(world: World) -> None:
    mid = world.mail()
    advance(world.services, mid)
    loop = world.deliver(world.smtp.sent[0][1])
    assert advance(world.services, loop).state == "done"
    assert len(world.smtp.sent) == 1
    assert _kind(world, loop) == "loop"
    assert "our own forward" in _audit(world, loop, "filed")["reason"]


def test_bulk_mail_and_a_sender_over_the_rate_limit_wait_for_a_person(world: World) -> None:
    bulk = world.mail(Precedence="bulk")
    assert advance(world.services, bulk).state == "review"
    assert _kind(world, bulk) == "bulk"
    world.services.settings = world.settings.model_copy(update={"sender_rate_limit": 2})
    routed = [advance(world.services, world.mail()).state for _ in range(3)]
    # The bulk mail and the first two count: the third mail within the hour waits.
    assert routed[:1] == ["done"] and routed[-1] == "review"
    assert world.smtp.sent and len(world.smtp.sent) < 3
    with world.sessions() as session:
        reasons = set(session.scalars(select(ReviewItem.reason)))
    assert {"bulk-mail", "sender-rate-limit"} <= reasons


def test_a_ticket_from_the_api_is_routed_like_a_mail(world: World) -> None:
    from labeling.live.lifecycle import Ticket, record_ticket

    with world.sessions() as session:
        arrival = record_ticket(
            session, Ticket("zammad", "4711", "Waterschade", "Lekkage", "jan@klant.example")
        )
        session.commit()
    assert arrival.queue
    assert advance(world.services, arrival.message_id).state == "done"
    rcpts, data = world.smtp.sent[-1]
    assert rcpts == ["schade@polder.example"] and b"X-Mailroom-Ticket: zammad/4711" in data
    # Unsure: it waits in review like a mail, with no mailbox to flag it in (another
    # customer: jan's next ticket would follow his case, see the affinity tests).
    world.predictor.confidence = 0.5
    with world.sessions() as session:
        unsure = record_ticket(
            session, Ticket("zammad", "4712", "Vraag", "Iets anders", "kees@klant.example")
        )
        session.commit()
    assert advance(world.services, unsure.message_id).state == "review"
    assert world.count(ReviewItem, message_id=unsure.message_id, status="open") == 1


def test_a_tickets_decision_is_posted_to_its_integrations_callback(world: World) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from labeling.live.lifecycle import Ticket, record_ticket
    from labeling.store.api_tokens import create_token

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with world.sessions() as session:
            url = f"http://127.0.0.1:{server.server_port}/mailroom"
            create_token(session, "zammad", ["tickets"], callback_url=url)
            create_token(session, "zendesk", ["tickets"], callback_url="http://127.0.0.1:9/x")
            arrival = record_ticket(
                session, Ticket("zammad", "4711", "Waterschade", "Lekkage", "jan@klant.example")
            )
            silent = record_ticket(
                session, Ticket("zendesk", "9", "Waterschade", "Lekkage!", "piet@klant.example")
            )
            session.commit()
        assert advance(world.services, arrival.message_id).state == "done"
        assert advance(world.services, silent.message_id).state == "done"  # a dead callback
        # ... and a plain mail has none.
        assert advance(world.services, world.mail()).state == "done"
    finally:
        server.shutdown()
        server.server_close()
    assert received == [
        {
            "ticket": arrival.message_id,
            "id": "4711",
            "state": "forwarding",
            "team": "schade",
            "mode": "auto",
            "decided_by": "model",
            "reasons": ["model: schade 0.95"],
            "priority": None,
        }
    ]
    with world.sessions() as session:
        outcomes = dict(
            session.execute(
                select(AuditLog.message_id, AuditLog.details).where(AuditLog.action == "callback")
            ).all()
        )
    assert outcomes[arrival.message_id]["outcome"] == "204"
    assert outcomes[silent.message_id]["outcome"].startswith("failed:")
    assert len(outcomes) == 2


# Customer affinity (issue 14 item 2) ---------------------------------------------------------


def _customer_mail(world: World, sender: str, subject: str, text: str) -> int:
    world.counter += 1
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "info@polder.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<c{world.counter}@example.nl>"
    msg.set_content(text)
    return world.deliver(msg.as_bytes())


def _decision(world: World, message_id: int) -> RoutingDecision:
    with world.sessions() as session:
        decision = session.scalar(
            select(RoutingDecision).where(
                RoutingDecision.message_id == message_id, RoutingDecision.is_current
            )
        )
        assert decision is not None
        session.expunge(decision)
        return decision


def test_a_customers_next_mail_follows_their_case_within_the_window(world: World) -> None:
    world.predictor.team = "klachten"
    first = _customer_mail(world, "jan@klant.example", "Klacht", "Ik ben ontevreden.")
    assert advance(world.services, first).state == "done"
    # Three days later the same customer writes something the model cannot place.
    world.clock.now += timedelta(days=3, hours=1)
    world.predictor.team, world.predictor.confidence = "schade", 0.6
    second = _customer_mail(world, "Jan@Klant.example", "Nog iets", "Hoe staat het ervoor?")
    assert advance(world.services, second).state == "done"
    decision = _decision(world, second)
    assert (decision.decided_by, decision.reason) == ("affinity", "affinity")
    assert decision.details["affinity_case"] == first
    assert decision.details["affinity_age_days"] == 3
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]
    assert f"same team as case #{first} (3 days ago)".encode() in world.smtp.sent[-1][1]
    with world.sessions() as session:
        actor = session.scalar(
            select(AuditLog.actor).where(AuditLog.message_id == second, AuditLog.action == "route")
        )
    assert actor == "affinity"
    # Outside the window (30 days by default) the model decides, and sends it to review.
    world.clock.now += timedelta(days=31)
    third = _customer_mail(world, "jan@klant.example", "Weer iets", "Nog een vraag.")
    assert advance(world.services, third).state == "review"
    assert _decision(world, third).decided_by == "model"


def test_a_customer_number_links_mail_from_another_address(world: World) -> None:
    world.predictor.team = "klachten"
    first = _customer_mail(world, "jan@klant.example", "Klacht", "Polis PZ-12345678 klopt niet.")
    advance(world.services, first)
    world.predictor.team, world.predictor.confidence = "schade", 0.6
    other = _customer_mail(world, "partner@thuis.example", "Vraag", "Over polis 12.345.678.")
    assert advance(world.services, other).state == "done"
    decision = _decision(world, other)
    assert (decision.decided_by, decision.details["affinity_by"]) == ("affinity", "number")
    assert decision.details["affinity_case"] == first


def test_a_sure_model_says_the_topic_changed_and_a_persons_choice_holds(world: World) -> None:
    world.predictor.team = "klachten"
    first = _customer_mail(world, "jan@klant.example", "Klacht", "Ontevreden.")
    advance(world.services, first)
    world.predictor.team, world.predictor.confidence = "schade", 0.99
    changed = _customer_mail(world, "jan@klant.example", "Schade", "Mijn dak lekt.")
    advance(world.services, changed)
    decision = _decision(world, changed)
    assert (decision.decided_by, decision.details["topic_changed"]) == ("model", True)
    assert decision.details["affinity_team"] == "klachten"
    assert world.smtp.sent[-1][0] == ["schade@polder.example"]
    # A person moves a case to klachten: the customer's next mail goes there, sure model or not.
    world.predictor.confidence = 0.5
    reviewed = _customer_mail(world, "piet@klant.example", "Iets", "Onduidelijk.")
    advance(world.services, reviewed)
    with world.sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == reviewed))
        user = session.scalar(select(User))
        team = session.scalar(select(Team).where(Team.slug == "klachten"))
        assert item is not None and user is not None and team is not None
        item.status, item.team_id, item.resolved_by = "resolved", team.id, user.id
        session.commit()
    assert advance(world.services, reviewed).state == "done"
    world.predictor.confidence = 0.99
    later = _customer_mail(world, "piet@klant.example", "Schade?", "Mijn dak lekt.")
    advance(world.services, later)
    decision = _decision(world, later)
    assert (decision.decided_by, decision.reason) == ("affinity", "affinity-moved-by-person")
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]


def test_the_handler_who_has_the_case_gets_the_next_mail_at_their_own_address(
    world: World,
) -> None:
    from labeling.store.teams import add_member, set_member_active

    with world.sessions() as session:
        team = session.scalar(select(Team).where(Team.slug == "klachten"))
        assert team is not None
        marloes = add_member(session, team.id, "Marloes", "marloes@polder.example").id
        dennis = add_member(session, team.id, "Dennis", "dennis@polder.example").id
        session.commit()
    world.predictor.team = "klachten"
    # New cases are spread: the member with the fewest recent forwards gets the next one.
    jan = _customer_mail(world, "jan@klant.example", "Klacht", "Ontevreden.")
    piet = _customer_mail(world, "piet@klant.example", "Klacht", "Ook ontevreden.")
    advance(world.services, jan)
    advance(world.services, piet)
    assert [rcpts for rcpts, _ in world.smtp.sent] == [
        ["marloes@polder.example"],
        ["dennis@polder.example"],
    ]
    assert b"assigned in team klachten" in world.smtp.sent[0][1]
    # Jan writes again: Marloes has his case, although Dennis now has as many.
    world.predictor.confidence = 0.6
    again = _customer_mail(world, "jan@klant.example", "Re", "Nog iets.")
    assert advance(world.services, again).state == "done"
    decision = _decision(world, again)
    assert decision.details["handler_id"] == marloes
    rcpts, data = world.smtp.sent[-1]
    assert rcpts == ["marloes@polder.example"]
    assert f"same handler as case #{jan} (today)".encode() in data
    assert b"who handles this customer's case" in data
    # Marloes leaves: Jan's next mail goes to the team's own address.
    with world.sessions() as session:
        team_id = session.scalar(select(Team.id).where(Team.slug == "klachten"))
        assert team_id is not None
        set_member_active(session, team_id, marloes, False)
        set_member_active(session, team_id, dennis, False)
        session.commit()
    last = _customer_mail(world, "jan@klant.example", "Re", "En nog iets.")
    advance(world.services, last)
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]


def test_an_erased_customers_history_is_not_used(world: World) -> None:
    from labeling.store.privacy import erase
    from labeling.store.tables import CaseKey

    world.predictor.team = "klachten"
    first = _customer_mail(world, "jan@klant.example", "Klacht", "Polis PZ-12345678.")
    advance(world.services, first)
    assert world.count(CaseKey, message_id=first) == 2  # the sender and the policy
    with world.sessions() as session:
        erase(session, "jan@klant.example")
        session.commit()
    assert world.count(CaseKey) == 0
    world.predictor.team, world.predictor.confidence = "schade", 0.6
    # Neither his address nor his policy number finds a case, and nothing new links him.
    again = _customer_mail(world, "jan@klant.example", "Vraag", "Polis PZ-12345678.")
    assert advance(world.services, again).state == "review"
    assert _decision(world, again).decided_by == "model"
    assert world.count(CaseKey, message_id=again) == 0


def test_affinity_off_and_a_sender_with_many_teams_link_nothing(world: World) -> None:
    world.predictor.team = "klachten"
    first = _customer_mail(world, "advies@makelaar.example", "Klacht", "Voor een klant.")
    advance(world.services, first)
    world.predictor.team = "schade"
    second = _customer_mail(world, "advies@makelaar.example", "Schade", "Voor een ander.")
    advance(world.services, second)
    # A broker's address went to two teams: no case for the next one.
    world.predictor.confidence = 0.6
    third = _customer_mail(world, "advies@makelaar.example", "Vraag", "Iets.")
    assert advance(world.services, third).state == "review"
    # MAILROOM_AFFINITY_DAYS=0: no affinity, though jan's case is fresh.
    world.services.settings = world.settings.model_copy(update={"affinity_days": 0})
    world.predictor.confidence = 0.95
    jan = _customer_mail(world, "jan@klant.example", "Klacht", "Ontevreden.")
    advance(world.services, jan)
    world.predictor.confidence = 0.6
    off = _customer_mail(world, "jan@klant.example", "Vraag", "Iets.")
    assert advance(world.services, off).state == "review"
    assert "affinity_case" not in _decision(world, off).details


def test_bulk_mail_goes_where_a_rule_naming_its_kind_says_and_no_other_rule_routes_it(
    world: World,
) -> None:
    from labeling.rules import store as rule_store
    from labeling.rules.matching import Conditions, RuleSpec

    with world.sessions() as session:
        rule_store.create_rule(
            session,
            RuleSpec(
                name="Alles van de klant",
                action="route",
                team="schade",
                conditions=Conditions.from_mapping({"sender": ["example.nl"]}),
            ),
        )
        session.commit()
    # A rule without a kind matches the sender, but bulk mail still waits for a person.
    bulk = world.mail(Precedence="bulk")
    assert advance(world.services, bulk).state == "review"
    with world.sessions() as session:
        rule_store.create_rule(
            session,
            RuleSpec(
                name="Nieuwsbrief",
                action="route",
                team="klachten",
                conditions=Conditions.from_mapping({"kind": ["bulk"]}),
            ),
            position=1,
        )
        session.commit()
    world.predictor.calls = 0
    newsletter = world.mail("Nieuwsbrief", Precedence="bulk")
    assert advance(world.services, newsletter).state == "done"
    decision = _decision(world, newsletter)
    assert (decision.decided_by, decision.details["rule"]) == ("rule", "Nieuwsbrief")
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]
    assert world.predictor.calls == 0  # the model is not asked about bulk mail
    # Customer mail does not match the bulk rule: the sender rule routes it.
    customer = world.mail("Waterschade")
    assert advance(world.services, customer).state == "done"
    assert _decision(world, customer).details["rule"] == "Alles van de klant"


def test_expired_mail_links_its_customer_no_longer(world: World) -> None:
    from labeling.store.privacy import expire_raw
    from labeling.store.tables import CaseKey

    world.predictor.team = "klachten"
    first = _customer_mail(world, "jan@klant.example", "Klacht", "Polis PZ-12345678.")
    assert advance(world.services, first).state == "done"
    world.clock.now += timedelta(days=3)
    with world.sessions() as session:
        expired = expire_raw(
            session, days=2, pseudonymiser=world.settings.pseudonymiser(), now=world.clock.now
        )
        session.commit()
    assert expired == 1 and world.count(CaseKey) == 0
    # Within the affinity window, but its addresses and keys are gone with the raw mail.
    world.predictor.team, world.predictor.confidence = "schade", 0.6
    again = _customer_mail(world, "jan@klant.example", "Vraag", "Polis PZ-12345678.")
    assert advance(world.services, again).state == "review"
    assert "affinity_case" not in _decision(world, again).details


def test_a_reply_goes_to_the_member_who_has_its_thread(world: World) -> None:
    from labeling.store.teams import add_member

    with world.sessions() as session:
        team = session.scalar(select(Team).where(Team.slug == "klachten"))
        assert team is not None
        add_member(session, team.id, "Marloes", "marloes@polder.example")
        add_member(session, team.id, "Dennis", "dennis@polder.example")
        session.commit()
    world.predictor.team = "klachten"
    for sender in ("jan", "piet", "kees"):  # Marloes, Dennis, Marloes (the tie: lowest id)
        mail = _customer_mail(world, f"{sender}@klant.example", "Klacht", "Ontevreden.")
        advance(world.services, mail)
    assert [rcpts[0] for rcpts, _ in world.smtp.sent] == [
        "marloes@polder.example",
        "dennis@polder.example",
        "marloes@polder.example",
    ]
    # Jan's reply: Dennis has fewer forwards now, but Marloes has the thread.
    world.predictor.confidence = 0.6
    reply = world.mail("Re: Klacht", In_Reply_To="<c1@example.nl>")
    assert advance(world.services, reply).state == "done"
    assert _decision(world, reply).decided_by == "thread"
    rcpts, data = world.smtp.sent[-1]
    assert rcpts == ["marloes@polder.example"] and b"who has its thread" in data


@dataclass
class FlaggingPredictor(FakePredictor):
    """A model version with learned flag heads: churn scored ``churn``, urgent ``urgent``
    against a threshold of 0.5."""

    churn: float = 0.9
    urgent: float = 0.1

    def flags(self, texts: Sequence[str]) -> list[dict[str, LearnedFlag]]:
        return [
            {
                "churn": LearnedFlag(self.churn, 0.5, "v0001"),
                "urgent": LearnedFlag(self.urgent, 0.5, "v0001"),
            }
            for _ in texts
        ]


def test_learned_flags_route_churn_to_retention_and_urgent_mail_forwards_with_priority(
    world: World,
) -> None:
    """The worker asks the active version's flag heads: a churn rule sends a mail with no
    cue word to the retention team, a learned 'urgent' forwards with Importance: high,
    and a cue word the head scores low does neither (issue 14 item 3)."""
    from labeling.rules.matching import Conditions, RuleSpec
    from labeling.rules.store import create_rule

    with world.sessions() as session:
        create_rule(
            session,
            RuleSpec(
                name="Behoud",
                action="route",
                team="klachten",
                conditions=Conditions.from_mapping({"flag": ["churn"]}),
            ),
        )
        session.commit()
    world.services.predictor = FlaggingPredictor()
    leaving = world.mail("Mijn polissen")  # no cue word: the head judges it
    assert advance(world.services, leaving).state == "done"
    rcpts, data = world.smtp.sent[-1]
    assert rcpts == ["klachten@polder.example"]
    assert b"Importance" not in data  # churn alone is not urgent
    with world.sessions() as session:
        decision = session.scalars(
            select(RoutingDecision).where(RoutingDecision.message_id == leaving)
        ).one()
    assert decision.decided_by == "rule"
    assert decision.details["churn"]["source"] == "model"
    assert decision.details["churn"]["score"] == 0.9

    world.services.predictor = FlaggingPredictor(churn=0.1, urgent=0.8)
    urgent = world.mail("Waterschade")
    assert advance(world.services, urgent).state == "done"
    rcpts, data = world.smtp.sent[-1]
    assert rcpts == ["schade@polder.example"]
    assert b"Importance: high" in data and b"urgent: 0.80 (model)" in data

    # "SPOED" is a cue, but the head says no: no priority, not urgent.
    world.services.predictor = FlaggingPredictor(churn=0.1, urgent=0.1)
    calm = world.mail("SPOED opzegging")
    assert advance(world.services, calm).state == "done"
    rcpts, data = world.smtp.sent[-1]
    assert rcpts == ["schade@polder.example"] and b"Importance" not in data

    # Without heads (a predictor that has none) the cue list stands in and says so.
    world.services.predictor = FakePredictor()
    cue = world.mail("SPOED")
    assert advance(world.services, cue).state == "done"
    assert b"urgent (cue list: 'spoed*')" in world.smtp.sent[-1][1]


@dataclass
class WeighingPredictor(FakePredictor):
    """A version that weighs customers' cases and replies' threads: records the case and
    the thread team each call was given, and is as sure with one as ``with_case`` says."""

    given: list[Sequence[str | None] | None] = field(default_factory=list)
    given_threads: list[Sequence[str | None] | None] = field(default_factory=list)
    with_case: float = 0.97

    def predict(
        self,
        texts: Sequence[str],
        known_teams: Collection[str],
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        self.given.append(case_teams)
        self.given_threads.append(thread_teams)
        plain = super().predict(texts, known_teams)
        earlier = (case_teams or thread_teams or [None])[0]
        if earlier is None:
            return plain
        return [
            Prediction(
                team=earlier,
                confidence=self.with_case,
                top=((earlier, self.with_case),),
                auto=self.with_case >= 0.8,
                reason="confident" if self.with_case >= 0.8 else "below-threshold",
                model_version="v0001",
                margin=self.with_case,
                case_team=earlier if case_teams else None,
                thread_team=earlier if thread_teams else None,
            )
        ]


def _first_complaint(world: World) -> tuple[WeighingPredictor, int]:
    """A weighing model, and a customer's first mail, routed to klachten (their case)."""
    predictor = WeighingPredictor(team="klachten")
    world.services.predictor = predictor
    first = _customer_mail(world, "jan@klant.example", "Klacht", "Ik ben ontevreden.")
    assert advance(world.services, first).state == "done"
    return predictor, first


def test_a_reply_gives_the_model_its_thread_to_weigh_not_the_customers_case(
    world: World,
) -> None:
    predictor, _ = _first_complaint(world)
    world.clock.now += timedelta(days=1)
    predictor.team, predictor.confidence = "schade", 0.4
    msg = EmailMessage()
    msg["From"] = "jan@klant.example"
    msg["To"] = "info@polder.example"
    msg["Subject"] = "Re: Klacht"
    msg["Message-ID"] = "<reply-1@example.nl>"
    msg["In-Reply-To"] = f"<c{world.counter}@example.nl>"
    msg.set_content("Hierbij stuur ik mijn mail nogmaals.")
    reply = world.deliver(msg.as_bytes())
    assert advance(world.services, reply).state == "done"
    # The thread decides before the customer's case: the model weighs the thread only.
    assert (predictor.given_threads[-1], predictor.given[-1]) == (["klachten"], None)
    decision = _decision(world, reply)
    assert (decision.decided_by, decision.details["thread_weighed"]) == ("thread", True)
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]


def test_the_model_is_given_the_case_to_weigh_and_its_certified_threshold_decides(
    world: World,
) -> None:
    predictor, first = _first_complaint(world)
    assert predictor.given == [None]  # no case yet: nothing to weigh
    world.clock.now += timedelta(days=2)
    predictor.team, predictor.confidence = "schade", 0.4
    second = _customer_mail(world, "jan@klant.example", "Nog iets", "Hoe staat het ervoor?")
    assert advance(world.services, second).state == "done"
    assert predictor.given[-1] == ["klachten"]
    decision = _decision(world, second)
    assert (decision.decided_by, decision.details["case_weighed"]) == ("affinity", True)
    assert decision.details["affinity_case"] == first
    assert world.smtp.sent[-1][0] == ["klachten@polder.example"]
    # Weighing the case, the model is still not sure: a person decides — the case does not
    # route it on its own (the certificate was taken on the weighed confidence).
    predictor.with_case = 0.6
    third = _customer_mail(world, "jan@klant.example", "Vraag", "Nog een vraag.")
    assert advance(world.services, third).state == "review"
    decision = _decision(world, third)
    assert (decision.decided_by, decision.details["case_weighed"]) == ("model", True)
