"""Review: a person settles what the model was unsure of, and teams send misrouted mail back.

The worker opens a :class:`ReviewItem` for every live mail it will not route by itself
(below threshold, out of scope, no model, a model error, a quarantined mail). Here:

* :func:`next_item` — the oldest open item with the model's top three teams, and the other
  open items that are near-duplicates of it (same shingles as :mod:`labeling.annotation.neardup`).
* :func:`decide` / :func:`decide_group` — a reviewer picks the team. The item is resolved,
  the choice becomes a human label (source ``review``) and an audit row says who chose what,
  what the model had said and with which version. The caller commits and then queues the
  forward (the worker's ``forward_message`` task): the page never waits on SMTP.
* :func:`send_back` — a routed mail was misrouted: it returns to review with the reason,
  and the reviewer's decision then counts as a correction of the first routing.

Every state change is a conditional UPDATE on ``messages.route_state`` (as in the worker),
so two reviewers deciding the same mail at once, or a decision racing a send-back, change it
once: the slower one gets :class:`ReviewConflict`.

Audit rows written here (the dashboard reads them):

``review-decision``: ``{"team", "model_team", "model_version", "corrected", "misroute",
"from_team"}`` — ``corrected`` is True when the person chose another team than the model's
top one (or than the team a misrouted mail had gone to).

``misroute``: ``{"from_team", "model_version", "auto", "note"}`` — ``auto`` is True when
the mail had been routed without a person (by the model or its thread).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.orm import Session

from labeling.annotation.neardup import MIN_SHINGLES, shingles
from labeling.annotation.queue import active_team, active_user
from labeling.errors import LabelingError
from labeling.live import lifecycle
from labeling.live.explain import explain
from labeling.live.lifecycle import ROUTED_STATES, Outgoing
from labeling.mail.model_text import model_text
from labeling.store.tables import (
    Annotation,
    AuditLog,
    Delivery,
    Message,
    ReviewItem,
    RoutingDecision,
    Team,
    User,
    utcnow,
)

if TYPE_CHECKING:
    from labeling.mail.pseudonymise import Pseudonymiser

# Near-duplicates among open review items: the Jaccard similarity of their shingles.
GROUP_SIMILARITY = 0.8
# Open items compared with the one shown; the oldest first, so the group is found among the
# mail that has waited longest.
GROUP_SCAN_LIMIT = 2000
# Items one reviewer may have passed over at once (the page keeps the newest).
PASSED_LIMIT = 500


class ReviewConflict(LabelingError):
    """The mail is no longer where the request expected it (someone else acted first)."""


@dataclass(frozen=True, slots=True)
class TeamChoice:
    team_id: int | None  # None: a label the model knows that is no longer a team here
    slug: str
    name: str
    probability: float


@dataclass(frozen=True, slots=True)
class ReviewCard:
    """What the review page shows for one mail."""

    item_id: int
    message: Message
    reason: str  # why it waits: 'below-threshold', 'out-of-scope', 'misrouted', …
    created_at: datetime
    top: tuple[TeamChoice, ...]  # the model's top three, best first; empty without a model
    model_version: str | None
    from_team: str | None  # for a misrouted mail: the name of the team that sent it back
    note: str  # the sender-back's note, or the error that quarantined it
    similar: tuple[int, ...]  # other open items' message ids that are near-duplicates
    open_count: int
    # Why it is here, in words: "rule 'X' matched", "priority high (rule 'Spoed')".
    explanation: tuple[str, ...] = ()
    urgent: bool = False
    # The threshold the model's first choice had to reach to route the mail alone; None
    # when the decision did not record one (older versions) or the team never routes alone.
    threshold: float | None = None
    passed_over: bool = False  # this reviewer passed over it already: nothing else waits


@dataclass(frozen=True, slots=True)
class Decided:
    message_id: int
    team_slug: str
    corrected: bool
    team_name: str = ""


@dataclass(frozen=True, slots=True)
class RoutedRow:
    message_id: int
    subject: str
    sender: str
    team_slug: str
    team_name: str
    decided_by: str  # who routed it, as a person reads it: a username, "the model", …
    confidence: float | None
    model_version: str | None
    at: datetime
    state: str
    # Why it went there ("same handler as case #2311 (3 days ago)"), see labeling.live.explain.
    explanation: tuple[str, ...] = ()


def open_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ReviewItem).where(_open())) or 0)


def _open() -> ColumnElement[bool]:
    return ReviewItem.status == "open"


def _current_decision(session: Session, message_id: int) -> RoutingDecision | None:
    return session.scalar(
        select(RoutingDecision).where(
            RoutingDecision.message_id == message_id, RoutingDecision.is_current
        )
    )


def _model_decision(session: Session, message_id: int) -> RoutingDecision | None:
    """The latest decision that carries the model's view (a person's has none)."""
    return session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.message_id == message_id, RoutingDecision.decided_by != "user")
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(1)
    )


def _top(session: Session, decision: RoutingDecision | None) -> tuple[TeamChoice, ...]:
    if decision is None or not decision.top:
        return ()
    slugs = [str(row[0]) for row in decision.top]
    teams = {t.slug: t for t in session.scalars(select(Team).where(Team.slug.in_(slugs)))}
    choices = []
    for slug, probability in ((str(r[0]), float(r[1])) for r in decision.top[:3]):
        team = teams.get(slug)
        usable = team is not None and team.archived_at is None
        choices.append(
            TeamChoice(
                team_id=team.id if team is not None and usable else None,
                slug=slug,
                name=team.name if team is not None else slug,
                probability=probability,
            )
        )
    return tuple(choices)


def _misroute_details(session: Session, message_id: int) -> dict[str, object] | None:
    row = session.scalar(
        select(AuditLog)
        .where(AuditLog.message_id == message_id, AuditLog.action == "misroute")
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(1)
    )
    return dict(row.details) if row is not None else None


def _similar_open(session: Session, message: Message, item_id: int) -> tuple[int, ...]:
    mine = shingles(message.subject_key, message.new_text)
    if len(mine) < MIN_SHINGLES:
        return ()
    rows = session.execute(
        select(Message.id, Message.subject_key, Message.new_text)
        .join(ReviewItem, ReviewItem.message_id == Message.id)
        .where(_open(), ReviewItem.id != item_id, Message.status == "ok")
        .order_by(ReviewItem.created_at, ReviewItem.id)
        .limit(GROUP_SCAN_LIMIT)
    ).all()
    similar = []
    for other_id, subject_key, new_text in rows:
        theirs = shingles(subject_key, new_text)
        if len(theirs) < MIN_SHINGLES:
            continue
        if len(mine & theirs) / len(mine | theirs) >= GROUP_SIMILARITY:
            similar.append(other_id)
    return tuple(similar)


def _team_name(session: Session, slug: str) -> str:
    """A team's name for a person to read (the slug when the team is gone)."""
    name = session.scalar(select(Team.name).where(Team.slug == slug))
    return name or slug


def _threshold(decision: RoutingDecision | None) -> float | None:
    value = (decision.details or {}).get("threshold") if decision is not None else None
    return float(value) if isinstance(value, int | float) else None


def card_for(session: Session, item: ReviewItem, *, passed_over: bool = False) -> ReviewCard:
    message = session.get(Message, item.message_id)
    assert message is not None
    decision = _model_decision(session, message.id)
    misroute = _misroute_details(session, message.id) if item.reason == "misrouted" else None
    note = ""
    if misroute is not None:
        note = str(misroute.get("note") or "")
    elif message.status != "ok":
        note = message.quarantine_reason or ""
    return ReviewCard(
        item_id=item.id,
        message=message,
        reason=item.reason,
        created_at=item.created_at,
        top=_top(session, decision),
        model_version=decision.model_version if decision is not None else None,
        from_team=(
            _team_name(session, str(misroute["from_team"]))
            if misroute and misroute.get("from_team")
            else None
        ),
        note=note,
        similar=_similar_open(session, message, item.id) if message.status == "ok" else (),
        open_count=open_count(session),
        explanation=(
            explain(decision.decided_by, decision.reason, decision.confidence, decision.details)
            if decision is not None
            else ()
        ),
        urgent=item.urgent,
        threshold=_threshold(decision),
        passed_over=passed_over,
    )


def next_item(
    session: Session, *, after: int | None = None, passed: Collection[int] = ()
) -> ReviewCard | None:
    """The open review item whose mail arrived first, urgent mail before the rest — the
    customer who has waited longest, a mail sent back as misrouted included (or the next
    one after item ``after``); None when nothing waits.

    ``passed`` are the item ids this reviewer passed over for now: they come after every
    other waiting mail, and are shown (``passed_over``) only when nothing else waits.

    Arrival is when Mailroom recorded the mail (never its Date header, which the sender
    writes), then the message id, so the order is total and the same on every page."""
    query = (
        select(ReviewItem)
        .join(Message, Message.id == ReviewItem.message_id)
        .where(_open())
        .order_by(ReviewItem.urgent.desc(), Message.imported_at, Message.id)
    )
    if after is not None:
        current = session.get(ReviewItem, after)
        mail = session.get(Message, current.message_id) if current is not None else None
        if current is not None and mail is not None:
            later = (Message.imported_at > mail.imported_at) | (
                (Message.imported_at == mail.imported_at) & (Message.id > mail.id)
            )
            not_urgent = ReviewItem.urgent == false()
            # Urgent mail first: after an urgent item come the later urgent ones, then all
            # the others; after another item, only later others.
            query = query.where(
                (not_urgent | later) if current.urgent else (not_urgent & later)
            )
    passed_ids = sorted(passed)[:PASSED_LIMIT]
    item = None
    if passed_ids:
        item = session.scalar(query.where(ReviewItem.id.not_in(passed_ids)).limit(1))
    if item is None:
        item = session.scalar(query.limit(1))
        return card_for(session, item, passed_over=bool(passed_ids)) if item is not None else None
    return card_for(session, item)


def _label(session: Session, message_id: int, team: Team, user_id: int, now: datetime) -> None:
    """The decision as the reviewer's current label of the mail (source 'review')."""
    current = session.scalar(
        select(Annotation).where(
            Annotation.message_id == message_id,
            Annotation.user_id == user_id,
            Annotation.superseded_at.is_(None),
        )
    )
    if current is not None:
        if current.team_id == team.id:
            return
        current.superseded_at = now
        session.flush()
    role = session.scalar(select(User.role).where(User.id == user_id))
    session.add(
        Annotation(
            message_id=message_id,
            team_id=team.id,
            user_id=user_id,
            decided_by=user_id,
            role=role,
            source="review",
            created_at=now,
        )
    )


def decide(
    session: Session,
    message_id: int,
    team_id: int,
    user_id: int,
    *,
    outgoing: Outgoing,
    now: datetime | None = None,
) -> Decided:
    """A reviewer sends an open review item's mail to ``team_id``.

    In one step (:func:`labeling.live.lifecycle.decide_review`) the item is resolved, the
    mail is set on its way to the team with the decision and a pending delivery, and the
    ``review-decision`` audit row is written; here the choice also becomes the reviewer's
    label. The caller commits and then queues the forward (the worker's
    ``forward_message`` task); the page never waits on SMTP. A mail that is already
    forwarded to this very team (a send-back the reviewer overrules) is closed without a
    second forward.

    Raises :class:`ReviewConflict` when the item is no longer open, :class:`LabelingError`
    for an unknown or archived team or an unknown user.
    """
    now = now or utcnow()
    team = active_team(session, team_id)
    active_user(session, user_id)
    item = lifecycle.open_review_item(session, message_id)
    if item is None:
        raise LabelingError(f"mail {message_id} is not waiting for review")
    message = session.get(Message, message_id)
    assert message is not None
    if message.status != "ok":
        raise LabelingError(
            f"mail {message_id} could not be read ({message.quarantine_reason}); "
            "open the original in the mailbox, forward it by hand, then mark it handled"
        )
    decision = _model_decision(session, message_id)
    model_team = str(decision.top[0][0]) if decision is not None and decision.top else None
    misroute = _misroute_details(session, message_id) if item.reason == "misrouted" else None
    from_team = str(misroute["from_team"]) if misroute and misroute.get("from_team") else None
    compared_with = from_team if from_team is not None else model_team
    corrected = compared_with is not None and compared_with != team.slug
    # Overruled: the team that sent it back was right after all; it already has it.
    overruled = from_team == team.slug and _sent_to(session, message_id, team.id)
    audit = {
        "team": team.slug,
        "model_team": model_team,
        "model_version": decision.model_version if decision is not None else None,
        "corrected": corrected,
        "misroute": misroute is not None,
        "from_team": from_team,
    }
    if not lifecycle.decide_review(
        session, message, team, user_id, now, outgoing=outgoing, overruled=overruled, audit=audit
    ):
        raise ReviewConflict(f"mail {message_id} was already decided")
    _label(session, message_id, team, user_id, now)
    session.flush()
    return Decided(message_id, team.slug, corrected, team.name)


def mark_handled(
    session: Session, message_id: int, user_id: int, *, now: datetime | None = None
) -> None:
    """Close the review item of a mail a person dealt with outside Mailroom (one it could
    not read): nothing is forwarded, nothing is learnt, the audit log says who did it."""
    now = now or utcnow()
    active_user(session, user_id)
    message = session.get(Message, message_id)
    if message is None:
        raise LabelingError(f"there is no message {message_id}")
    if message.status == "ok":
        raise LabelingError(f"mail {message_id} is readable: choose its team instead")
    if not lifecycle.close_by_hand(
        session, message_id, user_id, message.quarantine_reason or "", now
    ):
        raise ReviewConflict(f"mail {message_id} was already decided")
    session.flush()


def close_no_team(
    session: Session, message_id: int, user_id: int, *, now: datetime | None = None
) -> None:
    """A reviewer finds the mail belongs to no team we have: it is closed unforwarded.
    Such mail teaches the out-of-scope detector (the next training's examples of unknown
    mail), and its share is the live share of unknown mail the dashboard shows."""
    now = now or utcnow()
    active_user(session, user_id)
    if session.get(Message, message_id) is None:
        raise LabelingError(f"there is no message {message_id}")
    if not lifecycle.close_as_no_team(session, message_id, user_id, now):
        raise ReviewConflict(f"mail {message_id} was already decided")
    session.flush()


def _sent_to(session: Session, message_id: int, team_id: int) -> bool:
    return (
        session.scalar(
            select(Delivery.id).where(
                Delivery.message_id == message_id,
                Delivery.team_id == team_id,
                Delivery.state == "sent",
            )
        )
        is not None
    )


def decide_group(
    session: Session, message_id: int, team_id: int, user_id: int, *, outgoing: Outgoing
) -> list[Decided]:
    """Decide an item and every open near-duplicate of it (as shown on its card) alike."""
    item = lifecycle.open_review_item(session, message_id)
    if item is None or item.status != "open":
        raise ReviewConflict(f"mail {message_id} was already decided")
    card = card_for(session, item)
    decided = [decide(session, message_id, team_id, user_id, outgoing=outgoing)]
    for other in card.similar:
        try:
            with session.begin_nested():
                decided.append(decide(session, other, team_id, user_id, outgoing=outgoing))
        except ReviewConflict:
            continue  # another reviewer took that one meanwhile
    return decided


def send_back(
    session: Session, message_id: int, user_id: int, note: str = "", *, now: datetime | None = None
) -> str:
    """A routed mail was misrouted: back to review with the reason; returns the name of the
    team it had gone to. Raises :class:`ReviewConflict` when the mail is not routed (yet,
    or any more)."""
    now = now or utcnow()
    active_user(session, user_id)
    message = session.get(Message, message_id)
    if message is None:
        raise LabelingError(f"there is no message {message_id}")
    current = _current_decision(session, message_id)
    if current is None or current.mode != "auto" or current.team_id is None:
        raise ReviewConflict(f"mail {message_id} has not been routed to a team")
    team = session.get(Team, current.team_id)
    from_team = team.slug if team is not None else str(current.team_id)
    model_decision = _model_decision(session, message_id)
    audit = {
        "from_team": from_team,
        "model_version": model_decision.model_version if model_decision else None,
        "auto": current.decided_by in ("model", "thread"),
        "note": note.strip()[:500],
    }
    # Only mail the team has received can be sent back; a forward still under way cannot.
    if not lifecycle.send_back(session, message_id, user_id, now, audit=audit):
        raise ReviewConflict(
            f"mail {message_id} is not routed now (it is {message.route_state or 'archive mail'})"
        )
    session.flush()
    return team.name if team is not None else from_team


def no_team_mail(
    session: Session, *, pseudonymiser: Pseudonymiser | None = None
) -> list[tuple[int, str]]:
    """(message id, the text the model reads) of every live mail a person closed as
    belonging to no team: what the out-of-scope detector learns unknown mail looks like."""
    rows = session.execute(
        select(
            Message.id,
            Message.subject,
            Message.new_text,
            Message.quoted_text,
            Message.sender_name,
        )
        .join(ReviewItem, ReviewItem.message_id == Message.id)
        .where(ReviewItem.closed_as == "no-team", Message.status == "ok")
        .order_by(Message.id)
    ).all()
    return [
        (mid, model_text(subject, new, quoted, names=(name,), pseudonymiser=pseudonymiser))
        for mid, subject, new, quoted, name in rows
    ]


def _routed_query(message_id: int | None) -> Select[RoutingDecision, Message, Team]:
    query = (
        select(RoutingDecision, Message, Team)
        .join(Message, Message.id == RoutingDecision.message_id)
        .join(Team, Team.id == RoutingDecision.team_id)
        .where(
            RoutingDecision.is_current,
            RoutingDecision.mode == "auto",
            Message.route_state.in_(ROUTED_STATES),
        )
    )
    if message_id is not None:
        query = query.where(Message.id == message_id)
    return query


def routed_count(session: Session, *, message_id: int | None = None) -> int:
    """How many mails :func:`routed_mail` pages through."""
    query = _routed_query(message_id).with_only_columns(func.count(RoutingDecision.id))
    return int(session.scalar(query) or 0)


def routed_by(session: Session, decided_by: str) -> str:
    """Who routed a mail, as a person reads it: a username, "the model", "its thread"."""
    if decided_by.startswith("user:") and decided_by[5:].isdigit():
        name = session.scalar(select(User.username).where(User.id == int(decided_by[5:])))
        return name or "a person no longer here"
    return {
        "model": "the model",
        "thread": "its thread",
        "affinity": "the customer's case",
        "user": "a person",
    }.get(decided_by, decided_by)


def routed_mail(
    session: Session, *, limit: int = 50, offset: int = 0, message_id: int | None = None
) -> list[RoutedRow]:
    """Routed live mail, newest first, ``limit`` from ``offset`` (or the one mail asked for)."""
    query = (
        _routed_query(message_id)
        .order_by(RoutingDecision.created_at.desc(), RoutingDecision.id.desc())
        .limit(limit)
        .offset(offset)
    )
    names: dict[str, str] = {}
    rows = []
    for decision, message, team in session.execute(query):
        if decision.decided_by not in names:
            names[decision.decided_by] = routed_by(session, decision.decided_by)
        rows.append(
            RoutedRow(
                message_id=message.id,
                subject=message.subject or "(no subject)",
                sender=message.sender_email or message.sender_name,
                team_slug=team.slug,
                team_name=team.name,
                decided_by=names[decision.decided_by],
                confidence=decision.confidence,
                model_version=decision.model_version,
                at=decision.created_at,
                state=message.route_state or "",
                explanation=explain(
                    decision.decided_by, decision.reason, decision.confidence, decision.details
                ),
            )
        )
    return rows
