"""A person's rights over the mail store (GDPR Art. 15 and 17) and the expiry of raw mail.

* :func:`erase` — everything held about one e-mail address goes: the mail they sent, were
  sent, or that quotes their address (raw and normalised), with its labels, scores, review
  items, routing decisions and deliveries; threads left empty; free text in the audit rows
  of that mail. A tombstone (the address's hash, :class:`Erasure`) keeps their mail out of
  later imports (:func:`erased_filter`, checked by the import run) and out of every training
  set. One audit row records the erasure with the hash and the counts, no content.
* :func:`subject_export` — what is held about an address, as one JSON-ready dict.
* :func:`expire_raw` — ``MAILROOM_RETENTION_DAYS``: a live mail that is done (forwarded and
  marked in its mailbox) and arrived longer ago than that loses its raw bytes, HTML, unsplit
  body and addresses; its subject, text, quote, signature and display name are kept
  pseudonymised, so routing history, audit, dashboard figures and review labels (training
  data, pseudonymised anyway) stay whole; the keys that linked it to its customer
  (``case_keys``, customer affinity) go. Mail still on its way, in review or quarantined
  is never expired: it may still need to be forwarded.

Which mail is "theirs": the sender address, any recipient address (To, Cc, Reply-To), or the
address written in the subject or body (a forwarded mail quotes its sender). Mail that
names the person without their address cannot be found by address; an operator finds it
with the labelling tools.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, cast, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from labeling.errors import LabelingError
from labeling.store.db import rowcount, session_scope
from labeling.store.tables import (
    Annotation,
    AuditLog,
    CaseKey,
    Delivery,
    Erasure,
    Message,
    ReviewItem,
    RoutingDecision,
    Team,
    Thread,
    utcnow,
)

if TYPE_CHECKING:
    from labeling.mail.pseudonymise import Pseudonymiser

_ADDRESS = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9][A-Za-z0-9.-]{0,252}\.[A-Za-z]{2,24}")
_EMAIL_IN_TEXT = re.compile(r"(?<![\w.%+'-])[\w.%+'-]{1,64}@[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
# Audit detail keys that may hold text a person wrote (a send-back note, an error quoting
# the mail); dropped from the audit rows of erased mail, the rest (teams, versions) stays.
FREE_TEXT_DETAILS = ("note", "error", "reason", "subject")
EXPIRE_BATCH = 500


def normalise_address(address: str) -> str:
    """The address as stored (lower-cased, trimmed); LabelingError when it is not one."""
    cleaned = address.strip().lower()
    if not _ADDRESS.fullmatch(cleaned):
        raise LabelingError(f"{address!r} is not an e-mail address")
    return cleaned


def address_hash(address: str) -> str:
    """SHA-256 hex of the lower-cased address: recognises it again, does not reveal it
    (whoever has the address can confirm it, which is what a tombstone is for)."""
    return hashlib.sha256(f"mailroom-erasure:{address.strip().lower()}".encode()).hexdigest()


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _theirs(address: str) -> ColumnElement[bool]:
    """Messages that hold ``address`` as sender, recipient, or in their text."""
    pattern = _like(address)
    return or_(
        Message.sender_email == address,
        cast(Message.recipients, String).ilike(_like(f'"{address}"'), escape="\\"),
        Message.subject.ilike(pattern, escape="\\"),
        Message.body_text.ilike(pattern, escape="\\"),
    )


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What :func:`erase` removed; ``address_hash`` is what the audit row keeps."""

    address_hash: str
    messages: int
    labels: int
    review_items: int
    routing_decisions: int
    deliveries: int
    threads: int
    already_erased: bool


def erase(session: Session, address: str, *, actor: str = "system") -> ErasureResult:
    """Remove everything held about ``address`` (see module doc) and leave a tombstone.

    Adds to ``session`` (flushed, not committed); running it again removes what came in
    since and records another audit row."""
    address = normalise_address(address)
    digest = address_hash(address)
    ids = list(session.scalars(select(Message.id).where(_theirs(address))))
    thread_ids = set(
        session.scalars(
            select(Message.thread_id).where(Message.id.in_(ids), Message.thread_id.is_not(None))
        )
    )

    def count(model: Any) -> int:
        if not ids:
            return 0
        query = select(func.count()).select_from(model).where(model.message_id.in_(ids))
        return int(session.scalar(query) or 0)

    labels = count(Annotation)
    review_items = count(ReviewItem)
    decisions = count(RoutingDecision)
    deliveries = count(Delivery)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for row in session.scalars(select(AuditLog).where(AuditLog.message_id.in_(chunk))):
            if any(key in row.details for key in FREE_TEXT_DETAILS):
                row.details = {
                    k: v for k, v in row.details.items() if k not in FREE_TEXT_DETAILS
                }
        session.flush()
        # Labels, scores, skips, review items, decisions and deliveries go with the mail
        # (ON DELETE CASCADE); audit rows stay, detached (ON DELETE SET NULL).
        session.execute(
            delete(Message).where(Message.id.in_(chunk)).execution_options(
                synchronize_session=False
            )
        )
    empty_threads = 0
    if thread_ids:
        still_used = select(Message.thread_id).where(Message.thread_id.in_(thread_ids))
        empty_threads = rowcount(
            session.execute(
                delete(Thread)
                .where(Thread.id.in_(thread_ids), Thread.id.not_in(still_used))
                .execution_options(synchronize_session=False)
            )
        )
    already = session.scalar(select(Erasure.id).where(Erasure.address_hash == digest))
    if already is None:
        session.add(Erasure(address_hash=digest))
    result = ErasureResult(
        address_hash=digest,
        messages=len(ids),
        labels=labels,
        review_items=review_items,
        routing_decisions=decisions,
        deliveries=deliveries,
        threads=empty_threads,
        already_erased=already is not None,
    )
    details = asdict(result)
    session.add(AuditLog(actor=actor, action="erase", message_id=None, details=details))
    session.flush()
    return result


def erased_filter(session: Session) -> Callable[..., bool]:
    """A test for "this mail is an erased person's": ``test(sender_email, recipients,
    *texts)`` with the stored recipients dict and any texts that may quote an address.
    Cheap when no one was erased."""
    hashes = set(session.scalars(select(Erasure.address_hash)))
    if not hashes:
        return lambda *_: False

    def test(sender_email: str, recipients: Mapping[str, Any] | None, *texts: str) -> bool:
        addresses = {sender_email or ""}
        for people in (recipients or {}).values():
            for person in people or ():
                if isinstance(person, Mapping):
                    addresses.add(str(person.get("email") or ""))
        for text in texts:
            addresses.update(m.group().rstrip(".-") for m in _EMAIL_IN_TEXT.finditer(text or ""))
        return any(address_hash(a) in hashes for a in addresses if a)

    return test


def drop_if_erased(session: Session, message_id: int, test: Callable[..., bool]) -> bool:
    """Remove a just-imported mail (and the thread it started) when it is an erased
    person's (``test`` from :func:`erased_filter`); True if it was removed."""
    message = session.get(Message, message_id)
    if message is None or not test(
        message.sender_email, message.recipients, message.subject, message.body_text
    ):
        return False
    thread = message.thread
    session.delete(message)
    session.flush()
    if thread is not None and not session.scalar(
        select(Message.id).where(Message.thread_id == thread.id).limit(1)
    ):
        session.delete(thread)
        session.flush()
    return True


# Subject access (Art. 15) ------------------------------------------------------------------


def subject_export(session: Session, address: str) -> dict[str, Any]:
    """Everything held about ``address``: each of its mails with what was recorded about
    it (labels, routing, review, deliveries, audit), and whether it was erased before."""
    address = normalise_address(address)
    teams = {team.id: team.slug for team in session.scalars(select(Team))}
    mails = []
    for message in session.scalars(select(Message).where(_theirs(address)).order_by(Message.id)):
        mails.append(_message_export(session, message, teams))
    erased = session.scalar(
        select(Erasure.erased_at).where(Erasure.address_hash == address_hash(address))
    )
    return {
        "address": address,
        "exported_at": utcnow().isoformat(),
        "erased_before": erased.isoformat() if erased else None,
        "mail_count": len(mails),
        "mails": mails,
    }


def _message_export(session: Session, message: Message, teams: Mapping[int, str]) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    raw: dict[str, Any] | None = None
    if message.raw_expired_at is None:
        data = message.raw
        try:
            raw = {"encoding": "utf-8", "content": data.decode("utf-8")}
        except UnicodeDecodeError:
            raw = {"encoding": "base64", "content": base64.b64encode(data).decode("ascii")}
    labels = session.scalars(select(Annotation).where(Annotation.message_id == message.id))
    reviews = session.scalars(select(ReviewItem).where(ReviewItem.message_id == message.id))
    decisions = session.scalars(
        select(RoutingDecision).where(RoutingDecision.message_id == message.id)
    )
    deliveries = session.scalars(select(Delivery).where(Delivery.message_id == message.id))
    audit = session.scalars(select(AuditLog).where(AuditLog.message_id == message.id))
    return {
        "id": message.id,
        "origin": message.origin,
        "status": message.status,
        "date": when(message.date),
        "stored_at": when(message.imported_at),
        "raw_expired_at": when(message.raw_expired_at),
        "subject": message.subject,
        "sender": {"name": message.sender_name, "email": message.sender_email},
        "recipients": message.recipients,
        "text": message.body_text,
        "attachments": message.attachments,
        "source_folder": message.source_folder,
        "route_state": message.route_state,
        "raw": raw,
        "labels": [
            {
                "team": teams.get(a.team_id),
                "source": a.source,
                "at": when(a.created_at),
                "superseded_at": when(a.superseded_at),
            }
            for a in labels
        ],
        "review_items": [
            {"status": r.status, "reason": r.reason, "team": teams.get(r.team_id or 0)}
            for r in reviews
        ],
        "routing_decisions": [
            {
                "team": teams.get(d.team_id or 0),
                "mode": d.mode,
                "reason": d.reason,
                "decided_by": d.decided_by,
                "confidence": d.confidence,
                "at": when(d.created_at),
            }
            for d in decisions
        ],
        "deliveries": [
            {"team": teams.get(d.team_id), "state": d.state, "sent_at": when(d.sent_at)}
            for d in deliveries
        ],
        "audit": [{"action": a.action, "at": when(a.at), "actor": a.actor} for a in audit],
    }


# Retention ---------------------------------------------------------------------------------


def expire_raw(
    session: Session,
    *,
    days: int,
    pseudonymiser: Pseudonymiser,
    now: datetime | None = None,
    batch: int = EXPIRE_BATCH,
) -> int:
    """Expire the raw bytes of live mail that is done and arrived more than ``days`` ago
    (see module doc); at most ``batch`` mails per call, so a caller commits between calls.
    Returns how many were expired now."""
    from labeling.mail.pseudonymise import MailText, pseudonymise_mail

    if days <= 0:
        return 0
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    rows = session.scalars(
        select(Message)
        .where(
            Message.origin == "live",
            Message.route_state == "done",
            Message.raw_expired_at.is_(None),
            Message.imported_at < cutoff,
        )
        .order_by(Message.id)
        .limit(batch)
    ).all()
    empty = zlib.compress(b"", 6)
    for message in rows:
        text = MailText(
            subject=message.subject,
            sender_name=message.sender_name,
            sender_email=message.sender_email,
            new_text=message.new_text,
            quoted_text=message.quoted_text,
            signature=message.signature,
        )
        people = [
            (str(p.get("name") or ""), str(p.get("email") or ""))
            for group in (message.recipients or {}).values()
            for p in group or ()
            if isinstance(p, Mapping)
        ]
        out, pseudonyms = pseudonymise_mail(text, pseudonymiser, correspondents=people)
        message.raw_compressed = empty
        message.raw_size = 0
        message.raw_expired_at = now
        message.html = None
        message.body_text = ""
        message.subject = out.subject
        message.subject_key = out.subject.casefold()
        message.sender_name = out.sender_name
        message.sender_email = ""
        message.recipients = {}
        message.new_text = out.new_text
        message.quoted_text = out.quoted_text
        message.signature = out.signature
        message.attachments = [
            {**item, "filename": pseudonyms.text(str(item.get("filename") or ""))}
            for item in message.attachments or []
            if isinstance(item, dict)
        ]
    if rows:
        # What linked the mail to its customer (labeling.live.affinity) goes with the
        # addresses.
        session.execute(
            delete(CaseKey)
            .where(CaseKey.message_id.in_([message.id for message in rows]))
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return len(rows)


def expire_all(
    sessions: sessionmaker[Session],
    *,
    days: int,
    pseudonymiser: Pseudonymiser,
    now: datetime | None = None,
) -> int:
    """:func:`expire_raw` until nothing is left to expire, one committed batch at a time
    (what the worker's beat and ``mailroom expire-raw`` run). Returns how many expired."""
    now = now or utcnow()
    total = 0
    while True:
        with session_scope(sessions) as session:
            done = expire_raw(session, days=days, pseudonymiser=pseudonymiser, now=now)
        total += done
        if done < EXPIRE_BATCH:
            return total
