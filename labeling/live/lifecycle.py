"""A live mail's life: its route states, and every change of state with what it records.

::

    arrival ──▶ new ──route──▶ forwarding ──sent──▶ forwarded ──marked in its mailbox──▶ done
                 │                 ▲   ▲                                                  │
                 └──route──▶ review ───┘ a person decides          sent back (misrouted)  │
                               ▲  └──▶ done   (a send-back overruled: the team had it)     │
                               └──────────────────────────────────────────────────────────┘
    new, forwarding, review ──given up after the last retry──▶ quarantined ──a person──▶ forwarding

This module is the only one that changes ``messages.route_state``. Each function makes one
transition together with everything it records — the routing decision, the delivery, the
review item, the quarantine reason, the audit row — in the caller's session; the caller
commits, so a transition is never half recorded. Every transition is a conditional UPDATE
(``… WHERE route_state IN (expected)``): of two racing workers or people exactly one moves
the mail, the other is told (a False or None return) and does nothing.

The worker (:mod:`worker.driver`) does the I/O between transitions — classify, send, mark
the original in its mailbox — and the review pages (:mod:`labeling.live.review`) record
people's decisions; both call this module. Nothing here touches a socket.

Audit rows written here (the dashboard reads them): ``route``, ``review`` (a mail waits for
a person, with the reason), ``forward`` (a forward the server accepted), ``mark-done``,
``flag-review``, ``quarantine``, ``review-decision``, ``review-handled``, ``misroute``,
``filed`` (machine mail recorded and not forwarded: an auto-reply, a bounce, a loop) and
``bounce`` (a forward of this mail bounced; it is back in review).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from labeling.annotation.verify import answered_team
from labeling.errors import LabelingError
from labeling.live import affinity
from labeling.live.affinity import CaseInfo, CustomerKeys
from labeling.live.explain import explain
from labeling.mail.hygiene import Hygiene
from labeling.mail.hygiene import classify as classify_kind
from labeling.mail.values import NormalisedMail, RawMail
from labeling.rules.matching import MailFacts, RuleSpec, facts_of
from labeling.rules.store import routing_rules
from labeling.store.db import rowcount
from labeling.store.ingest import IngestResult, ParsedMail, ingest
from labeling.store.tables import (
    AuditLog,
    Delivery,
    Mailbox,
    Message,
    ReviewItem,
    RoutingDecision,
    Team,
    TeamMember,
    Thread,
    utcnow,
)

RouteState = Literal["new", "review", "forwarding", "forwarded", "done", "quarantined"]
ACTIVE_STATES = ("new", "review", "forwarding", "forwarded")
ROUTED_STATES = ("forwarding", "forwarded", "done")
Mode = Literal["auto", "review"]
Outgoing = Literal["maildir", "smtp", "imap-move"]


# Values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """A team as routing sees it."""

    id: int
    slug: str
    archived: bool = False
    forward_address: str = ""
    imap_folder: str = ""

    def routable(self, outgoing: Outgoing) -> bool:
        """Active, and with somewhere to send mail for ``outgoing``."""
        if self.archived:
            return False
        if outgoing == "smtp":
            return bool(self.forward_address)
        if outgoing == "imap-move":
            return bool(self.imap_folder)
        return True


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """The thread a mail belongs to: the team it was routed to, if any."""

    team_id: int | None
    moved_by_person: bool = False


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """What to do with one mail. ``team`` is None when no team was chosen."""

    mode: Mode
    reason: str
    decided_by: str  # 'rule', 'model', 'thread', 'affinity', 'user'
    team: TeamInfo | None
    confidence: float | None = None
    model_version: str | None = None
    top: tuple[tuple[str, float], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    # The admin rule that decided, or held the mail back for a person ('no-auto').
    rule_id: int | None = None

    @property
    def actor(self) -> str:
        """The audit log's actor: 'rule:<id>', 'model:<version>', 'thread', 'affinity' or
        'system'."""
        if self.decided_by in ("thread", "affinity"):
            return self.decided_by
        if self.decided_by == "rule" and self.rule_id is not None:
            return f"rule:{self.rule_id}"
        if self.model_version:
            return f"model:{self.model_version}"
        return "system"


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """What routing needs to know about one mail in state 'new'."""

    message_id: int
    subject: str
    new_text: str
    quoted_text: str
    is_reply: bool
    thread: ThreadInfo | None
    teams: dict[str, TeamInfo]
    unreadable: str | None  # the parser's reason when the mail could not be read
    sender_name: str = ""  # helps the pseudonymiser find the name in the text
    raw: bytes = b""  # the mail as received: labeling.mail.hygiene reads its headers
    original: Original | None = None  # where it is, to file machine mail in its mailbox
    recent_from_sender: int = 0  # other live mails from the same sender within the hour
    # The enabled admin rules in order, and the mail as they see it.
    rules: tuple[RuleSpec, ...] = ()
    facts: MailFacts | None = None
    # What links the mail to its customer, and their open or recent case (affinity).
    keys: CustomerKeys = field(default_factory=CustomerKeys)
    case: CaseInfo | None = None


@dataclass(frozen=True, slots=True)
class Original:
    """Where a live mail's original is: its mailbox (by the ``mailboxes.url`` key) and its
    place there (IMAP folder position or Maildir file name)."""

    mailbox_key: str
    uidvalidity: int | None
    uid: int | None
    source_ref: str
    message_id: str | None  # the header: a hint for finding a moved mail, never identity
    # What the mail is: a candidate found by Message-ID must have these bytes.
    content_hash: str = ""
    raw_size: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimedForward:
    """A delivery this worker may send now (see :func:`claim_delivery`)."""

    delivery_id: int
    method: str
    outgoing_id: str
    raw: bytes
    team_slug: str
    to_address: str
    imap_folder: str
    decided_by: str
    confidence: float | None
    model_version: str | None
    reason: str
    original_message_id: str | None
    original_subject: str
    sender_name: str
    sender_email: str
    original: Original | None
    # Why it went there ("rule 'X' matched"), and a priority a rule set ('high', 'low').
    explanation: tuple[str, ...] = ()
    priority: str | None = None
    handler: str = ""  # the team member it goes to (``to_address`` is theirs), if any


def outgoing_message_id(content_hash: str, team_slug: str) -> str:
    """The Message-ID of the forward of one mail to one team: the same on every attempt."""
    digest = hashlib.sha256(f"{content_hash}|{team_slug}".encode()).hexdigest()[:24]
    return f"<mailroom.{digest}@mailroom.local>"


# The one transition -------------------------------------------------------------------------


def _move(
    session: Session,
    message_id: int,
    expected: str | Sequence[str],
    new: RouteState,
    now: datetime,
) -> bool:
    """Move ``route_state`` from ``expected`` to ``new`` if it is still there; True if it
    moved. One conditional UPDATE, so of two racing callers exactly one wins."""
    states = [expected] if isinstance(expected, str) else list(expected)
    result = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.route_state.in_(states))
        .values(route_state=new, route_state_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def _audit(
    session: Session, actor: str, action: str, message_id: int, now: datetime, **details: Any
) -> None:
    session.add(
        AuditLog(at=now, actor=actor, action=action, message_id=message_id, details=details)
    )


def state_of(session: Session, message_id: int) -> str | None:
    """The mail's route state (None for archive mail or an unknown id)."""
    return session.scalar(select(Message.route_state).where(Message.id == message_id))


# Arrival -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """A live mail recorded: its row, and whether it must be queued for routing."""

    result: IngestResult
    queue: bool

    @property
    def message_id(self) -> int:
        return self.result.message_id


def record_arrival(
    session: Session,
    mailbox_id: int,
    raw_mail: RawMail,
    now: datetime | None = None,
    *,
    pre_parsed: ParsedMail | None = None,
) -> Arrival:
    """Store one live mail and set it on its way (state 'new').

    A mail the store already holds is not routed again; if it is this mailbox's mail seen
    under another UIDVALIDITY or file name, its location is updated so marking it done finds
    it. A copy of archive mail (never routed) is routed now. ``pre_parsed``: the mail as
    :func:`labeling.store.ingest.read` parsed it before the transaction began.
    """
    now = now or utcnow()
    result = ingest(session, raw_mail, origin="live", mailbox_id=mailbox_id, pre_parsed=pre_parsed)
    row = session.get(Message, result.message_id)
    assert row is not None
    if result.outcome != "duplicate":
        row.route_state, row.route_state_at = "new", now
        return Arrival(result, True)
    moved = (
        row.uidvalidity != raw_mail.uidvalidity  # the folder was renumbered
        if raw_mail.uid is not None
        else row.source_ref != raw_mail.source_ref  # a Maildir file was renamed
    )
    if row.mailbox_id == mailbox_id and moved:
        # (A second copy in the same folder, same UIDVALIDITY, is left where it is: the
        # first copy's location stays the one that is marked.)
        _move_location(session, row, raw_mail)
    if row.route_state is None:
        row.route_state, row.route_state_at = "new", now
        if row.mailbox_id is None:
            row.mailbox_id = mailbox_id
            _move_location(session, row, raw_mail)
        return Arrival(result, True)
    return Arrival(result, False)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket another system hands in over the HTTP API (``POST /api/v1/tickets``)."""

    integration: str  # the API token's name
    external_id: str  # the ticket's id in that system
    subject: str
    text: str
    sender: str  # an address
    sender_name: str = ""


def ticket_mail(ticket: Ticket) -> bytes:
    """The ticket written as a mail, so it lives the life of one: the same bytes for the
    same ticket (a repeated POST is a duplicate), and no header the caller can add to."""
    from email.message import EmailMessage
    from email.policy import SMTP

    from labeling.mail.addresses import display_address

    def one_line(value: str) -> str:
        return " ".join(value.split())[:900]

    key = hashlib.sha256(f"{ticket.integration}|{ticket.external_id}".encode()).hexdigest()
    mail = EmailMessage(policy=SMTP)
    mail["From"] = display_address(one_line(ticket.sender_name), ticket.sender) or "unknown@api"
    mail["To"] = f"api+{key[:12]}@mailroom.local"
    mail["Subject"] = one_line(ticket.subject)
    mail["Message-ID"] = f"<ticket.{key[:32]}@mailroom.api>"
    mail["X-Mailroom-Ticket"] = one_line(f"{ticket.integration}/{ticket.external_id}")
    mail.set_content(ticket.text)
    return mail.as_bytes()


def record_ticket(session: Session, ticket: Ticket, now: datetime | None = None) -> Arrival:
    """Store a ticket as a live mail (no mailbox: ``source_folder`` 'api/<integration>')
    and set it on its way, as :func:`record_arrival` does for mail."""
    now = now or utcnow()
    raw = RawMail(
        raw=ticket_mail(ticket),
        folder=f"api/{ticket.integration}"[:255],
        source_ref=f"api:{ticket.integration}:{ticket.external_id}",
    )
    result = ingest(session, raw, origin="live")
    row = session.get(Message, result.message_id)
    assert row is not None
    if row.route_state is None:
        row.route_state, row.route_state_at = "new", now
        return Arrival(result, True)
    return Arrival(result, False)


@dataclass(frozen=True, slots=True)
class TicketCallback:
    """The decision about a ticket, to POST to its integration's callback URL."""

    url: str
    payload: dict[str, Any]


def ticket_callback(session: Session, message_id: int) -> TicketCallback | None:
    """What to tell the integration that handed in this ticket about where it is now; None
    for a mail, or an integration without a callback URL."""
    from labeling.store.tables import ApiToken

    message = session.get(Message, message_id)
    if message is None or not message.source_folder.startswith("api/"):
        return None
    integration = message.source_folder.removeprefix("api/")
    token = session.scalar(
        select(ApiToken).where(ApiToken.name == integration, ApiToken.revoked_at.is_(None))
    )
    if token is None or not token.callback_url:
        return None
    decision = session.scalar(
        select(RoutingDecision).where(
            RoutingDecision.message_id == message_id, RoutingDecision.is_current
        )
    )
    team = session.get(Team, decision.team_id) if decision and decision.team_id else None
    return TicketCallback(
        url=token.callback_url,
        payload={
            "ticket": message_id,
            "id": message.source_ref.removeprefix(f"api:{integration}:"),
            "state": message.route_state,
            "team": team.slug if team is not None else None,
            "mode": decision.mode if decision else None,
            "decided_by": decision.decided_by if decision else None,
            "reasons": list(
                explain(decision.decided_by, decision.reason, decision.confidence, decision.details)
            )
            if decision
            else [],
            "priority": (decision.details or {}).get("priority") if decision else None,
        },
    )


def record_callback(
    session: Session, message_id: int, url: str, outcome: str, now: datetime
) -> None:
    """Audit a callback: ``outcome`` is the HTTP status or the error (never retried)."""
    _audit(session, "system", "callback", message_id, now, url=url[:300], outcome=outcome[:300])


def _move_location(session: Session, row: Message, raw_mail: RawMail) -> None:
    taken = None
    if raw_mail.uid is not None:
        taken = session.scalar(
            select(Message.id).where(
                Message.mailbox_id == row.mailbox_id,
                Message.uidvalidity == raw_mail.uidvalidity,
                Message.uid == raw_mail.uid,
            )
        )
    if taken is None:
        row.uidvalidity, row.uid = raw_mail.uidvalidity, raw_mail.uid
        row.source_ref = raw_mail.source_ref


# Routing -----------------------------------------------------------------------------------


def teams_for_routing(session: Session) -> dict[str, TeamInfo]:
    """Every team (archived ones too: a thread may point at one), by slug."""
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


SENDER_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AffinitySetup:
    """What customer affinity needs from the settings: the window
    (``MAILROOM_AFFINITY_DAYS``), the organisation's number patterns (the pseudonymiser's)
    and Mailroom's own addresses (never a customer)."""

    days: int = 0
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()
    own_addresses: tuple[str, ...] = ()


def _customer(
    session: Session,
    message_id: int,
    sender_email: str,
    texts: Sequence[str],
    now: datetime,
    setup: AffinitySetup | None,
) -> tuple[CustomerKeys, CaseInfo | None]:
    if setup is None or affinity.is_erased(session, sender_email):
        return CustomerKeys(), None
    keys = affinity.customer_keys(
        sender_email, texts, setup.patterns, own_addresses=setup.own_addresses
    )
    return keys, affinity.find_case(session, message_id, keys, now, days=setup.days)


def routing_input(
    session: Session,
    message_id: int,
    now: datetime | None = None,
    *,
    customer: AffinitySetup | None = None,
) -> RoutingInput | None:
    """What routing needs of a mail in state 'new'; None when it is not (any more).
    ``customer``: link the mail to its customer (keys, and their case within the window)."""
    message = session.get(Message, message_id)
    if message is None or message.route_state != "new":
        return None
    thread = message.thread
    now = now or utcnow()
    recent = _recent_from(session, message.sender_email, now, message_id)
    keys, case = (
        _customer(
            session,
            message_id,
            message.sender_email,
            (message.subject, message.new_text),
            now,
            customer,
        )
        if message.status == "ok"
        else (CustomerKeys(), None)
    )
    rules = routing_rules(session)
    teams = teams_for_routing(session)
    facts = None
    if rules and message.status == "ok":
        needs_headers = any(rule.conditions.needs_headers for rule in rules)
        facts = facts_of(
            subject=message.subject,
            new_text=message.new_text,
            quoted_text=message.quoted_text,
            sender_email=message.sender_email,
            recipients=message.recipients,
            attachments=message.attachments,
            language=message.language,
            raw=message.raw if needs_headers and message.raw_expired_at is None else None,
            kind=message.kind,
        )
    return RoutingInput(
        message_id=message_id,
        subject=message.subject,
        new_text=message.new_text,
        quoted_text=message.quoted_text,
        is_reply=bool(message.in_reply_to or message.references),
        thread=_thread_info(
            session,
            thread,
            teams,
            in_reply_to=message.in_reply_to,
            references=[str(r) for r in message.references or ()],
            exclude=message_id,
        ),
        teams=teams,
        unreadable=(
            f"unreadable mail: {message.quarantine_reason}"
            if message.status == "quarantined"
            else None
        ),
        sender_name=message.sender_name,
        raw=message.raw if message.status == "ok" else b"",
        original=original_of(session, message),
        recent_from_sender=recent,
        rules=rules,
        facts=facts,
        keys=keys,
        case=case,
    )


def _thread_info(
    session: Session,
    thread: Thread | None,
    teams: Mapping[str, TeamInfo],
    *,
    in_reply_to: str | None,
    references: Sequence[str],
    exclude: int | None = None,
) -> ThreadInfo | None:
    """The thread as routing sees it: the team a person moved it to, else the team of the
    mail the reply answers (:func:`labeling.annotation.verify.answered_team`: where that
    mail was routed, or — a conversation from the archive — the team people gave it or
    its folder; what training certifies thread decisions on), else the team the thread's
    first live mail went to."""
    if thread is None:
        return None
    if thread.moved_by_person and thread.team_id is not None:
        return ThreadInfo(team_id=thread.team_id, moved_by_person=True)
    slug = answered_team(
        session, thread.id, in_reply_to=in_reply_to, references=references, exclude=exclude
    )
    team = teams.get(slug) if slug is not None else None
    return ThreadInfo(team_id=team.id if team is not None else thread.team_id)


def _recent_from(session: Session, email: str, now: datetime, exclude: int | None) -> int:
    """Other live mails from ``email`` that arrived within the sender window."""
    if not email:
        return 0
    query = select(func.count(Message.id)).where(
        Message.sender_email == email,
        Message.origin == "live",
        Message.imported_at >= now - SENDER_WINDOW,
    )
    if exclude is not None:
        query = query.where(Message.id != exclude)
    return int(session.scalar(query) or 0)


def preview_input(
    session: Session,
    raw: bytes,
    mail: NormalisedMail,
    now: datetime,
    *,
    customer: AffinitySetup | None = None,
) -> RoutingInput:
    """What routing would know of ``mail`` (not stored) if it arrived now: the thread its
    In-Reply-To or References name, the teams, the sender's recent mail. Reads only."""
    parents = [key for key in (*mail.references, mail.in_reply_to) if key]
    thread = None
    if parents:
        thread = session.scalar(
            select(Thread).where(Thread.root_key.in_(parents)).order_by(Thread.id).limit(1)
        ) or session.scalar(
            select(Thread)
            .join(Message, Message.thread_id == Thread.id)
            .where(Message.message_id.in_(parents))
            .order_by(Thread.id)
            .limit(1)
        )
    sender_email = mail.sender.email if mail.sender else ""
    rules = routing_rules(session)
    teams = teams_for_routing(session)
    facts = (
        facts_of(
            subject=mail.subject,
            new_text=mail.new_text,
            quoted_text=mail.quoted_text,
            sender_email=sender_email,
            recipients={
                kind: [{"email": a.email} for a in addresses]
                for kind, addresses in (("to", mail.to), ("cc", mail.cc))
            },
            attachments=[
                {"filename": a.filename, "content_type": a.content_type}
                for a in mail.attachments
            ],
            language=mail.language,
            raw=raw,
            kind=classify_kind(raw).kind,
        )
        if rules
        else None
    )
    return RoutingInput(
        message_id=0,
        subject=mail.subject,
        new_text=mail.new_text,
        quoted_text=mail.quoted_text,
        is_reply=bool(parents),
        thread=_thread_info(
            session,
            thread,
            teams,
            in_reply_to=mail.in_reply_to,
            references=list(mail.references),
        ),
        teams=teams,
        unreadable=None,
        sender_name=mail.sender.name if mail.sender else "",
        raw=raw,
        recent_from_sender=_recent_from(session, sender_email, now, None),
        rules=rules,
        facts=facts,
        case=_customer(session, 0, sender_email, (mail.subject, mail.new_text), now, customer)[1],
    )


def record_route(
    session: Session,
    message_id: int,
    decision: RouteDecision,
    now: datetime,
    *,
    outgoing: Outgoing,
    kind: str | None = None,
    keys: CustomerKeys | None = None,
) -> str | None:
    """new → forwarding (a confident decision: a pending delivery is created) or new →
    review (an open review item with the reason); the decision and its audit row are
    recorded, and the mail's ``kind`` (labeling.mail.hygiene) and the ``keys`` that link it
    to its customer (:mod:`labeling.live.affinity`) when given. The state moved to, or None
    when another task routed the mail meanwhile."""
    target: RouteState = "forwarding" if decision.mode == "auto" else "review"
    if not _move(session, message_id, "new", target, now):
        return None
    message = session.get(Message, message_id)
    assert message is not None
    if kind is not None:
        message.kind = kind
    if keys:
        affinity.record_keys(session, message_id, keys)
    _record_decision(session, message_id, decision, now)
    if decision.mode == "auto" and decision.team is not None:
        handler = decision.details.get("handler_id") if decision.decided_by == "affinity" else None
        _new_delivery(
            session,
            message,
            decision.team,
            outgoing,
            handler=handler if isinstance(handler, int) else None,
            now=now,
        )
        if message.thread is not None and message.thread.team_id is None:
            message.thread.team_id = decision.team.id
    else:
        urgent = bool(decision.details.get("urgent")) or decision.details.get("priority") == "high"
        _open_review(session, message_id, decision.reason, now, urgent=urgent)
    return target


def record_filed(
    session: Session, message_id: int, verdict: Hygiene, now: datetime, *, marked: bool
) -> str | None:
    """Machine mail (``verdict.handling == 'file'``: an auto-reply, a bounce, our own forward
    come back) is recorded and never forwarded: new → done, its kind and an audit ``filed``
    row with the signals. It stays in its thread (stored so at arrival). A bounce of one of
    our forwards also marks that delivery failed and puts the mail back in review with the
    reason (see :func:`record_bounce`). ``marked``: whether the original was found and
    flagged in its mailbox. 'done', or None when another task routed the mail meanwhile."""
    if not _move(session, message_id, "new", "done", now):
        return None
    message = session.get(Message, message_id)
    assert message is not None
    message.kind = verdict.kind
    returned: list[int] = []
    if verdict.kind == "bounce" and verdict.failed:
        returned = record_bounce(session, message_id, verdict, now)
    _audit(
        session,
        "system",
        "filed",
        message_id,
        now,
        kind=verdict.kind,
        reason=verdict.reason[:500],
        signals=[signal[:200] for signal in verdict.signals[:10]],
        bounced_messages=returned,
        found=marked,
    )
    return "done"


def record_bounce(session: Session, bounce_id: int, verdict: Hygiene, now: datetime) -> list[int]:
    """A bounce names forwards of ours (``verdict.our_ids``): each sent delivery among them
    is marked failed, and its mail (forwarded or done) goes back to review with the reason,
    so a person sends it elsewhere. The ids of the mails put back in review."""
    if not verdict.our_ids:
        return []
    why = "bounced"
    if verdict.recipients:
        why += " by " + ", ".join(verdict.recipients[:3])
    if verdict.status:
        why += f": {verdict.status}"
    why = why[:1000]
    returned: list[int] = []
    deliveries = session.scalars(
        select(Delivery).where(
            Delivery.outgoing_message_id.in_(list(verdict.our_ids)), Delivery.state == "sent"
        )
    ).all()
    for delivery in deliveries:
        if delivery.message_id == bounce_id:
            continue
        if not _move(session, delivery.message_id, ("forwarded", "done"), "review", now):
            continue
        delivery.state, delivery.last_error = "failed", why
        item = session.scalar(
            select(ReviewItem).where(ReviewItem.message_id == delivery.message_id)
        )
        if item is None:
            session.add(
                ReviewItem(
                    message_id=delivery.message_id, status="open", reason=why, created_at=now
                )
            )
        else:
            item.status, item.reason, item.created_at = "open", why, now
            item.resolved_at, item.resolved_by, item.team_id = None, None, None
            item.flagged_at, item.closed_as = None, None
        team = session.get(Team, delivery.team_id)
        _audit(
            session,
            "system",
            "bounce",
            delivery.message_id,
            now,
            team=team.slug if team is not None else None,
            outgoing_message_id=delivery.outgoing_message_id,
            bounce_message_id=bounce_id,
            reason=why,
        )
        returned.append(delivery.message_id)
    return returned


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
            rule_id=decision.rule_id,
        )
    )
    _audit(
        session,
        user or decision.actor,
        "route",
        message_id,
        now,
        team=team.slug if team is not None else None,
        mode=decision.mode,
        confidence=decision.confidence,
        model_version=decision.model_version,
        reason=decision.reason,
        decided_by=decided_by,
        **{
            k: v
            for k, v in decision.details.items()
            if k
            in (
                "topic_changed",
                "model_team",
                "rule",
                "priority",
                "affinity_case",
                "affinity_age_days",
                "handler_id",
            )
        },
    )


ASSIGN_WINDOW = timedelta(days=30)


def assign_member(
    session: Session,
    team_id: int,
    now: datetime,
    *,
    handler: int | None = None,
    thread_id: int | None = None,
) -> int | None:
    """The team member a forward to ``team_id`` goes to: ``handler`` (the member who handles
    the customer's case) while active in the team; else the member who had the latest
    forward of the mail's thread to this team; else the active member with an address who
    received the fewest forwards in the last 30 days (the lowest id on a tie). None for a
    team without members (the forward goes to the team's address)."""
    members = session.scalars(
        select(TeamMember).where(
            TeamMember.team_id == team_id, TeamMember.active, TeamMember.email != ""
        )
    ).all()
    if not members:
        return None
    if handler is None and thread_id is not None:
        handler = session.scalar(
            select(Delivery.member_id)
            .join(Message, Message.id == Delivery.message_id)
            .where(
                Message.thread_id == thread_id,
                Delivery.team_id == team_id,
                Delivery.member_id.is_not(None),
            )
            .order_by(Delivery.id.desc())
            .limit(1)
        )
    if handler is not None and any(member.id == handler for member in members):
        return handler
    load = dict(
        session.execute(
            select(Delivery.member_id, func.count(Delivery.id))
            .where(
                Delivery.member_id.in_([member.id for member in members]),
                Delivery.created_at >= now - ASSIGN_WINDOW,
            )
            .group_by(Delivery.member_id)
        ).all()
    )
    return min(members, key=lambda member: (load.get(member.id, 0), member.id)).id


def _new_delivery(
    session: Session,
    message: Message,
    team: TeamInfo,
    outgoing: Outgoing,
    *,
    handler: int | None = None,
    now: datetime | None = None,
) -> None:
    outgoing_id = outgoing_message_id(message.content_hash, team.slug)
    member_id = assign_member(
        session, team.id, now or utcnow(), handler=handler, thread_id=message.thread_id
    )
    existing = session.scalar(select(Delivery).where(Delivery.message_id == message.id))
    if existing is not None:
        # A mail sent back as misrouted goes out again, to the team a person chose: the one
        # delivery row is re-aimed (the first forward stays in the audit log).
        existing.team_id, existing.method, existing.state = team.id, outgoing, "pending"
        existing.outgoing_message_id, existing.attempts = outgoing_id, 0
        existing.last_error = existing.claimed_until = existing.sent_at = None
        existing.member_id = member_id
        return
    session.add(
        Delivery(
            message_id=message.id,
            team_id=team.id,
            method=outgoing,
            state="pending",
            outgoing_message_id=outgoing_id,
            member_id=member_id,
        )
    )


def _open_review(
    session: Session, message_id: int, reason: str, now: datetime, *, urgent: bool = False
) -> None:
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == message_id))
    if item is None:
        session.add(
            ReviewItem(
                message_id=message_id, status="open", reason=reason, created_at=now, urgent=urgent
            )
        )
    else:  # a mail that comes back to review (quarantined after a person's decision)
        item.status, item.reason, item.resolved_at = "open", reason, None
    _audit(session, "system", "review", message_id, now, reason=reason)


# Delivery ----------------------------------------------------------------------------------


def original_of(session: Session, message: Message) -> Original | None:
    """Where the mail's original is, or None when it came from no mailbox."""
    if message.mailbox_id is None:
        return None
    mailbox = session.get(Mailbox, message.mailbox_id)
    if mailbox is None:
        return None
    return Original(
        mailbox_key=mailbox.url,
        uidvalidity=message.uidvalidity,
        uid=message.uid,
        source_ref=message.source_ref,
        message_id=message.message_id,
        content_hash=message.content_hash,
        raw_size=message.raw_size,
    )


def claim_delivery(
    session: Session, message_id: int, now: datetime, *, claim_seconds: float
) -> ClaimedForward | None:
    """Claim the pending delivery of a 'forwarding' mail for ``claim_seconds``.

    None when another live worker holds the claim, or when the forward was already sent
    (then the mail moves on to 'forwarded' here). A claim that expires — its worker died
    between the server's accept and :func:`record_sent` — lets the next worker send again,
    with the same deterministic Message-ID: at-least-once, recognisable downstream.
    """
    delivery = session.scalar(select(Delivery).where(Delivery.message_id == message_id))
    if delivery is None:  # pragma: no cover - 'forwarding' is always set with a delivery
        raise RuntimeError(f"message {message_id} is forwarding without a delivery")
    if delivery.state == "sent":
        _move(session, message_id, "forwarding", "forwarded", now)
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
                claimed_until=now + timedelta(seconds=claim_seconds),
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
    member = session.get(TeamMember, delivery.member_id) if delivery.member_id else None
    if member is not None and not (member.active and member.email and member.team_id == team.id):
        member = None  # left the team meanwhile: the team's address has it
    decision = session.scalar(
        select(RoutingDecision).where(
            RoutingDecision.message_id == message_id, RoutingDecision.is_current
        )
    )
    return ClaimedForward(
        delivery_id=delivery.id,
        method=delivery.method,
        outgoing_id=delivery.outgoing_message_id,
        raw=message.raw,
        team_slug=team.slug,
        to_address=member.email if member is not None else team.forward_address,
        imap_folder=team.imap_folder,
        decided_by=decision.decided_by if decision else "system",
        confidence=decision.confidence if decision else None,
        model_version=decision.model_version if decision else None,
        reason=decision.reason if decision else "",
        original_message_id=message.message_id,
        original_subject=message.subject,
        sender_name=message.sender_name,
        sender_email=message.sender_email,
        original=original_of(session, message),
        explanation=(
            explain(decision.decided_by, decision.reason, decision.confidence, decision.details)
            if decision
            else ()
        )
        + (_handler_line(session, message, member, team, decision) if member else ()),
        priority=_priority(session, message_id),
        handler=member.name if member is not None else "",
    )


def _handler_line(
    session: Session,
    message: Message,
    member: TeamMember,
    team: Team,
    decision: RoutingDecision | None,
) -> tuple[str, ...]:
    """The cover note's word on who gets the forward, and why them."""
    why = f"assigned in team {team.slug}"
    if decision is not None and decision.details.get("handler_id") == member.id:
        why = "who handles this customer's case"
    elif message.thread_id is not None and session.scalar(
        select(Delivery.id)
        .join(Message, Message.id == Delivery.message_id)
        .where(
            Message.thread_id == message.thread_id,
            Message.id != message.id,
            Delivery.member_id == member.id,
        )
        .limit(1)
    ):
        why = "who has its thread"
    return (f"sent to {member.name} <{member.email}>, {why}",)


def _priority(session: Session, message_id: int) -> str | None:
    """The priority a rule set when the mail was routed (a person's later decision keeps
    it)."""
    for details in session.scalars(
        select(RoutingDecision.details)
        .where(RoutingDecision.message_id == message_id)
        .order_by(RoutingDecision.id.desc())
    ):
        if isinstance(details, Mapping) and details.get("priority"):
            return str(details["priority"])
    return None


def release_claim(session: Session, delivery_id: int, error: str) -> None:
    """A send failed: give the claim back so a retry (or another worker) may send at once."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == "pending")
        .values(claimed_until=None, last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


def record_sent(
    session: Session, message_id: int, forward: ClaimedForward, now: datetime
) -> str | None:
    """The server accepted the forward: forwarding → forwarded (→ done for an IMAP move,
    which moved the original itself). The state moved to, or None when the mail had moved
    meanwhile (quarantined by a stale retry)."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == forward.delivery_id, Delivery.state == "pending")
        .values(state="sent", sent_at=now, claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    next_state: RouteState = "done" if forward.method == "imap-move" else "forwarded"
    moved = _move(session, message_id, "forwarding", next_state, now)
    _audit(
        session,
        "system",
        "forward",
        message_id,
        now,
        team=forward.team_slug,
        method=forward.method,
        outgoing_message_id=forward.outgoing_id,
        to=forward.to_address,
        confidence=forward.confidence,
        model_version=forward.model_version,
        decided_by=forward.decided_by,
    )
    return next_state if moved else None


def original_to_mark(session: Session, message_id: int) -> tuple[bool, Original | None]:
    """(whether the mail is 'forwarded' and waits to be marked done, where its original is)."""
    message = session.get(Message, message_id)
    if message is None or message.route_state != "forwarded":
        return False, None
    return True, original_of(session, message)


def record_done(session: Session, message_id: int, found: bool, now: datetime) -> bool:
    """forwarded → done once the original is flagged or moved in its mailbox (``found``:
    whether it was still there). False when another task did it."""
    if not _move(session, message_id, "forwarded", "done", now):
        return False
    _audit(session, "system", "mark-done", message_id, now, found=found)
    return True


# Review ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewStep:
    """What the worker does for a mail in 'review': nothing (a person has yet to decide, or
    it is flagged already), flag its original as waiting, or send it on (``forward``)."""

    action: Literal["wait", "flag", "forward"]
    original: Original | None = None


def review_step(
    session: Session, message_id: int, now: datetime, *, outgoing: Outgoing
) -> ReviewStep:
    """The next step of a mail in 'review'. A resolved item whose mail is still in 'review'
    (a decision recorded before the decision itself moved the mail on) is sent on here."""
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == message_id))
    message = session.get(Message, message_id)
    if item is None or message is None or message.route_state != "review":
        return ReviewStep("wait")
    if item.status == "resolved" and item.team_id is not None:
        team = session.get(Team, item.team_id)
        if team is None:
            return ReviewStep("wait")
        user = f"user:{item.resolved_by}" if item.resolved_by else "user:?"
        moved = _forward_decided(session, message, team, user, now, outgoing, ("review",))
        return ReviewStep("forward" if moved else "wait")
    if item.status != "open" or item.flagged_at is not None:
        return ReviewStep("wait")
    return ReviewStep("flag", original_of(session, message))


def record_review_flagged(session: Session, message_id: int, found: bool, now: datetime) -> None:
    """The original of a waiting mail is flagged in its mailbox (``found``: it was there)."""
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.message_id == message_id)
        .values(flagged_at=now)
        .execution_options(synchronize_session=False)
    )
    _audit(session, "system", "flag-review", message_id, now, found=found)


def _forward_decided(
    session: Session,
    message: Message,
    team: Team,
    user: str,
    now: datetime,
    outgoing: Outgoing,
    expected: Sequence[str],
) -> bool:
    """A person chose ``team``: expected → forwarding, with the decision and the delivery;
    the thread follows the person's choice."""
    if not _move(session, message.id, expected, "forwarding", now):
        return False
    info = TeamInfo(team.id, team.slug, team.archived_at is not None)
    decision = RouteDecision(mode="auto", reason="reviewed", decided_by="user", team=info)
    _record_decision(session, message.id, decision, now, user=user)
    _new_delivery(session, message, info, outgoing, now=now)
    thread = message.thread
    if thread is not None and thread.team_id != team.id:
        # A person chose the thread's team: later replies follow that choice.
        thread.moved_by_person = True
        thread.team_id = team.id
    return True


def open_review_item(session: Session, message_id: int) -> ReviewItem | None:
    return session.scalar(select(ReviewItem).where(ReviewItem.message_id == message_id))


def decide_review(
    session: Session,
    message: Message,
    team: Team,
    user_id: int,
    now: datetime,
    *,
    outgoing: Outgoing,
    overruled: bool,
    audit: Mapping[str, Any],
) -> bool:
    """A person sends a waiting mail to ``team``: the review item is resolved and the mail
    goes on its way in one step — review (or quarantined, for a readable mail the worker
    gave up on) → forwarding with the decision and the delivery; or, when ``overruled``
    (the team that sent it back already has it), review → done. ``audit`` is the
    ``review-decision`` row's details. False when the item was no longer open (another
    reviewer decided first); nothing is recorded then."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.message_id == message.id, ReviewItem.status == "open")
        .values(status="resolved", resolved_at=now, resolved_by=user_id, team_id=team.id)
        .execution_options(synchronize_session=False)
    )
    if not rowcount(result):
        return False
    if overruled:
        _move(session, message.id, "review", "done", now)
    else:
        _forward_decided(
            session, message, team, f"user:{user_id}", now, outgoing, ("review", "quarantined")
        )
    _audit(session, f"user:{user_id}", "review-decision", message.id, now, **audit)
    return True


def close_by_hand(
    session: Session, message_id: int, user_id: int, reason: str, now: datetime
) -> bool:
    """A person dealt with an unreadable mail outside Mailroom: its review item is closed
    (the mail stays 'quarantined'; nothing is forwarded or learnt). False when the item was
    no longer open."""
    if not _close_unforwarded(session, message_id, user_id, "by-hand", now):
        return False
    _audit(session, f"user:{user_id}", "review-handled", message_id, now, reason=reason)
    return True


def close_as_no_team(
    session: Session, message_id: int, user_id: int, now: datetime, *, note: str = ""
) -> bool:
    """A person found that a waiting mail belongs to no team we have: review → done,
    nothing forwarded. Such mail teaches the out-of-scope detector, and its share of the
    mail people decide is the live share of unknown mail the thresholds must hold for.
    False when the item was no longer open."""
    if not _close_unforwarded(session, message_id, user_id, "no-team", now):
        return False
    _move(session, message_id, ("review", "quarantined"), "done", now)
    _audit(session, f"user:{user_id}", "review-no-team", message_id, now, note=note[:500])
    return True


def _close_unforwarded(
    session: Session, message_id: int, user_id: int, closed_as: str, now: datetime
) -> bool:
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.message_id == message_id, ReviewItem.status == "open")
        .values(
            status="resolved",
            resolved_at=now,
            resolved_by=user_id,
            team_id=None,
            closed_as=closed_as,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(rowcount(result))


def send_back(
    session: Session, message_id: int, user_id: int, now: datetime, *, audit: Mapping[str, Any]
) -> bool:
    """A routed mail was misrouted: forwarded or done → review, with an open review item
    (reason ``misrouted``) and a ``misroute`` audit row. Only mail the team received can be
    sent back; False when the mail is not in one of those states (a forward under way).
    LabelingError when its raw mail has expired (MAILROOM_RETENTION_DAYS): there is nothing
    left to forward again."""
    expired = session.scalar(select(Message.raw_expired_at).where(Message.id == message_id))
    if expired is not None:
        raise LabelingError(
            f"mail #{message_id} arrived too long ago: its original was deleted under the "
            "retention period and cannot be forwarded again; forward it by hand"
        )
    if not _move(session, message_id, ("forwarded", "done"), "review", now):
        return False
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == message_id))
    if item is None:
        session.add(
            ReviewItem(message_id=message_id, status="open", reason="misrouted", created_at=now)
        )
    else:
        item.status, item.reason, item.created_at = "open", "misrouted", now
        item.resolved_at, item.resolved_by, item.team_id, item.flagged_at = None, None, None, None
    _audit(session, f"user:{user_id}", "misroute", message_id, now, **audit)
    return True


# Quarantine and the sweep ------------------------------------------------------------------


def quarantine(
    session: Session,
    message_id: int,
    reason: str,
    now: datetime,
    expected: Sequence[str] | str = ("new", "forwarding", "review"),
) -> bool:
    """Give up on a mail after the last retry: state 'quarantined', the reason recorded,
    the pending delivery failed, and an open review item so a person sees it. Never drops
    it. A mail already forwarded is not quarantined (only its IMAP mark failed; the sweep
    tries that again). True if the mail was quarantined now."""
    if not _move(session, message_id, expected, "quarantined", now):
        return False
    session.execute(
        update(Delivery)
        .where(Delivery.message_id == message_id, Delivery.state == "pending")
        .values(state="failed", last_error=reason[:2000], claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    _open_review(session, message_id, f"quarantined: {reason}"[:2000], now)
    _audit(session, "system", "quarantine", message_id, now, reason=reason)
    return True


def stale_messages(
    session: Session, now: datetime, *, older_than: float, limit: int = 500
) -> list[int]:
    """Live mail that no task seems to be moving: 'new' or 'forwarded' for longer than
    ``older_than`` seconds, 'forwarding' whose delivery claim has expired, 'review' resolved
    by a person but not yet forwarded, or waiting but not yet flagged in its mailbox. The
    sweep queues each again (harmless if not needed)."""
    older = now - timedelta(seconds=older_than)
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
                # Waiting for a person but never flagged in its mailbox (the worker died
                # between the decision and the flag).
                and_(ReviewItem.flagged_at.is_(None), Message.route_state_at < older),
            ),
        )
        .limit(limit)
    ).all()
    return sorted({*simple, *forwarding, *reviewed})
