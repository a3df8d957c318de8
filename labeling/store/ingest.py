"""Putting mail into the store: deduplication, quarantine and threading.

:func:`ingest` is the one way a mail enters the ``messages`` table, for archive imports and
live mail alike. It only adds rows to the caller's session (the caller commits), never
prints, and raises :class:`StoreError` only when the database itself fails; a mail that
cannot be parsed, or that its source did not hand over whole (``RawMail.refused``: too
large), is not an error but a quarantined row.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from labeling.errors import MailParseError
from labeling.mail import hygiene, mime
from labeling.mail.values import Address, NormalisedMail, RawMail
from labeling.store.db import store_error
from labeling.store.tables import MAX_MESSAGE_ID, MESSAGE_ORIGINS, Message, Thread

log = logging.getLogger(__name__)

Outcome = Literal["imported", "duplicate", "quarantined"]

# Quarantine reasons are for people; a parser that explains itself in a novel is cut short.
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What :func:`ingest` did with one mail.

    ``message_id`` is the database id of the row that now holds the mail: the new row, or
    for a duplicate the row that was already there. ``reason`` is the quarantine reason.
    ``message_id_reused``: a new mail whose Message-ID the store already held for
    different content (stored and flagged as such, never taken for the other mail).
    """

    outcome: Outcome
    message_id: int
    reason: str = ""
    message_id_reused: bool = False


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What :func:`read` made of a raw mail: the normalised mail, or None and the reason;
    and its kind (:mod:`labeling.mail.hygiene`; None for a mail that cannot be read)."""

    mail: NormalisedMail | None
    reason: str = ""
    kind: str | None = None


def read(raw_mail: RawMail) -> ParsedMail:
    """Parse ``raw_mail`` as :func:`ingest` would. Callers that hold a database write lock
    while ingesting (the mailbox watcher's batches) parse first, outside the transaction,
    and pass the result to :func:`ingest`: a big mail's parse then holds no lock."""
    mail, reason = _parse(raw_mail)
    return ParsedMail(mail, reason, _kind(raw_mail) if mail is not None else None)


def _kind(raw_mail: RawMail) -> str:
    # What the headers say on their own; the worker looks again when it routes a live mail
    # (then Mailroom's own addresses and the sender's rate are known).
    return hygiene.classify(raw_mail.raw).kind


def content_hash(raw: bytes) -> str:
    """The SHA-256 hex digest that identifies a mail's exact bytes."""
    return hashlib.sha256(raw).hexdigest()


def ingest(
    session: Session,
    raw_mail: RawMail,
    *,
    origin: str = "archive",
    mailbox_id: int | None = None,
    pre_parsed: ParsedMail | None = None,
) -> IngestResult:
    """Store one mail unless the store already has it.

    A mail is a duplicate when the store holds the same bytes (content hash) or, for live
    mail, the same mailbox + UIDVALIDITY + UID. The Message-ID is a header anyone can write:
    different bytes under a Message-ID the store knows are a new mail, stored with
    ``message_id_reused`` set (and counted as such by the result). Bytes that
    :func:`labeling.mail.mime.normalise` cannot read are stored as ``quarantined`` with the
    parser's reason (the same broken bytes again are a duplicate). A parsed mail joins the
    thread its In-Reply-To or References point at, or its own Message-ID's thread unless
    that Message-ID is reused, or starts a new one.

    ``pre_parsed``: what :func:`read` made of ``raw_mail``, when the caller parsed it already.
    The row is flushed, not committed. Raises :class:`StoreError` if the database fails.
    """
    if origin not in MESSAGE_ORIGINS:
        raise ValueError(f"origin must be one of {MESSAGE_ORIGINS}, not {origin!r}")
    digest = content_hash(raw_mail.raw)
    parsed: NormalisedMail | None = None
    reason = ""
    kind: str | None = None
    parsed_yet = False

    # Two passes: if a concurrent writer (another import, the worker) inserts the same mail
    # between our lookup and our insert, the unique constraints (content hash, server
    # position) refuse ours and the second lookup finds theirs.
    for attempt in (1, 2):
        try:
            # Same bytes first: it needs no parsing, so re-running an import is cheap.
            existing = _find_by_hash_or_uid(session, digest, raw_mail, mailbox_id)
            if existing is not None:
                return IngestResult("duplicate", existing)
            if not parsed_yet:
                if pre_parsed is None:
                    pre_parsed = read(raw_mail)
                parsed, reason, kind = pre_parsed.mail, pre_parsed.reason, pre_parsed.kind
                parsed_yet = True
            message_id = _usable_id(parsed.message_id) if parsed else None
            # Different bytes (the hash lookup above found none) under a known Message-ID.
            reused = message_id is not None and _message_id_known(session, message_id)
            with session.begin_nested():
                row = _new_row(raw_mail, digest, origin=origin, mailbox_id=mailbox_id)
                if parsed is None:
                    row.status = "quarantined"
                    row.quarantine_reason = reason
                else:
                    _fill_parsed(row, parsed, message_id)
                    row.kind = kind or _kind(raw_mail)
                    row.message_id_reused = reused
                    row.thread = _thread_for(
                        session, parsed, fallback_key=f"sha256:{digest}", own_id_is_key=not reused
                    )
                session.add(row)
                session.flush()
        except IntegrityError as exc:
            if attempt == 2:
                raise store_error(exc, f"storing {raw_mail.source_ref}") from exc
            log.debug("concurrent insert of %s; looking again", raw_mail.source_ref)
            continue
        except SQLAlchemyError as exc:
            raise store_error(exc, f"storing {raw_mail.source_ref}") from exc
        if parsed is None:
            return IngestResult("quarantined", row.id, reason)
        if reused:
            log.info("%s reuses Message-ID %s of a different mail", raw_mail.source_ref, message_id)
        return IngestResult("imported", row.id, message_id_reused=reused)
    raise AssertionError("unreachable")  # pragma: no cover


def _message_id_known(session: Session, message_id: str) -> bool:
    return (
        session.scalar(select(Message.id).where(Message.message_id == message_id).limit(1))
        is not None
    )


def _parse(raw_mail: RawMail) -> tuple[NormalisedMail | None, str]:
    """The normalised mail, or None and the reason it cannot be read."""
    if raw_mail.refused:
        return None, raw_mail.refused[:MAX_REASON]
    try:
        return mime.normalise(raw_mail.raw), ""
    except MailParseError as exc:
        return None, (exc.reason or "unreadable mail")[:MAX_REASON]
    except Exception as exc:
        # The parser promises MailParseError only; if it breaks that promise the mail is
        # still kept (quarantined, so it can be re-read once the parser is fixed) and the
        # rest of the batch goes on. The traceback goes to the log for whoever fixes it.
        log.exception("parser failed on %s", raw_mail.source_ref)
        return None, f"parser error: {type(exc).__name__}: {exc}"[:MAX_REASON]


def _find_by_hash_or_uid(
    session: Session, digest: str, raw_mail: RawMail, mailbox_id: int | None
) -> int | None:
    found = session.scalar(select(Message.id).where(Message.content_hash == digest))
    if (
        found is None
        and mailbox_id is not None
        and raw_mail.uid is not None
        and raw_mail.uidvalidity is not None
    ):
        found = session.scalar(
            select(Message.id).where(
                Message.mailbox_id == mailbox_id,
                Message.uidvalidity == raw_mail.uidvalidity,
                Message.uid == raw_mail.uid,
            )
        )
    return found


def _new_row(raw_mail: RawMail, digest: str, *, origin: str, mailbox_id: int | None) -> Message:
    row = Message(
        content_hash=digest,
        origin=origin,
        source_folder=_text(raw_mail.folder)[:255],
        source_ref=_text(raw_mail.source_ref),
        mailbox_id=mailbox_id,
        uidvalidity=raw_mail.uidvalidity,
        uid=raw_mail.uid,
    )
    row.raw = raw_mail.raw
    return row


def _fill_parsed(row: Message, mail: NormalisedMail, message_id: str | None) -> None:
    row.status = "ok"
    row.message_id = message_id
    row.in_reply_to = _usable_id(mail.in_reply_to)
    row.references = [ref for ref in map(_usable_id, mail.references) if ref]
    row.subject = _text(mail.subject)
    row.subject_key = _text(mail.subject_key)
    row.sender_name = _text(mail.sender.name) if mail.sender else ""
    row.sender_email = _text(mail.sender.email)[:320] if mail.sender else ""
    row.recipients = {
        "to": _addresses(mail.to),
        "cc": _addresses(mail.cc),
        "reply_to": _addresses(mail.reply_to),
    }
    row.date = mail.date
    row.body_text = _text(mail.body_text)
    row.new_text = _text(mail.new_text)
    row.quoted_text = _text(mail.quoted_text)
    row.signature = _text(mail.signature)
    row.html = _text(mail.html) if mail.html is not None else None
    row.attachments = [
        {"filename": _text(a.filename), "content_type": _text(a.content_type), "size": a.size}
        for a in mail.attachments
    ]
    row.language = _text(mail.language)[:8] or "und"
    row.parse_defects = [_text(defect) for defect in mail.defects]


def _thread_for(
    session: Session, mail: NormalisedMail, *, fallback_key: str, own_id_is_key: bool = True
) -> Thread:
    """The thread this mail belongs to; a new (pending) one if none is known yet.

    ``own_id_is_key`` False: the mail's own Message-ID belongs to another mail already, so
    it names that mail's thread, not this one's (else reusing a Message-ID would be a way
    into another customer's thread and team)."""
    references = [ref for ref in map(_usable_id, mail.references) if ref]
    in_reply_to = _usable_id(mail.in_reply_to)
    own = _usable_id(mail.message_id) if own_id_is_key else None
    # Oldest first: the first key that names a thread root wins.
    keys = list(dict.fromkeys(k for k in (*references, in_reply_to, own) if k))
    if keys:
        roots = {
            thread.root_key: thread
            for thread in session.scalars(select(Thread).where(Thread.root_key.in_(keys)))
        }
        for key in keys:
            if key in roots:
                return roots[key]
    if keys and keys != [own]:
        # A parent stored under a thread whose root is older than our References reach.
        # (With only our own Message-ID there is no parent to look for.)
        linked = session.scalar(
            select(Thread)
            .join(Message, Message.thread_id == Thread.id)
            .where(Message.message_id.in_(keys))
            .order_by(Thread.id)
            .limit(1)
        )
        if linked is not None:
            return linked
    root_key = keys[0] if keys else fallback_key
    return Thread(root_key=root_key, subject_key=_text(mail.subject_key))


def _usable_id(value: str) -> str | None:
    """A Message-ID fit to be a key, or None (absent, or too long for an index)."""
    if not value or len(value.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_ID:
        return None
    return _text(value)


def _addresses(addresses: tuple[Address, ...]) -> list[dict[str, Any]]:
    return [{"name": _text(a.name), "email": _text(a.email)} for a in addresses]


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and neither driver can encode lone surrogates; a
    # broken mail must not fail the insert over one character.
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value
