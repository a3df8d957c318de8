"""One live mail's way through the worker: a state machine over ``messages.route_state``.

::

    new ──route──▶ forwarding ──send──▶ forwarded ──mark in IMAP──▶ done
     │                 ▲
     └──route──▶ review ──a person decides (review UI)──┘
    (any step, after the last retry) ──▶ quarantined  (+ an open review item with the reason)

:func:`advance` moves one mail as far as it can go and is what every task calls. Each
transition is a conditional UPDATE (``… WHERE route_state = <expected>``) committed
together with what it records (decision, delivery, review item, audit row), so a
redelivered or duplicated task that finds the state already advanced does nothing, and
there is no half-recorded state. Routing is decided in one transaction (there is no
committed "routing" state that a dead worker could leave behind).

Sending is the one step that cannot be made atomic with the database: a worker may die
after the server accepted a forward and before ``deliveries.state='sent'`` is committed.
The delivery's claim then expires (``claim_timeout``) and the mail is sent again with the
same deterministic Message-ID: at-least-once, with an idempotency key downstream can use.
The original is marked done in IMAP only after the forward is recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from classifier.scoring import Prediction
from labeling.errors import MailServerError, ModelError
from labeling.settings import Settings
from labeling.store.db import rowcount, session_scope
from labeling.store.ingest import transition
from labeling.store.tables import (
    AuditLog,
    Delivery,
    Mailbox,
    Message,
    ReviewItem,
    RoutingDecision,
    Team,
    utcnow,
)
from worker.outgoing import (
    REVIEW_KEYWORD,
    ROUTED_KEYWORD,
    ForwardInfo,
    ImapActions,
    ImapLocation,
    SmtpSender,
    build_forward,
    deliver_to_maildir,
    move_maildir_file,
    outgoing_message_id,
)
from worker.routing import (
    RouteDecision,
    TeamInfo,
    ThreadInfo,
    decide_route,
    model_text,
    routable_slugs,
)
from worker.watchers import MailboxConfig, mailbox_config_for

log = logging.getLogger(__name__)

# Maildir subfolders (Maildir++) for a local inbox, when no folder is configured.
MAILDIR_DONE = "Mailroom.Done"
MAILDIR_REVIEW = "Mailroom.Review"

ACTIVE_STATES = ("new", "review", "forwarding", "forwarded")


class Predictor(Protocol):
    """The model as the pipeline uses it (see :class:`worker.models.ModelCache`)."""

    def predict(self, texts: Sequence[str], known_teams: Collection[str]) -> list[Prediction]:
        """A prediction per text; raises ModelError when the model cannot be used."""
        ...

    def active(self) -> bool:
        """True when a model version is active."""
        ...

    def warm_up(self) -> None:
        """Load the active version now (at worker start), not with the first mail."""
        ...


@dataclass
class Services:
    """What the pipeline needs from the outside world; tests pass fakes (the seams)."""

    settings: Settings
    sessions: sessionmaker[Session]
    predictor: Predictor
    smtp: SmtpSender
    imap_actions: Callable[[MailboxConfig], ImapActions] = field(
        default=lambda config: ImapActions(config.imap)
    )
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where :func:`advance` left a mail: its state, and a word on why it stopped."""

    state: str | None
    note: str = ""


# Transitions -----------------------------------------------------------------------------


def _audit(session: Session, actor: str, action: str, message_id: int, **details: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, message_id=message_id, details=details))


def _state(services: Services, message_id: int) -> str | None:
    with session_scope(services.sessions) as session:
        return session.scalar(select(Message.route_state).where(Message.id == message_id))


# The driver --------------------------------------------------------------------------------


def advance(services: Services, message_id: int) -> Outcome:
    """Move one mail through every step it is ready for; return where it stopped.

    Raises :class:`MailServerError` or :class:`StoreError` on a failure of a server or the
    database (the task retries, then calls :func:`quarantine`). A mail that is not live
    (archive mail) or unknown is left alone.
    """
    # Each step returns the state it moved the mail to, or None when another task moved it
    # (then the state is read again): one database round trip fewer per step.
    state = _state(services, message_id)
    for _ in range(8):
        if state == "new":
            state = _route(services, message_id) or _state(services, message_id)
        elif state == "forwarding":
            moved = _deliver(services, message_id)
            if moved is None:
                return Outcome("forwarding", "another worker is sending it")
            state = moved
        elif state == "forwarded":
            state = _mark_done(services, message_id) or _state(services, message_id)
        elif state == "review":
            if not _review_step(services, message_id):
                return Outcome("review", "waiting for a person")
            state = "forwarding"
        else:
            return Outcome(state)
    return Outcome(_state(services, message_id), "step limit")  # pragma: no cover


# Routing -----------------------------------------------------------------------------------


def _teams(session: Session) -> dict[str, TeamInfo]:
    return {
        team.slug: TeamInfo(
            id=team.id,
            slug=team.slug,
            archived=team.archived_at is not None,
            forward_address=team.forward_address,
            imap_folder=team.imap_folder,
        )
        for team in session.scalars(select(Team))
    }


def _route(services: Services, message_id: int) -> str | None:
    """Decide and record; the state the mail moved to, None if another task moved it."""
    settings = services.settings
    with session_scope(services.sessions) as session:
        message = session.get(Message, message_id)
        if message is None or message.route_state != "new":
            return None
        if message.status == "quarantined":
            reason = f"unreadable mail: {message.quarantine_reason}"
            now = services.clock()
            moved = _quarantine_in(session, message_id, reason, now, expected="new")
            return "quarantined" if moved else None
        teams = _teams(session)
        thread = message.thread
        thread_info = (
            ThreadInfo(team_id=thread.team_id, moved_by_person=thread.moved_by_person)
            if thread is not None
            else None
        )
        is_reply = bool(message.in_reply_to or message.references)
        text = model_text(message.subject, message.new_text, message.quoted_text)

    prediction: Prediction | None = None
    model_error = ""
    if services.predictor.active():
        try:
            prediction = services.predictor.predict(
                [text], routable_slugs(teams, settings.outgoing)
            )[0]
        except ModelError as exc:
            # A model that cannot be used is no reason to guess: the mail goes to a person.
            model_error = str(exc)
            log.error("model failed on message %d: %s", message_id, exc)
    decision = decide_route(
        prediction=prediction,
        thread=thread_info,
        is_reply=is_reply,
        teams=teams,
        outgoing=settings.outgoing,
    )
    if model_error:
        decision = RouteDecision(
            mode="review",
            reason="model-error",
            decided_by="model",
            team=None,
            details={"error": model_error},
        )
    now = services.clock()
    with session_scope(services.sessions) as session:
        target = "forwarding" if decision.mode == "auto" else "review"
        if not transition(session, message_id, "new", target, now):
            return None  # another task routed it meanwhile
        message = session.get(Message, message_id)
        assert message is not None
        _record_decision(session, message_id, decision, now)
        if decision.mode == "auto" and decision.team is not None:
            _new_delivery(session, message, decision.team.id, decision.team.slug, settings)
            if message.thread is not None and message.thread.team_id is None:
                message.thread.team_id = decision.team.id
        else:
            _open_review(session, message_id, decision.reason, now)
    return target


def _record_decision(
    session: Session, message_id: int, decision: RouteDecision, now: datetime, user: str = ""
) -> None:
    session.execute(
        update(RoutingDecision)
        .where(RoutingDecision.message_id == message_id, RoutingDecision.is_current)
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )
    decided_by = user or decision.decided_by
    team = decision.team
    session.add(
        RoutingDecision(
            message_id=message_id,
            team_id=team.id if team is not None and decision.mode == "auto" else None,
            confidence=decision.confidence,
            model_version=decision.model_version,
            top=[[name, round(p, 6)] for name, p in decision.top],
            decided_by=decided_by,
            mode=decision.mode,
            reason=decision.reason,
            details=dict(decision.details),
            is_current=True,
            created_at=now,
        )
    )
    _audit(
        session,
        user or decision.actor,
        "route",
        message_id,
        team=team.slug if team is not None else None,
        mode=decision.mode,
        confidence=decision.confidence,
        model_version=decision.model_version,
        reason=decision.reason,
        decided_by=decided_by,
        **{k: v for k, v in decision.details.items() if k in ("topic_changed", "model_team")},
    )


def _new_delivery(
    session: Session, message: Message, team_id: int, team_slug: str, settings: Settings
) -> None:
    method = {"smtp": "smtp", "imap-move": "imap-move", "maildir": "maildir"}[settings.outgoing]
    outgoing_id = outgoing_message_id(message.content_hash, team_slug)
    existing = session.scalar(select(Delivery).where(Delivery.message_id == message.id))
    if existing is not None:
        # A mail sent back as misrouted goes out again, to the team a person chose: the one
        # delivery row is re-aimed (the first forward stays in the audit log).
        existing.team_id, existing.method, existing.state = team_id, method, "pending"
        existing.outgoing_message_id, existing.attempts = outgoing_id, 0
        existing.last_error = existing.claimed_until = existing.sent_at = None
        return
    session.add(
        Delivery(
            message_id=message.id,
            team_id=team_id,
            method=method,
            state="pending",
            outgoing_message_id=outgoing_id,
        )
    )


def _open_review(session: Session, message_id: int, reason: str, now: datetime) -> None:
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == message_id))
    if item is None:
        session.add(ReviewItem(message_id=message_id, status="open", reason=reason, created_at=now))
    else:  # a mail that comes back to review (quarantined after a person's decision)
        item.status, item.reason, item.resolved_at = "open", reason, None
    _audit(session, "system", "review", message_id, reason=reason)


# Review ------------------------------------------------------------------------------------


def _review_step(services: Services, message_id: int) -> bool:
    """Flag a mail that waits for a person in IMAP, or forward it once a person decided.
    True when the mail moved on (to 'forwarding')."""
    with session_scope(services.sessions) as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == message_id))
        message = session.get(Message, message_id)
        if item is None or message is None:
            return False
        if item.status == "resolved" and item.team_id is not None:
            team = session.get(Team, item.team_id)
            now = services.clock()
            if team is None or not transition(session, message_id, "review", "forwarding", now):
                return False
            info = TeamInfo(team.id, team.slug, team.archived_at is not None)
            user = f"user:{item.resolved_by}" if item.resolved_by else "user:?"
            decision = RouteDecision(mode="auto", reason="reviewed", decided_by="user", team=info)
            _record_decision(session, message_id, decision, now, user=user)
            _new_delivery(session, message, team.id, team.slug, services.settings)
            thread = message.thread
            if thread is not None and thread.team_id != team.id:
                # A person chose the thread's team: later replies follow that choice.
                thread.moved_by_person = thread.team_id is not None
                thread.team_id = team.id
            return True
        if item.status != "open" or item.flagged_at is not None:
            return False
        location = _location(session, message)
    if location is not None:
        found = _mark_original(services, location, review=True)
        with session_scope(services.sessions) as session:
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.message_id == message_id)
                .values(flagged_at=services.clock())
                .execution_options(synchronize_session=False)
            )
            _audit(session, "system", "flag-review", message_id, found=found)
    return False


# Delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outgoing:
    delivery_id: int
    method: str
    outgoing_id: str
    raw: bytes
    info: ForwardInfo
    team_slug: str
    imap_folder: str
    location: tuple[MailboxConfig, ImapLocation | str] | None


def _claim(services: Services, message_id: int) -> _Outgoing | None:
    """Claim the pending delivery for this worker for ``claim_timeout``; None when it is
    claimed by another live worker, or already sent (then the state is advanced)."""
    now = services.clock()
    with session_scope(services.sessions) as session:
        delivery = session.scalar(select(Delivery).where(Delivery.message_id == message_id))
        if delivery is None:  # pragma: no cover - 'forwarding' is always set with a delivery
            raise RuntimeError(f"message {message_id} is forwarding without a delivery")
        if delivery.state == "sent":
            transition(session, message_id, "forwarding", "forwarded", now)
            return None
        claimed = rowcount(
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery.id,
                    Delivery.state == "pending",
                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
                )
                .values(
                    claimed_until=now + timedelta(seconds=services.settings.claim_timeout),
                    attempts=Delivery.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
        )
        if not claimed:
            return None
        message = session.get(Message, message_id)
        team = session.get(Team, delivery.team_id)
        assert message is not None and team is not None
        decision = session.scalar(
            select(RoutingDecision).where(
                RoutingDecision.message_id == message_id, RoutingDecision.is_current
            )
        )
        sender = message.sender_email
        if message.sender_name and sender:
            sender = f"{message.sender_name} <{sender}>"
        info = ForwardInfo(
            team_slug=team.slug,
            to_address=team.forward_address,
            outgoing_id=delivery.outgoing_message_id,
            decided_by=decision.decided_by if decision else "system",
            confidence=decision.confidence if decision else None,
            model_version=decision.model_version if decision else None,
            original_message_id=message.message_id,
            original_subject=message.subject,
            original_sender=sender,
            reason=decision.reason if decision else "",
            send_back_url=(
                f"{services.settings.public_url.rstrip('/')}/review/routed?message={message_id}"
                if services.settings.public_url
                else ""
            ),
        )
        return _Outgoing(
            delivery_id=delivery.id,
            method=delivery.method,
            outgoing_id=delivery.outgoing_message_id,
            raw=message.raw,
            info=info,
            team_slug=team.slug,
            imap_folder=team.imap_folder,
            location=_location(session, message),
        )


def _deliver(services: Services, message_id: int) -> str | None:
    """Send the pending forward; the state after it is recorded as sent (or already was),
    None while another worker holds the claim."""
    out = _claim(services, message_id)
    if out is None:
        state = _state(services, message_id)
        return None if state == "forwarding" else state
    settings = services.settings
    try:
        _send(services, out)
    except MailServerError as exc:
        with session_scope(services.sessions) as session:
            # Release the claim so the retry (or another worker) may send at once.
            session.execute(
                update(Delivery)
                .where(Delivery.id == out.delivery_id, Delivery.state == "pending")
                .values(claimed_until=None, last_error=str(exc)[:2000])
                .execution_options(synchronize_session=False)
            )
        raise
    if settings.fault_pause_after_send:
        # Fault tests: the window between the server's accept and our record.
        log.warning(
            "fault pause: sent %s, recording in %.1f s",
            out.outgoing_id,
            settings.fault_pause_after_send,
        )
        services.sleep(settings.fault_pause_after_send)
    now = services.clock()
    with session_scope(services.sessions) as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == out.delivery_id, Delivery.state == "pending")
            .values(state="sent", sent_at=now, claimed_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        next_state = "done" if out.method == "imap-move" else "forwarded"
        if not transition(session, message_id, "forwarding", next_state, now):
            next_state = "unknown"  # moved meanwhile (quarantined by a stale retry)
        _audit(
            session,
            "system",
            "forward",
            message_id,
            team=out.team_slug,
            method=out.method,
            outgoing_message_id=out.outgoing_id,
            to=out.info.to_address,
            confidence=out.info.confidence,
            model_version=out.info.model_version,
            decided_by=out.info.decided_by,
        )
    return next_state if next_state != "unknown" else _state(services, message_id)


def _send(services: Services, out: _Outgoing) -> None:
    settings = services.settings
    if out.method == "smtp":
        data = build_forward(
            out.raw,
            out.info,
            mode=settings.forward_mode,
            sender=settings.smtp_from,
            now=services.clock(),
        )
        services.smtp.send(settings.smtp_from, [out.info.to_address], data)
    elif out.method == "maildir":
        data = build_forward(
            out.raw,
            out.info,
            mode=settings.forward_mode,
            sender=settings.smtp_from,
            now=services.clock(),
        )
        deliver_to_maildir(settings.maildir_outbox, out.team_slug, out.outgoing_id, data)
    else:  # imap-move: the original itself goes into the team's folder
        config, where = out.location if out.location else (None, None)
        if config is None or not isinstance(where, ImapLocation):
            raise MailServerError(
                "IMAP move needs a mail that came from an IMAP mailbox", transient=False
            )
        moved = services.imap_actions(config).move_to_folder(
            where, out.imap_folder, out.outgoing_id
        )
        if not moved:
            raise MailServerError(
                f"the mail is no longer in {where.folder!r} and not in {out.imap_folder!r}",
                transient=False,
            )


# Marking the original --------------------------------------------------------------------


def _location(
    session: Session, message: Message
) -> tuple[MailboxConfig, ImapLocation | str] | None:
    """Where the original is: (mailbox, IMAP location or Maildir file name)."""
    if message.mailbox_id is None:
        return None
    mailbox = session.get(Mailbox, message.mailbox_id)
    if mailbox is None:
        return None
    config = mailbox_config_for(mailbox.url)
    if config is None:
        return None
    if config.kind == "maildir":
        return config, message.source_ref
    return config, ImapLocation(
        folder=config.folder,
        uidvalidity=message.uidvalidity,
        uid=message.uid,
        message_id=message.message_id,
    )


def _mark_original(
    services: Services,
    location: tuple[MailboxConfig, ImapLocation | str],
    *,
    review: bool,
) -> bool:
    settings = services.settings
    config, where = location
    if isinstance(where, str):
        assert config.path is not None
        folder = (
            (settings.review_folder or MAILDIR_REVIEW)
            if review
            else (settings.processed_folder or MAILDIR_DONE)
        )
        return move_maildir_file(config.path, where, folder)
    actions = services.imap_actions(config)
    if review:
        return actions.mark(
            where, keyword=REVIEW_KEYWORD, seen=False, move_to=settings.review_folder
        )
    return actions.mark(where, keyword=ROUTED_KEYWORD, seen=True, move_to=settings.processed_folder)


def _mark_done(services: Services, message_id: int) -> str | None:
    """Flag or move the original in its mailbox; 'done', or None if another task did."""
    with session_scope(services.sessions) as session:
        message = session.get(Message, message_id)
        if message is None or message.route_state != "forwarded":
            return None
        location = _location(session, message)
    found = _mark_original(services, location, review=False) if location else False
    with session_scope(services.sessions) as session:
        if transition(session, message_id, "forwarded", "done", services.clock()):
            _audit(session, "system", "mark-done", message_id, found=found)
            return "done"
    return None


# Quarantine and sweep ----------------------------------------------------------------------


def _quarantine_in(
    session: Session, message_id: int, reason: str, now: datetime, expected: Sequence[str] | str
) -> bool:
    if not transition(session, message_id, expected, "quarantined", now):
        return False
    session.execute(
        update(Delivery)
        .where(Delivery.message_id == message_id, Delivery.state == "pending")
        .values(state="failed", last_error=reason[:2000], claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    _open_review(session, message_id, f"quarantined: {reason}"[:2000], now)
    _audit(session, "system", "quarantine", message_id, reason=reason)
    return True


def quarantine(services: Services, message_id: int, reason: str) -> bool:
    """Give up on a mail after the last retry: state 'quarantined', the reason recorded,
    the pending delivery failed, and an open review item so a person sees it. Never
    drops it. A mail already forwarded is not quarantined (only its IMAP mark failed; the
    sweep tries that again). True if the mail was quarantined now."""
    with session_scope(services.sessions) as session:
        return _quarantine_in(
            session, message_id, reason, services.clock(), ("new", "forwarding", "review")
        )


def stale_messages(services: Services, limit: int = 500) -> list[int]:
    """Live mail that no task seems to be moving: 'new' or 'forwarded' for longer than a
    sweep interval, 'forwarding' whose delivery claim has expired, 'review' resolved by a
    person but not yet forwarded, or waiting but not yet flagged in its mailbox. The sweep
    queues each again (harmless if not needed)."""
    settings = services.settings
    now = services.clock()
    older = now - timedelta(seconds=settings.sweep_interval)
    with session_scope(services.sessions) as session:
        simple = session.scalars(
            select(Message.id)
            .where(Message.route_state.in_(("new", "forwarded")), Message.route_state_at < older)
            .limit(limit)
        ).all()
        forwarding = session.scalars(
            select(Message.id)
            .join(Delivery, Delivery.message_id == Message.id)
            .where(
                Message.route_state == "forwarding",
                Message.route_state_at < older,
                Delivery.state.in_(("pending", "sent")),
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            )
            .limit(limit)
        ).all()
        reviewed = session.scalars(
            select(Message.id)
            .join(ReviewItem, ReviewItem.message_id == Message.id)
            .where(
                Message.route_state == "review",
                or_(
                    ReviewItem.status == "resolved",
                    # Waiting for a person but never flagged in its mailbox (the worker
                    # died between the decision and the flag).
                    and_(ReviewItem.flagged_at.is_(None), Message.route_state_at < older),
                ),
            )
            .limit(limit)
        ).all()
    return sorted({*simple, *forwarding, *reviewed})


def maildir_outbox_files(root: Path, team_slug: str) -> list[Path]:
    """Forwards delivered to a team's Maildir (for tests and the demo)."""
    folder = root / team_slug
    return sorted(p for sub in ("new", "cur") for p in (folder / sub).glob("*") if p.is_file())
