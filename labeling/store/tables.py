"""The mail store's tables, as SQLAlchemy 2 typed models.

Portable to SQLite (the embedded default) and PostgreSQL: generic types only
(``sqlalchemy.JSON``, ``LargeBinary``, strings with CHECK constraints instead of native
enums), timestamps always timezone-aware UTC (see :class:`UtcDateTime`), and every
constraint named through :data:`NAMING_CONVENTION` so Alembic can alter it on SQLite too.

The schema itself is created by the Alembic migrations in ``labeling/migrations``; these
classes must match it (a test compares them).

Tables::

    teams ◀── threads ◀── messages ──▶ mailboxes
      ▲                     ▲  ▲
      └──── annotations ────┘  └── audit_log
                 │           ▲  ▲
                 ▼           │  └── message_scores (model scores for the labelling queue)
               users ◀──── skips                 import_cursors (IMAP resume points)

    messages ◀── routing_decisions, review_items, deliveries   (worker)
    leases (one watcher per mailbox)
    erasures (hashes of erased addresses: labeling/store/privacy.py)
    rules ◀── teams   (admin rules tried before the model: labeling/rules/)
    api_tokens (per-integration tokens of the HTTP API: labeling/store/api_tokens.py)
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Allowed values of the string "enums" below; CHECK constraints enforce them in the database.
MESSAGE_STATUSES = ("ok", "quarantined")
MESSAGE_ORIGINS = ("archive", "live")
# 'adjudication': an admin or reviewer settled a disagreement between labellers.
ANNOTATION_SOURCES = ("human", "archive-folder", "review", "model", "adjudication")
USER_ROLES = ("admin", "labeler", "reviewer")
MAILBOX_KINDS = ("imap", "maildir")
# Where a live mail is on its way (worker); NULL for archive mail, which is never routed.
# new -> review | forwarding -> forwarded -> done, or quarantined (labeling/live/lifecycle.py).
ROUTE_STATES = ("new", "review", "forwarding", "forwarded", "done", "quarantined")
ROUTE_MODES = ("auto", "review")
# What kind of mail (labeling.mail.hygiene.KINDS); NULL for mail stored before 0007.
MESSAGE_KINDS = ("customer", "auto_reply", "bounce", "loop", "bulk")
REVIEW_STATUSES = ("open", "resolved")
# How a review item was closed without a forward: the mail belongs to no team we have
# ('no-team'), or a person dealt with an unreadable mail outside Mailroom ('by-hand').
REVIEW_CLOSINGS = ("no-team", "by-hand")
DELIVERY_METHODS = ("smtp", "imap-move", "maildir")
DELIVERY_STATES = ("pending", "sent", "failed")
# What an admin rule does when it matches (labeling/rules/matching.py).
RULE_ACTIONS = ("route", "review", "priority", "no-auto")
RULE_PRIORITIES = ("high", "normal", "low")
# What an API token may do on /api/v1 (labeling/store/api_tokens.py).
API_SCOPES = ("classify", "tickets")

# RFC 5322 caps a header line at 998 characters; longer "IDs" are not kept as keys (they
# would also overflow a PostgreSQL btree index entry).
MAX_MESSAGE_ID = 998

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind of datetime the store holds)."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC that always comes back timezone-aware.

    PostgreSQL keeps the zone (``timestamptz``); SQLite has no zone type and hands back
    naive values, so naive results are read as UTC. Naive inputs are refused: a naive
    datetime is ambiguous, and guessing is how off-by-an-hour bugs start.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; the mail store only takes aware ones")
        value = value.astimezone(UTC)
        # SQLite stores the text form; without the offset, every value sorts and compares
        # consistently as UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base; its metadata is what Alembic's autogenerate compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Team(Base):
    """A team that mail is routed to. Archiving (``archived_at``) hides it but keeps labels."""

    __tablename__ = "teams"
    __table_args__ = (
        # A hotkey picks one team in the labelling UI, so it is unique among active teams
        # only: an archived team may keep the key it had.
        Index(
            "uq_teams_hotkey_active",
            "hotkey",
            unique=True,
            sqlite_where=text("archived_at IS NULL"),
            postgresql_where=text("archived_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The labelling guideline: what belongs to this team, shown to labellers.
    description: Mapped[str] = mapped_column(Text, default="")
    forward_address: Mapped[str] = mapped_column(String(320), default="")
    imap_folder: Mapped[str] = mapped_column(String(255), default="")
    hotkey: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"<Team {self.slug}>"


class TeamMember(Base):
    """A person in a team with an address of their own (issue 14, customer affinity): a
    customer's next mail within ``MAILROOM_AFFINITY_DAYS`` goes to the member who handles
    their case (``deliveries.member_id``), not to the team's shared address."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseKey(Base):
    """What links a live mail to its customer: the hash of its sender address and of
    each customer, policy or claim number found in it (never the value itself), written
    when the mail is routed. Goes with the mail (erasure) and with its addresses (expiry)."""

    __tablename__ = "case_keys"
    __table_args__ = (Index("ix_case_keys_key_message_id", "key", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))


class User(Base):
    """A person who logs in to label or review."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by logout, a password change and deactivation: every session cookie that
    # carries an older version is refused (web.auth), so a copied cookie stops working.
    session_version: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    password_changed_at: Mapped[datetime | None] = mapped_column()
    # The interface language the person chose ('nl', 'en'); NULL: as their browser asks.
    locale: Mapped[str | None] = mapped_column(String(8))

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class Mailbox(Base):
    """A live mailbox the worker watches.

    ``url`` never holds a password: credentials come from the settings, matched by URL.
    """

    __tablename__ = "mailboxes"
    __table_args__ = (CheckConstraint(_in("kind", MAILBOX_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Mailbox {self.name}>"


class Thread(Base):
    """A conversation: messages linked by Message-ID / In-Reply-To / References.

    ``root_key`` is the Message-ID of the first mail of the conversation (as far as the
    headers tell), so a reply that arrives before its parent still finds the thread.
    ``team_id`` is the team the thread was routed to (replies follow it) and
    ``moved_by_person`` records that a person overrode it.
    """

    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_key: Mapped[str] = mapped_column(String(MAX_MESSAGE_ID), unique=True)
    subject_key: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    moved_by_person: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship()
    messages: Mapped[list[Message]] = relationship(back_populates="thread")

    def __repr__(self) -> str:
        return f"<Thread {self.id} {self.root_key}>"


class Message(Base):
    """One stored mail: the raw bytes (compressed) plus the normalised fields.

    A quarantined message (``status='quarantined'``) could not be parsed: only the raw
    bytes, hash and ``quarantine_reason`` are set; the normalised fields are empty.
    Live mail carries ``mailbox_id``/``uidvalidity``/``uid``, unique together, so a mail
    seen twice on the server is recognised.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        CheckConstraint(_in("origin", MESSAGE_ORIGINS), name="origin"),
        CheckConstraint("kind IS NULL OR " + _in("kind", MESSAGE_KINDS), name="kind"),
        CheckConstraint(
            "route_state IS NULL OR " + _in("route_state", ROUTE_STATES), name="route_state"
        ),
        # The worker's sweep finds live mail stuck in a state by state and age.
        Index("ix_messages_route_state_route_state_at", "route_state", "route_state_at"),
        CheckConstraint(
            "status = 'ok' OR quarantine_reason IS NOT NULL", name="quarantine_reason"
        ),
        UniqueConstraint("mailbox_id", "uidvalidity", "uid"),
        # label-from-folders and per-folder views select by folder and status.
        Index("ix_messages_source_folder_status", "source_folder", "status"),
        # The labelling queue walks parsed archive mail with no (or one) human label, oldest
        # first, in this narrow index instead of the wide rows (raw bytes, bodies).
        Index(
            "ix_messages_label_queue",
            "human_labels",
            "date",
            "id",
            sqlite_where=text("status = 'ok' AND origin = 'archive'"),
            postgresql_where=text("status = 'ok' AND origin = 'archive'"),
        ),
        # ... and in random order: the content hash is a fixed shuffle of the mail.
        Index(
            "ix_messages_label_shuffle",
            "human_labels",
            "content_hash",
            sqlite_where=text("status = 'ok' AND origin = 'archive'"),
            postgresql_where=text("status = 'ok' AND origin = 'archive'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    # What was received, kept so a better parser can re-read it later.
    raw_compressed: Mapped[bytes] = mapped_column(LargeBinary)
    raw_size: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of raw

    # A hint, not an identity (anyone can write any Message-ID): threading and finding a
    # moved mail use it. The same mail is the same bytes (content_hash) or the same place
    # on the server (mailbox, UIDVALIDITY, UID).
    message_id: Mapped[str | None] = mapped_column(String(MAX_MESSAGE_ID), index=True)
    # The store already held different content under this Message-ID when this mail came.
    message_id_reused: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    in_reply_to: Mapped[str | None] = mapped_column(String(MAX_MESSAGE_ID))
    references: Mapped[list[Any]] = mapped_column(default=list)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), index=True)

    subject: Mapped[str] = mapped_column(Text, default="")
    subject_key: Mapped[str] = mapped_column(Text, default="")
    sender_name: Mapped[str] = mapped_column(Text, default="")
    sender_email: Mapped[str] = mapped_column(String(320), default="", index=True)
    # {"to": [{"name", "email"}…], "cc": […], "reply_to": […]}
    recipients: Mapped[dict[str, Any]] = mapped_column(default=dict)
    date: Mapped[datetime | None] = mapped_column(index=True)
    body_text: Mapped[str] = mapped_column(Text, default="")
    new_text: Mapped[str] = mapped_column(Text, default="")
    quoted_text: Mapped[str] = mapped_column(Text, default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    # [{"filename", "content_type", "size"}…]
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="und")
    parse_defects: Mapped[list[Any]] = mapped_column(default=list)

    status: Mapped[str] = mapped_column(String(16), default="ok")
    # Customer mail or machine mail (labeling.mail.hygiene): set when the mail is stored,
    # and again when a live mail is routed (the sender's rate and Mailroom's own addresses
    # are known then). NULL: stored before hygiene existed, read as customer mail.
    kind: Mapped[str | None] = mapped_column(String(16))
    quarantine_reason: Mapped[str | None] = mapped_column(Text)

    origin: Mapped[str] = mapped_column(String(16), default="archive")
    source_folder: Mapped[str] = mapped_column(String(255), default="")
    source_ref: Mapped[str] = mapped_column(Text, default="")
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Near-duplicate group (newsletters, auto-replies, the same mail sent twice): the
    # smallest message id of the group; NULL for a mail without near-duplicates. Written by
    # labeling.annotation.neardup.group_near_duplicates.
    dup_group_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Number of current human labels (one per person). Kept by database triggers on
    # ``annotations`` (migration 0002) whoever writes the labels; read-only for code. A
    # migration that rebuilds ``annotations`` (SQLite batch mode) must recreate them.
    human_labels: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    # A live mail's route state (ROUTE_STATES); NULL for archive mail. Only changed by the
    # conditional UPDATEs (... WHERE route_state = expected) of labeling/live/lifecycle.py.
    route_state: Mapped[str | None] = mapped_column(String(16))
    route_state_at: Mapped[datetime | None] = mapped_column()
    # When MAILROOM_RETENTION_DAYS dropped the raw bytes (and the HTML, the unsplit body and
    # the addresses) of this live mail; the rest was pseudonymised then. NULL: all kept.
    raw_expired_at: Mapped[datetime | None] = mapped_column()

    thread: Mapped[Thread | None] = relationship(back_populates="messages")
    mailbox: Mapped[Mailbox | None] = relationship()
    annotations: Mapped[list[Annotation]] = relationship(back_populates="message")

    @property
    def raw(self) -> bytes:
        """The mail exactly as received."""
        return zlib.decompress(self.raw_compressed)

    @raw.setter
    def raw(self, value: bytes) -> None:
        self.raw_compressed = zlib.compress(value, 6)
        self.raw_size = len(value)

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.status} {self.message_id or self.content_hash[:12]}>"


class Annotation(Base):
    """A label: this message belongs to this team, according to a person, a folder or a model.

    Labels are never deleted: an undo or a correction sets ``superseded_at`` on the old row
    and adds a new one, so the history stays auditable. Only non-superseded rows count.
    Each person has at most one current label per message (double-labelling by two people
    gives two rows, which agreement statistics compare); each message has at most one
    current ``archive-folder`` label and at most one current ``adjudication``.
    An ``adjudication`` row has no ``user_id`` (the adjudicator may also have labelled the
    mail, and keeps that label); who adjudicated is in the audit log.
    """

    __tablename__ = "annotations"
    __table_args__ = (
        CheckConstraint(_in("source", ANNOTATION_SOURCES), name="source"),
        CheckConstraint(
            "source NOT IN ('human', 'review') OR user_id IS NOT NULL", name="person_has_user"
        ),
        Index(
            "uq_annotations_current_per_user",
            "message_id",
            "user_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL AND user_id IS NOT NULL"),
            postgresql_where=text("superseded_at IS NULL AND user_id IS NOT NULL"),
        ),
        Index(
            "uq_annotations_current_archive_folder",
            "message_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL AND source = 'archive-folder'"),
            postgresql_where=text("superseded_at IS NULL AND source = 'archive-folder'"),
        ),
        Index("ix_annotations_message_id_superseded_at", "message_id", "superseded_at"),
        # Labels a person undid or replaced: the queue brings undone mail back first.
        Index(
            "ix_annotations_user_id_superseded",
            "user_id",
            sqlite_where=text("superseded_at IS NOT NULL"),
            postgresql_where=text("superseded_at IS NOT NULL"),
        ),
        Index(
            "uq_annotations_current_adjudication",
            "message_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL AND source = 'adjudication'"),
            postgresql_where=text("superseded_at IS NULL AND source = 'adjudication'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column()
    # The person behind the label and their role when they gave it (an adjudication's
    # adjudicator too); NULL for weak (archive-folder) and model labels.
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str | None] = mapped_column(String(16))
    # The person's second, optional judgement (issue 14 item 3): the mail is urgent, the
    # customer wants to leave. NULL: not asked (folder and model labels, older labels).
    urgent: Mapped[bool | None] = mapped_column(Boolean)
    churn: Mapped[bool | None] = mapped_column(Boolean)

    message: Mapped[Message] = relationship(back_populates="annotations")
    team: Mapped[Team] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<Annotation {self.id} msg={self.message_id} team={self.team_id} {self.source}>"


class MessageScore(Base):
    """A model's view of one message, for uncertainty-first labelling and suggestions.

    One row per message and ``model_version``; the labelling queue reads the version
    stored most recently. ``margin`` is top-1 minus top-2 probability (small = unsure).
    """

    __tablename__ = "message_scores"
    __table_args__ = (
        UniqueConstraint("model_version", "message_id"),
        # The uncertainty-first queue walks one version's scores by margin.
        Index("ix_message_scores_model_version_margin", "model_version", "margin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(100))
    top_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    confidence: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    top_team: Mapped[Team] = relationship()


class Skip(Base):
    """A labeller passed on a message; the queue does not offer it to them again."""

    __tablename__ = "skips"
    __table_args__ = (UniqueConstraint("user_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServedMail(Base):
    """The labelling queue served this archive mail to this person.

    A labeller may read and label only mail served to them (``web.security``): ids are
    sequential, so without this anyone could walk the archive, or label mail the queue
    meant for someone else. Written when the queue offers a mail (``queue.mark_served``).
    """

    __tablename__ = "served_mail"
    __table_args__ = (UniqueConstraint("user_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    served_at: Mapped[datetime] = mapped_column(default=utcnow)


class Verification(Base):
    """A person's blind answer for one mail of the verification sample: its team, or none.

    The sample is a uniform random draw of archive mail (the labelling queue's "verify"
    order walks the content-hash shuffle and allows no skipping, so no one can choose which
    mail gets verified); the person sees no suggestion. ``team_id`` NULL means the mail
    belongs to no team we have. Verified mail is what thresholds are certified on and what
    the holdout gate compares versions on; it is never trained on. At most one current
    verification per mail; an undo supersedes it (kept for the audit trail).
    """

    __tablename__ = "verifications"
    __table_args__ = (
        Index(
            "uq_verifications_current",
            "message_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column()

    team: Mapped[Team | None] = relationship()


class SuspectLabel(Base):
    """A weak (archive-folder) label that confident learning ranks as probably wrong.

    Found on out-of-sample probabilities (:mod:`classifier.suspects`); ``rank`` 1 is the
    most suspect. While a suspect has no person's label, its weak label stays out of
    training and calibration; the labelling queue's "suspect" order serves them first.
    The whole table is replaced by each search (one row per suspect mail).
    """

    __tablename__ = "suspect_labels"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    weak_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    likely_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    quality: Mapped[float] = mapped_column(Float)  # the label's self-confidence, 0-1
    rank: Mapped[int] = mapped_column(Integer, index=True)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportCursor(Base):
    """Where an IMAP import stopped: the last stored UID per server, folder and UIDVALIDITY.

    A new UIDVALIDITY means the server renumbered the folder, so it starts a new cursor.
    """

    __tablename__ = "import_cursors"
    __table_args__ = (UniqueConstraint("source_key", "folder", "uidvalidity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(500))  # URL without password or folder
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    """Who or what did what, and when. ``actor``: 'user:3', 'system', 'model:v2' …"""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RoutingDecision(Base):
    """Where the worker (or a person) decided one live mail goes, and why.

    History is kept: a newer decision (a reviewer's) clears ``current`` on the older rows,
    and at most one row per message is current. ``decided_by``: 'model', 'thread' or
    'user:<id>'; ``mode``: 'auto' (forwarded without a person) or 'review'. ``team_id`` is
    NULL when no team was chosen (review without a suggestion). ``details`` holds what a
    person needs to understand it (topic change under thread affinity, the model's view).
    """

    __tablename__ = "routing_decisions"
    __table_args__ = (
        CheckConstraint(_in("mode", ROUTE_MODES), name="mode"),
        Index(
            "uq_routing_decisions_current",
            "message_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(100))
    # [[team, probability], ...] best first, as the model saw it.
    top: Mapped[list[Any]] = mapped_column(default=list)
    decided_by: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The admin rule that decided (decided_by 'rule') or held the mail back ('no-auto').
    # No foreign key: a deleted rule's decisions keep its id (and its name in details).
    rule_id: Mapped[int | None] = mapped_column(Integer, index=True)

    team: Mapped[Team | None] = relationship()


class ReviewItem(Base):
    """A live mail waiting for a person: the model was unsure, or the mail could not be
    routed (quarantined). The review UI resolves it (``team_id``, ``resolved_by``) and then
    enqueues ``worker.tasks.forward_message`` with the message id."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(_in("status", REVIEW_STATUSES), name="status"),
        CheckConstraint(
            "closed_as IS NULL OR " + _in("closed_as", REVIEW_CLOSINGS), name="closed_as"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # When the original was flagged $MailroomReview (or moved) in its mailbox.
    flagged_at: Mapped[datetime | None] = mapped_column()
    # Set when the item was closed without a forward (REVIEW_CLOSINGS); NULL otherwise.
    closed_as: Mapped[str | None] = mapped_column(String(16))
    # Urgent mail (a cue or a rule's high priority) comes first in the review queue.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Delivery(Base):
    """The one forward of a live mail to its team (a mail is forwarded once: UNIQUE).

    ``outgoing_message_id`` is deterministic (content hash + team), so a copy sent twice —
    a worker killed between the server's accept and this row's update — is recognisable
    downstream. ``claimed_until``: a worker is sending it until then; a later claim waits.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_in("method", DELIVERY_METHODS), name="method"),
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    method: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    outgoing_message_id: Mapped[str] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # The team member who handles the mail's case: the forward goes to their address.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("team_members.id", ondelete="SET NULL"), index=True
    )

    team: Mapped[Team] = relationship()


class Lease(Base):
    """A named lock that outlives no one: held by ``holder`` until ``expires_at``, renewed
    by the holder's heartbeat. One watcher per mailbox across all workers holds one; a dead
    worker's lease simply expires."""

    __tablename__ = "leases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column()


class Erasure(Base):
    """A person erased under GDPR Art. 17, by the SHA-256 of their lower-cased address (see
    labeling.store.privacy.address_hash): their mail stays out of every import and
    training set from now on."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rule(Base):
    """An admin rule, tried before the model in ``position`` order (labeling/rules/).

    ``conditions``: ``{"sender": [...], "recipient": [...], "subject": [...], "body": [...],
    "text": [...], "header": {name: phrase}, "attachment": [...], "language": [...]}``; every
    condition given must hold, one of its values is enough. ``action`` (RULE_ACTIONS):
    'route' to ``team_id``, 'review', 'priority' (sets ``priority``), 'no-auto'.
    """

    __tablename__ = "rules"
    __table_args__ = (
        CheckConstraint(_in("action", RULE_ACTIONS), name="action"),
        CheckConstraint("priority IS NULL OR " + _in("priority", RULE_PRIORITIES), name="priority"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    action: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    priority: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team | None] = relationship()

    def __repr__(self) -> str:
        return f"<Rule {self.position} {self.name}>"


class ApiToken(Base):
    """A token another system (a helpdesk, a form) uses on ``/api/v1``.

    Only the SHA-256 of the token is kept (the token itself is shown once, when made);
    ``scopes`` lists what it may do (API_SCOPES); a revoked token is kept for the audit.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    # Where the decision about each of this integration's tickets is POSTed ('' for none).
    callback_url: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"<ApiToken {self.name}>"
