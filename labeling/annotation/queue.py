"""The labelling queue: which mail a labeller sees next, and what they do with it.

Functions take a session and ids, add rows to the session (flushed, not committed: the
caller commits) and raise :class:`LabelingError` for an action that is not allowed.
Every action writes an audit-log row (actor ``user:<id>``).

What :func:`next_message` offers a labeller, first rule that applies:

1. mail they undid (:func:`undo_last`) and have not labelled again, in the order they
   had labelled it (undo twice, and the earlier mail comes back first);
2. a pending second label, oldest first: mail chosen for double-labelling
   (:func:`is_double_labelled`) that exactly one other person has labelled;
3. fresh mail that no person has labelled,

always parsed (not quarantined) archive mail they have neither labelled nor skipped,
in the requested :data:`QueueOrder`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from labeling.annotation.export import Vote, resolve_label
from labeling.errors import LabelingError
from labeling.store.tables import (
    Annotation,
    AuditLog,
    Message,
    MessageScore,
    ServedMail,
    Skip,
    SuspectLabel,
    Team,
    User,
    utcnow,
)

QueueOrder = Literal["oldest", "random", "uncertain", "suspect"]
QUEUE_ORDERS: tuple[QueueOrder, ...] = get_args(QueueOrder)

# Settings.double_label_share's default, for callers without settings at hand.
DEFAULT_DOUBLE_LABEL_SHARE = 0.1

# Sources by which a person decided a mail's team.
PERSON_SOURCES = ("human", "adjudication")

# Knuth's multiplicative hash (2^32 / golden ratio): consecutive ids spread evenly over
# [0, 2^32), so any share of mail is chosen evenly across the archive, in SQL and Python
# alike, and a larger share keeps every mail a smaller one chose.
_HASH_MULTIPLIER = 2_654_435_761
_HASH_MODULUS = 2**32


@dataclass(frozen=True, slots=True)
class LabelFlags:
    """A labeller's second, optional judgement of a mail (issue 14 item 3): it is urgent,
    the customer wants to leave. Given with a label, both False means "looked, neither"."""

    urgent: bool = False
    churn: bool = False

    def details(self) -> dict[str, bool]:
        return {"urgent": self.urgent, "churn": self.churn}


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """A model's view of one message: its top team, that team's probability, and the
    margin between the top two probabilities (0 = torn, 1 = certain)."""

    message_id: int
    top_team_slug: str
    confidence: float
    margin: float


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A team for the labeller to confirm with Enter: a weak label or a model's guess.

    ``confidence`` is the model's probability; None for an archive-folder label.
    """

    team_id: int
    team_slug: str
    source: Literal["archive-folder", "model"]
    confidence: float | None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far labelling is, over parsed archive mail.

    ``labelled``: mails with at least one person's label. ``per_team``: mails whose people's
    labels settle on that team (adjudication, else a clear majority; ties are not counted).
    ``weak_only``: mails with an archive-folder label and no person's label yet.
    ``double_target``: mails chosen for double-labelling; ``double_done``: those of them
    that two different people have labelled.
    """

    total: int
    labelled: int
    per_team: dict[str, int]
    weak_only: int
    double_target: int
    double_done: int


# Double-labelling --------------------------------------------------------------------------


def is_double_labelled(message_id: int, share: float = DEFAULT_DOUBLE_LABEL_SHARE) -> bool:
    """Whether a message is one of the ``share`` of mail that two people label.

    Deterministic in the message id; the same rule as the queue's SQL.
    """
    return (message_id * _HASH_MULTIPLIER) % _HASH_MODULUS < _double_threshold(share)


def _double_threshold(share: float) -> int:
    if not 0.0 <= share <= 1.0:  # also refuses NaN
        raise ValueError(f"double_label_share must be between 0 and 1, not {share}")
    return round(share * _HASH_MODULUS)


def _is_double(threshold: ColumnElement[Any]) -> ColumnElement[bool]:
    multiplier = literal_column(str(_HASH_MULTIPLIER), BigInteger)
    modulus = literal_column(str(_HASH_MODULUS), BigInteger)
    return (Message.id * multiplier) % modulus < threshold


# The queue --------------------------------------------------------------------------------
#
# Statements are built once per shape, with bound parameters for the user and the rest:
# building and compiling them costs more than running them. Constants are literal SQL so
# that SQLite can prove the conditions of its partial indexes.

_USER = bindparam("user_id", type_=Integer)
_THRESHOLD = bindparam("double_threshold", type_=BigInteger)
_PIVOT = bindparam("pivot", type_=String)
_VERSION = bindparam("model_version", type_=String)


def _sql(value: str) -> ColumnElement[Any]:
    return literal_column(f"'{value}'")


def _queue_scope() -> tuple[ColumnElement[bool], ...]:
    return (Message.status == _sql("ok"), Message.origin == _sql("archive"))


# A message id column: ``Message.id`` or a subquery's.
_IdColumn = ColumnElement[int] | QueryableAttribute[int]


def _labelled_by_user(message_id: _IdColumn) -> ColumnElement[bool]:
    return exists().where(
        Annotation.message_id == message_id,
        Annotation.user_id == _USER,
        Annotation.superseded_at.is_(None),
    )


def _skipped_by_user(message_id: _IdColumn) -> ColumnElement[bool]:
    return exists().where(Skip.message_id == message_id, Skip.user_id == _USER)


def _adjudicated(message_id: _IdColumn) -> ColumnElement[bool]:
    return exists().where(
        Annotation.message_id == message_id,
        Annotation.superseded_at.is_(None),
        Annotation.source == _sql("adjudication"),
    )


def _adjudicated_ids() -> Select[int]:
    # Aliased: it is used inside statements on annotations themselves.
    decided = aliased(Annotation)
    return select(decided.message_id).where(
        decided.superseded_at.is_(None), decided.source == _sql("adjudication")
    )


QueueStage = Literal["second", "fresh"]


def _in_stage(stage: QueueStage) -> tuple[ColumnElement[bool], ...]:
    """The conditions on ``Message`` alone (answered from ix_messages_label_queue)."""
    if stage == "fresh":
        return (*_queue_scope(), Message.human_labels == literal_column("0"))
    return (*_queue_scope(), Message.human_labels == literal_column("1"), _is_double(_THRESHOLD))


def _eligible(stage: QueueStage, message_id: _IdColumn) -> tuple[ColumnElement[bool], ...]:
    """The conditions that look up other tables: for the user in ``_USER``."""
    # A fresh mail has no human label, so certainly none of this user's.
    mine = () if stage == "fresh" else (~_labelled_by_user(message_id),)
    return (*mine, ~_adjudicated(message_id), ~_skipped_by_user(message_id))


# Uncertain order sorts every candidate by margin; the lookups in other tables run only on
# the first few of them, and on all only if those few are all skipped or decided.
_SHORTLIST = 32


@cache
def _pick_statements(stage: QueueStage, order: QueueOrder) -> tuple[Select[int], ...]:
    """Statements to try in turn; the first that finds a message decides."""
    where = (*_in_stage(stage), *_eligible(stage, Message.id))
    # Oldest: dated mail by date, then undated mail. Two statements rather than NULLS LAST,
    # so both databases walk ix_messages_label_queue in order and stop at the first match.
    oldest = (
        select(Message.id)
        .where(*where, Message.date.is_not(None))
        .order_by(Message.date, Message.id)
        .limit(1),
        select(Message.id).where(*where, Message.date.is_(None)).order_by(Message.id).limit(1),
    )
    if order == "oldest" or stage == "second":
        # Pending second labels go oldest first whatever the order: they are few, and
        # sorting all mail with one label to find them would cost more than the walk.
        return oldest
    if order == "random":
        # The content hash (SHA-256 of the raw mail) is a fixed shuffle of the archive; each
        # (user, seed) starts it at its own point and wraps around, walking
        # ix_messages_label_shuffle like the oldest-first walk.
        return tuple(
            select(Message.id)
            .where(*where, after)
            .order_by(Message.content_hash, Message.id)
            .limit(1)
            for after in (Message.content_hash >= _PIVOT, Message.content_hash < _PIVOT)
        )
    in_stage = select(Message.id).where(*_in_stage(stage))
    if order == "suspect":
        # Weak labels confident learning finds suspect, most suspect first; then the rest.
        ranked = select(SuspectLabel.message_id.label("id"), SuspectLabel.rank.label("key")).where(
            SuspectLabel.message_id.in_(in_stage)
        )
        picks = tuple(
            select(ids.c.id)
            .where(*_eligible(stage, ids.c.id))
            .order_by(ids.c.key, ids.c.id)
            .limit(1)
            for ids in (ranked.order_by("key").limit(_SHORTLIST).subquery(), ranked.subquery())
        )
        return (*picks, *oldest)
    sorted_ids = select(
        MessageScore.message_id.label("id"), MessageScore.margin.label("key")
    ).where(MessageScore.model_version == _VERSION, MessageScore.message_id.in_(in_stage))
    shortlist = sorted_ids.order_by("key", "id").limit(_SHORTLIST).subquery()
    everyone = sorted_ids.subquery()
    picks = tuple(
        select(ids.c.id).where(*_eligible(stage, ids.c.id)).order_by(ids.c.key, ids.c.id).limit(1)
        for ids in (shortlist, everyone)
    )
    # The mail the model has not scored follows, oldest first.
    return (*picks, *oldest)


@cache
def _undone_statement() -> Select[int]:
    undone = (
        select(Annotation.message_id, func.max(Annotation.id).label("last"))
        .where(
            Annotation.user_id == _USER,
            Annotation.superseded_at.is_not(None),
            Annotation.source == _sql("human"),
        )
        .group_by(Annotation.message_id)
        .subquery()
    )
    return (
        select(Message.id)
        .join(undone, undone.c.message_id == Message.id)
        .where(
            Message.status == _sql("ok"),
            ~_labelled_by_user(Message.id),
            ~_skipped_by_user(Message.id),
        )
        # Undo twice, then label: the earlier of the two comes back first.
        .order_by(undone.c.last)
        .limit(1)
    )


def next_message(
    session: Session,
    user_id: int,
    *,
    order: QueueOrder = "oldest",
    seed: int = 0,
    double_label_share: float = DEFAULT_DOUBLE_LABEL_SHARE,
) -> Message | None:
    """The next mail for this labeller, or None when they have nothing left (module doc).

    ``order``: "oldest" by date (undated mail last), then id; "random", a fixed shuffle
    of the archive (by content hash) that each (user, ``seed``) starts at its own point;
    "uncertain", the newest model version's smallest margin first, then the unscored
    rest oldest first; "suspect", weak labels confident learning found suspect (most
    suspect first), then the rest oldest first. Pending second labels go oldest first in
    every order. Pass ``Settings.double_label_share``.
    """
    found = next_message_id(
        session, user_id, order=order, seed=seed, double_label_share=double_label_share
    )
    return None if found is None else session.get(Message, found)


@dataclass(frozen=True, slots=True)
class Pick:
    """The mail the queue offers, and why that one: ``'undone'`` (the labeller asked it
    back), ``'second'`` (a pending second label), or the order that found it — which is
    ``'oldest'`` when the order asked for had nothing (no model scores, no suspects)."""

    message_id: int
    why: str


def next_message_id(
    session: Session,
    user_id: int,
    *,
    order: QueueOrder = "oldest",
    seed: int = 0,
    double_label_share: float = DEFAULT_DOUBLE_LABEL_SHARE,
) -> int | None:
    """The id :func:`next_message` would return, without loading the mail."""
    pick = next_pick(
        session, user_id, order=order, seed=seed, double_label_share=double_label_share
    )
    return pick.message_id if pick is not None else None


def next_pick(
    session: Session,
    user_id: int,
    *,
    order: QueueOrder = "oldest",
    seed: int = 0,
    double_label_share: float = DEFAULT_DOUBLE_LABEL_SHARE,
) -> Pick | None:
    """:func:`next_message_id` with the reason the mail was chosen (see :class:`Pick`)."""
    if order not in QUEUE_ORDERS:
        raise ValueError(f"order must be one of {', '.join(QUEUE_ORDERS)}, not {order!r}")
    params: dict[str, Any] = {
        "user_id": user_id,
        "double_threshold": _double_threshold(double_label_share),
    }
    undone = session.scalar(_undone_statement(), params)
    if undone is not None:
        return Pick(undone, "undone")
    if order == "random":
        params["pivot"] = hashlib.sha256(f"mailroom-queue:{user_id}:{seed}".encode()).hexdigest()
    if order == "uncertain":
        params["model_version"] = _newest_model_version(session)
        if params["model_version"] is None:
            order = "oldest"
    stages: tuple[QueueStage, ...] = ("second", "fresh")
    for stage in stages:
        statements = _pick_statements(stage, order)
        # The statements of an order that walks scores or suspects end with the
        # oldest-first walk of the mail they do not cover.
        fallback_from = len(statements) - 2 if order in ("uncertain", "suspect") else 99
        for index, statement in enumerate(statements):
            found = session.scalar(statement, params)
            if found is not None:
                if stage == "second":
                    return Pick(found, "second")
                return Pick(found, "oldest" if index >= fallback_from else order)
    return None


def has_scores(session: Session) -> bool:
    """Whether a model has scored mail for the queue (uncertainty-first is then possible)."""
    return _newest_model_version(session) is not None


def _newest_model_version(session: Session) -> str | None:
    # store_scores replaces a version's rows, so the highest id is the last version stored.
    return session.scalar(
        select(MessageScore.model_version).order_by(MessageScore.id.desc()).limit(1)
    )


# Model scores ----------------------------------------------------------------------------


def store_scores(session: Session, model_version: str, rows: Iterable[ScoreRow]) -> int:
    """Replace every stored score of ``model_version`` with ``rows``; returns their number.

    The queue's "uncertain" order and the suggestions read the version stored last.
    Raises :class:`LabelingError` for an unknown team slug, a message scored twice, or a
    confidence or margin outside [0, 1]; nothing is written then.
    """
    if not model_version or len(model_version) > 100:
        raise LabelingError(f"model version must be 1 to 100 characters, not {model_version!r}")
    teams = {slug: team_id for slug, team_id in session.execute(select(Team.slug, Team.id))}
    now = utcnow()
    values: list[dict[str, Any]] = []
    seen: set[int] = set()
    for row in rows:
        if row.top_team_slug not in teams:
            raise LabelingError(
                f"score for message {row.message_id}: unknown team {row.top_team_slug!r}"
            )
        for name in ("confidence", "margin"):
            value = getattr(row, name)
            if not 0.0 <= value <= 1.0:  # also refuses NaN
                raise LabelingError(
                    f"score for message {row.message_id}: {name} {value} is not in [0, 1]"
                )
        if row.message_id in seen:
            raise LabelingError(f"message {row.message_id} is scored twice")
        seen.add(row.message_id)
        values.append(
            {
                "message_id": row.message_id,
                "model_version": model_version,
                "top_team_id": teams[row.top_team_slug],
                "confidence": float(row.confidence),
                "margin": float(row.margin),
                "computed_at": now,
            }
        )
    session.execute(delete(MessageScore).where(MessageScore.model_version == model_version))
    if values:
        session.execute(insert(MessageScore), values)
    session.add(
        AuditLog(
            actor=f"model:{model_version}"[:100],
            action="store-scores",
            details={"model_version": model_version, "scored": len(values)},
        )
    )
    session.flush()
    return len(values)


# Suggestions ------------------------------------------------------------------------------


def suggestion(session: Session, message_id: int, user_id: int) -> Suggestion | None:
    """The team to offer this labeller for this message, or None.

    The newest model's top team when the model is scored for this mail, else the mail's
    archive-folder label; teams that are archived are never offered. Another person's
    label is never shown, and a model scored after another person labelled the mail is not
    either (it may have learnt that label), so a second labeller decides independently.
    """
    version = _newest_model_version(session)
    if version is not None:
        score = session.execute(
            select(MessageScore.computed_at, MessageScore.confidence, Team.id, Team.slug)
            .join(Team, Team.id == MessageScore.top_team_id)
            .where(
                MessageScore.message_id == message_id,
                MessageScore.model_version == version,
                Team.archived_at.is_(None),
            )
        ).first()
        if score is not None and _model_blind_to_others(session, message_id, user_id, score[0]):
            return Suggestion(score[2], score[3], "model", score[1])
    weak = session.execute(
        select(Team.id, Team.slug)
        .join(Annotation, Annotation.team_id == Team.id)
        .where(
            Annotation.message_id == message_id,
            Annotation.source == "archive-folder",
            Annotation.superseded_at.is_(None),
            Team.archived_at.is_(None),
        )
    ).first()
    if weak is not None:
        return Suggestion(weak[0], weak[1], "archive-folder", None)
    return None


def _model_blind_to_others(
    session: Session, message_id: int, user_id: int, computed_at: datetime
) -> bool:
    """Whether the scores predate every other person's label of the message (undone too)."""
    first_other = session.scalar(
        select(func.min(Annotation.created_at)).where(
            Annotation.message_id == message_id,
            Annotation.source.in_(("human", "review")),
            Annotation.user_id != user_id,
        )
    )
    return first_other is None or computed_at < first_other


# Labelling actions -----------------------------------------------------------------------


def _actor(user_id: int) -> str:
    return f"user:{user_id}"


def mark_served(session: Session, user_id: int, message_id: int) -> None:
    """Record that the queue showed this mail to this person (idempotent). Flushes."""
    if was_served(session, user_id, message_id):
        return
    try:
        with session.begin_nested():
            session.add(ServedMail(user_id=user_id, message_id=message_id))
            session.flush()
    except IntegrityError:
        pass  # a concurrent request of the same person recorded it first


def was_served(session: Session, user_id: int, message_id: int) -> bool:
    """Whether the queue has shown this mail to this person (:func:`mark_served`)."""
    found = session.scalar(
        select(ServedMail.id).where(
            ServedMail.user_id == user_id, ServedMail.message_id == message_id
        )
    )
    return found is not None


def _message_to_label(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise LabelingError(f"there is no message {message_id}")
    if message.origin != "archive":
        # Live mail gets its team from routing and review (labeling.live.review), whose
        # 'review' label is the person's decision; a labelling-queue label must not outvote it.
        raise LabelingError(
            f"message {message_id} is live mail; it is decided in review, not labelled"
        )
    if message.status != "ok":
        raise LabelingError(
            f"message {message_id} is quarantined ({message.quarantine_reason}); "
            "it cannot be labelled"
        )
    return message


def active_team(session: Session, team_id: int) -> Team:
    """The team, refused (LabelingError) when unknown or archived."""
    team = session.get(Team, team_id)
    if team is None:
        raise LabelingError(f"there is no team {team_id}")
    if team.archived_at is not None:
        raise LabelingError(f"team {team.slug} is archived; it takes no new labels")
    return team


def active_user(session: Session, user_id: int) -> User:
    """The user, refused (LabelingError) when unknown or inactive."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise LabelingError(f"there is no active user {user_id}")
    return user


def record_label(
    session: Session,
    message_id: int,
    team_id: int,
    user_id: int,
    *,
    flags: LabelFlags | None = None,
) -> Annotation:
    """Label a message for this user (source 'human'); returns the current annotation.

    ``flags``: the person's urgent / wants-to-leave judgement, stored with the label (None:
    not asked, as for callers that only give a team). Replaces (supersedes) the user's
    previous label of the message; labelling it again with the same team and flags changes
    nothing, so a repeated key press or form post is harmless.
    Raises :class:`LabelingError` for an archived or unknown team, a quarantined or
    unknown message, or an unknown or inactive user.
    """
    _message_to_label(session, message_id)
    team = active_team(session, team_id)
    user = active_user(session, user_id)
    # Two requests of the same person racing: the unique index on current labels refuses
    # the slower one's insert; it then finds the faster one's label and replaces that.
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return _replace_label(session, message_id, team, user, flags)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _same_flags(current: Annotation, flags: LabelFlags | None) -> bool:
    return flags is None or (current.urgent, current.churn) == (flags.urgent, flags.churn)


def _replace_label(
    session: Session, message_id: int, team: Team, user: User, flags: LabelFlags | None
) -> Annotation:
    user_id = user.id
    current = session.scalar(
        select(Annotation).where(
            Annotation.message_id == message_id,
            Annotation.user_id == user_id,
            Annotation.superseded_at.is_(None),
        )
    )
    if (
        current is not None
        and current.team_id == team.id
        and current.source == "human"
        and _same_flags(current, flags)
    ):
        return current
    now = utcnow()
    previous = None
    if current is not None:
        previous = current.team.slug
        current.superseded_at = now
        session.flush()  # before the insert: one current label per person and message
    label = Annotation(
        message_id=message_id,
        team_id=team.id,
        user_id=user_id,
        decided_by=user_id,
        role=user.role,
        source="human",
        created_at=now,
        urgent=flags.urgent if flags is not None else None,
        churn=flags.churn if flags is not None else None,
    )
    session.add(label)
    session.add(
        AuditLog(
            at=now,
            actor=_actor(user_id),
            action="label",
            message_id=message_id,
            details={
                "team": team.slug,
                "previous": previous,
                **(flags.details() if flags is not None else {}),
            },
        )
    )
    session.flush()
    return label


def skip(session: Session, message_id: int, user_id: int) -> None:
    """Pass on a message: the queue does not offer it to this user again. Idempotent."""
    message = session.get(Message, message_id)
    if message is None:
        raise LabelingError(f"there is no message {message_id}")
    active_user(session, user_id)
    try:
        with session.begin_nested():
            already = session.scalar(
                select(Skip.id).where(Skip.user_id == user_id, Skip.message_id == message_id)
            )
            if already is not None:
                return
            session.add(Skip(user_id=user_id, message_id=message_id))
            session.add(
                AuditLog(actor=_actor(user_id), action="skip", message_id=message_id, details={})
            )
            session.flush()
    except IntegrityError:
        pass  # a concurrent request skipped it first: the outcome is the same


@dataclass(frozen=True, slots=True)
class Skipped:
    """A mail this labeller skipped, for the list they can take it back from."""

    message_id: int
    subject: str
    sender: str
    skipped_at: datetime


def skipped(session: Session, user_id: int, *, limit: int = 200) -> list[Skipped]:
    """The mails this labeller skipped, the latest first (at most ``limit``)."""
    rows = session.execute(
        select(Message.id, Message.subject, Message.sender_name, Skip.created_at)
        .join(Skip, Skip.message_id == Message.id)
        .where(Skip.user_id == user_id)
        .order_by(Skip.created_at.desc(), Skip.id.desc())
        .limit(limit)
    )
    return [
        Skipped(message_id, subject or "(no subject)", sender or "", at)
        for message_id, subject, sender, at in rows
    ]


def unskip(session: Session, message_id: int, user_id: int) -> bool:
    """Take back a skip: the queue offers the mail to this labeller again. False when they
    had not skipped it."""
    active_user(session, user_id)
    skip_row = session.scalar(
        select(Skip).where(Skip.user_id == user_id, Skip.message_id == message_id)
    )
    if skip_row is None:
        return False
    session.delete(skip_row)
    session.add(AuditLog(actor=_actor(user_id), action="unskip", message_id=message_id, details={}))
    session.flush()
    return True


def open_by_id(session: Session, message_id: int, user_id: int) -> Message:
    """A mail a labeller asks for by its number, outside the queue's order.

    Allowed where the queue has a reason to show it: the mail is in a near-duplicate group,
    its folder label is flagged as suspect, or this labeller skipped or labelled it. Only
    parsed archive mail (live mail is for reviewers). Anything else raises
    :class:`LabelingError` saying why, so no one picks the mail they label at will.
    """
    message = session.get(Message, message_id)
    if message is None or message.origin != "archive":
        raise LabelingError(f"there is no archive mail #{message_id}")
    if message.status != "ok":
        raise LabelingError(f"mail #{message_id} could not be read; it cannot be labelled")
    active_user(session, user_id)
    mine = (
        session.scalar(
            select(Annotation.id)
            .where(Annotation.message_id == message_id, Annotation.user_id == user_id)
            .limit(1)
        )
        is not None
    )
    reasons = (
        message.dup_group_id is not None,
        session.get(SuspectLabel, message_id) is not None,
        session.scalar(
            select(Skip.id).where(Skip.message_id == message_id, Skip.user_id == user_id)
        )
        is not None,
        mine,
    )
    if not any(reasons):
        raise LabelingError(
            f"mail #{message_id} comes in the queue's own order: only mail in a "
            "near-duplicate group, with a flagged folder label, or that you skipped or "
            "labelled can be opened by its number"
        )
    return message


def undo_last(session: Session, user_id: int) -> Annotation | None:
    """Withdraw this user's most recent current label; returns it, or None if none is left.

    The label is superseded (kept for the audit trail), and :func:`next_message` offers
    the mail to the user again before anything else. Undoing again withdraws the label
    before that. One label per call, also after :func:`label_group`.
    """
    latest = session.scalar(
        select(Annotation)
        .where(
            Annotation.user_id == user_id,
            Annotation.source == "human",
            Annotation.superseded_at.is_(None),
        )
        .order_by(Annotation.id.desc())
        .limit(1)
    )
    if latest is None:
        return None
    now = utcnow()
    latest.superseded_at = now
    session.add(
        AuditLog(
            at=now,
            actor=_actor(user_id),
            action="undo",
            message_id=latest.message_id,
            details={"team": latest.team.slug, "annotation": latest.id},
        )
    )
    session.flush()
    return latest


def label_group(
    session: Session,
    message_id: int,
    team_id: int,
    user_id: int,
    *,
    flags: LabelFlags | None = None,
) -> int:
    """Label every mail of this message's near-duplicate group that the user has not labelled.

    Returns the number of labels added (the message alone when it has no group). Same
    checks as :func:`record_label`; ``flags`` go with every label (near-duplicates say the
    same thing); undo takes these labels back one at a time.
    """
    message = _message_to_label(session, message_id)
    team = active_team(session, team_id)
    user = active_user(session, user_id)
    if message.dup_group_id is None:
        members = [message.id]
    else:
        members = list(
            session.scalars(
                select(Message.id)
                .where(
                    Message.dup_group_id == message.dup_group_id,
                    Message.status == "ok",
                    Message.origin == "archive",
                )
                .order_by(Message.id)
            )
        )
    labelled = set(
        session.scalars(
            select(Annotation.message_id).where(
                Annotation.message_id.in_(members),
                Annotation.user_id == user_id,
                Annotation.superseded_at.is_(None),
            )
        )
    )
    targets = [member for member in members if member not in labelled]
    now = utcnow()
    try:
        with session.begin_nested():
            for target in targets:
                session.add(
                    Annotation(
                        message_id=target,
                        team_id=team.id,
                        user_id=user_id,
                        decided_by=user_id,
                        role=user.role,
                        source="human",
                        created_at=now,
                        urgent=flags.urgent if flags is not None else None,
                        churn=flags.churn if flags is not None else None,
                    )
                )
                session.add(
                    AuditLog(
                        at=now,
                        actor=_actor(user_id),
                        action="label-group",
                        message_id=target,
                        details={
                            "team": team.slug,
                            "group": message.dup_group_id,
                            "via": message.id,
                            **(flags.details() if flags is not None else {}),
                        },
                    )
                )
            session.flush()
    except IntegrityError:
        raise LabelingError(
            "some mails of this group were labelled at the same time; try again"
        ) from None
    return len(targets)


# Progress --------------------------------------------------------------------------------


def progress(
    session: Session, *, double_label_share: float = DEFAULT_DOUBLE_LABEL_SHARE
) -> Progress:
    """Counts for the progress bar over parsed archive mail (see :class:`Progress`).

    Pass ``Settings.double_label_share``.
    """
    threshold = literal(_double_threshold(double_label_share), BigInteger)

    def count(*where: ColumnElement[bool]) -> int:
        statement = select(func.count()).select_from(Message).where(*_queue_scope(), *where)
        return session.scalar(statement) or 0

    unlabelled = select(Message.id).where(
        *_queue_scope(), Message.human_labels == literal_column("0")
    )
    weak_only = session.scalar(
        select(func.count()).where(
            Annotation.superseded_at.is_(None),
            Annotation.source == _sql("archive-folder"),
            Annotation.message_id.in_(unlabelled),
            Annotation.message_id.not_in(_adjudicated_ids()),
        )
    )
    labelled, per_team = _consensus_counts(session)
    return Progress(
        total=count(),
        labelled=labelled,
        per_team=per_team,
        weak_only=weak_only or 0,
        double_target=count(_is_double(threshold)),
        double_done=count(_is_double(threshold), Message.human_labels >= literal_column("2")),
    )


def _consensus_counts(session: Session) -> tuple[int, dict[str, int]]:
    """(mails with a person's label, settled labels per team slug) over parsed archive mail."""
    # Message ids come from the narrow queue index (IN subqueries), never by joining the
    # wide messages rows.
    in_scope = select(Message.id).where(*_queue_scope())
    adjudicated = _adjudicated_ids()
    # Most labelled mail has one person's label and no adjudication: that label decides.
    single = select(Message.id).where(*_queue_scope(), Message.human_labels == literal_column("1"))
    slugs: dict[int, str] = {
        team_id: slug for team_id, slug in session.execute(select(Team.id, Team.slug))
    }
    per_team: dict[str, int] = {
        slugs[team_id]: number
        for team_id, number in session.execute(
            select(Annotation.team_id, func.count())
            .where(
                Annotation.superseded_at.is_(None),
                Annotation.source == _sql("human"),
                Annotation.message_id.in_(single),
                Annotation.message_id.not_in(adjudicated),
            )
            .group_by(Annotation.team_id)
        )
    }
    simple = sum(per_team.values())
    # The rest (several labels, or an adjudication) is settled as the export settles it.
    several = select(Message.id).where(*_queue_scope(), Message.human_labels >= literal_column("2"))
    rows = session.execute(
        select(Annotation.message_id, Annotation.source, Team.slug, Annotation.id)
        .join(Team, Team.id == Annotation.team_id)
        .where(
            Annotation.superseded_at.is_(None),
            Annotation.source.in_(PERSON_SOURCES),
            or_(
                Annotation.message_id.in_(several),
                Annotation.message_id.in_(adjudicated) & Annotation.message_id.in_(in_scope),
            ),
        )
    )
    votes: dict[int, list[Vote]] = defaultdict(list)
    for message_id, source, slug, annotation_id in rows:
        votes[message_id].append(Vote(source, slug, annotation_id))
    for message_votes in votes.values():
        resolution = resolve_label(message_votes)
        if resolution is not None:
            per_team[resolution.label] = per_team.get(resolution.label, 0) + 1
    return simple + len(votes), dict(sorted(per_team.items()))
