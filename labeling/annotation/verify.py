"""The verification sample: people's blind answers for a random draw of archive mail.

Folder labels are weak: an archive is misfiled in places, and a precision of 0.98 can never
be shown against labels that are themselves 2 % wrong. So thresholds are certified, and
versions compared, on a *verified* sample instead:

* **Random.** Each person walks the content-hash shuffle of the archive (a fixed random
  permutation) from their own starting point, so the union of everyone's answers is a
  uniform random sample. There is no skipping and no choosing: the only mail a person may
  answer is the next one the walk offers them (:func:`next_to_verify`), so no one can
  steer which mail is verified.
* **Blind.** No suggestion is shown: neither the folder nor a model.
* **Complete.** "Belongs to no team" is an answer (``team_id`` None), not a skip: mail no
  team should get is part of what the router meets, and routing it is an error.

Verified mail is never trained on (:mod:`classifier.store_training` keeps it out), so a
model's scores on it are out of sample. :func:`weak_label_noise` compares the folder labels
with the verified answers: how noisy the weak labels are.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from labeling.annotation.queue import active_team, active_user
from labeling.errors import LabelingError
from labeling.live.affinity import CustomerKeys, customer_keys
from labeling.mail.model_text import model_text
from labeling.store.tables import (
    Annotation,
    AuditLog,
    Message,
    RoutingDecision,
    Team,
    Verification,
    utcnow,
)

if TYPE_CHECKING:
    from labeling.mail.pseudonymise import Pseudonymiser

NO_TEAM = None  # the answer "this mail belongs to no team we have"


class VerificationConflict(LabelingError):
    """The mail is not the one the walk offers this person now (answered meanwhile)."""


def _pivot(user_id: int) -> str:
    return hashlib.sha256(f"mailroom-verify:{user_id}".encode()).hexdigest()


def _unverified() -> tuple[ColumnElement[bool], ...]:
    current = select(Verification.message_id).where(Verification.superseded_at.is_(None))
    return (
        Message.status == "ok",
        Message.origin == "archive",
        Message.id.not_in(current),
    )


def next_to_verify(session: Session, user_id: int) -> int | None:
    """The id of the mail this person verifies next (None when the archive is done): the
    first unverified archive mail at or after their own point of the content-hash
    shuffle, wrapping around."""
    pivot = _pivot(user_id)
    for after in (Message.content_hash >= pivot, Message.content_hash < pivot):
        found = session.scalar(
            select(Message.id)
            .where(*_unverified(), after)
            .order_by(Message.content_hash, Message.id)
            .limit(1)
        )
        if found is not None:
            return int(found)
    return None


def record_verification(
    session: Session, message_id: int, team_id: int | None, user_id: int
) -> Verification:
    """This person's answer for the mail the walk offers them: a team, or ``None`` for
    "no team". Raises :class:`VerificationConflict` for any other mail (someone answered
    it meanwhile, or the request names a mail out of turn), :class:`LabelingError` for an
    archived team or an inactive user. Flushes; the caller commits."""
    active_user(session, user_id)
    team = active_team(session, team_id) if team_id is not None else None
    expected = next_to_verify(session, user_id)
    if message_id != expected:
        raise VerificationConflict(
            f"mail {message_id} is not the next mail of your verification sample"
            + (f" (that is mail {expected})" if expected is not None else "")
        )
    now = utcnow()
    row = Verification(
        message_id=message_id,
        user_id=user_id,
        team_id=team.id if team is not None else None,
        created_at=now,
    )
    session.add(row)
    session.add(
        AuditLog(
            at=now,
            actor=f"user:{user_id}",
            action="verify",
            message_id=message_id,
            details={"team": team.slug if team is not None else None},
        )
    )
    session.flush()
    return row


def undo_verification(session: Session, user_id: int) -> Verification | None:
    """Withdraw this person's most recent current answer (it comes back to them first);
    None when they have none."""
    latest = session.scalar(
        select(Verification)
        .where(Verification.user_id == user_id, Verification.superseded_at.is_(None))
        .order_by(Verification.id.desc())
        .limit(1)
    )
    if latest is None:
        return None
    now = utcnow()
    latest.superseded_at = now
    session.add(
        AuditLog(
            at=now,
            actor=f"user:{user_id}",
            action="undo-verify",
            message_id=latest.message_id,
            details={"verification": latest.id},
        )
    )
    session.flush()
    return latest


@dataclass(frozen=True, slots=True)
class VerifiedMail:
    """One verified mail: the text the model reads, the verified team slug (None: no
    team), and its folder (weak) label if it has one."""

    message_id: int
    text: str
    team: str | None
    weak_team: str | None
    language: str
    group: int


def verified_mail(
    session: Session, *, pseudonymiser: Pseudonymiser | None = None
) -> list[VerifiedMail]:
    """Every current verification with its mail, by message id; the text is read as
    routing reads it (:func:`model_text` with ``pseudonymiser``)."""
    weak = aliased(Annotation)
    weak_team = aliased(Team)
    rows = session.execute(
        select(
            Message.id,
            Message.subject,
            Message.new_text,
            Message.quoted_text,
            Message.language,
            Message.dup_group_id,
            Message.sender_name,
            Team.slug,
            weak_team.slug,
        )
        .join(Verification, Verification.message_id == Message.id)
        .outerjoin(Team, Team.id == Verification.team_id)
        .outerjoin(
            weak,
            (weak.message_id == Message.id)
            & (weak.source == "archive-folder")
            & weak.superseded_at.is_(None),
        )
        .outerjoin(weak_team, weak_team.id == weak.team_id)
        .where(Verification.superseded_at.is_(None), Message.status == "ok")
        .order_by(Message.id)
    ).all()
    return [
        VerifiedMail(
            message_id=message_id,
            text=model_text(
                subject, new_text, quoted, names=(sender,), pseudonymiser=pseudonymiser
            ),
            team=team,
            weak_team=weak_slug,
            language=language,
            group=group or message_id,
        )
        for message_id, subject, new_text, quoted, language, group, sender, team, weak_slug in rows
    ]


def verified_ids(session: Session) -> set[int]:
    """Ids of every mail with a current verification (kept out of training)."""
    return set(
        session.scalars(select(Verification.message_id).where(Verification.superseded_at.is_(None)))
    )


def verified_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Verification)
            .where(Verification.superseded_at.is_(None))
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class NoiseEstimate:
    """How often the folder (weak) label disagrees with the verified answer, on the
    verified mail that has one: ``rate`` with a 95 % Clopper–Pearson interval."""

    compared: int
    disagreements: int
    low: float
    high: float
    per_team: dict[str, tuple[int, int]]  # folder team -> (compared, disagreements)

    @property
    def rate(self) -> float | None:
        return self.disagreements / self.compared if self.compared else None


def weak_label_noise(session: Session) -> NoiseEstimate:
    """The weak labels' error rate, measured on the verified sample (see module doc)."""
    compared = disagreements = 0
    per_team: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for mail in verified_mail(session):
        if mail.weak_team is None:
            continue
        compared += 1
        per_team[mail.weak_team] += 1
        if mail.team != mail.weak_team:
            disagreements += 1
            wrong[mail.weak_team] += 1
    low, high = _interval(disagreements, compared)
    return NoiseEstimate(
        compared=compared,
        disagreements=disagreements,
        low=low,
        high=high,
        per_team={team: (per_team[team], wrong[team]) for team in sorted(per_team)},
    )


def _interval(errors: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided Clopper–Pearson interval of errors/n (scipy only when there is data)."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import beta

    low = 0.0 if errors == 0 else float(beta.ppf(alpha / 2, errors, n - errors + 1))
    high = 1.0 if errors == n else float(beta.ppf(1 - alpha / 2, errors + 1, n - errors))
    return low, high


_PRIOR_CHUNK = 500  # ids per IN (...) list
_MAX_PARENTS = 50  # Message-IDs of In-Reply-To and References looked at, newest first


def thread_priors(session: Session, message_ids: Sequence[int]) -> dict[int, str]:
    """For each of ``message_ids`` that is a reply in a thread holding an earlier mail, the
    team of the mail it answers: what a thread decision weighs for it (routing asks the
    same of a live reply: :func:`answered_team`).

    The mail it answers is the thread's earlier mail its In-Reply-To names, else the newest
    its References name, else the thread's latest earlier mail: the conversation's team now
    — a thread that changed topic is answered by the team of its new topic, not its first
    mail's. That mail's team is the one a person gave it (verified, labelled or
    adjudicated), else its archive folder, else — live mail — where it was routed. Replies
    with no such team are left out. Thread decisions are certified on these
    (:mod:`classifier.store_training`): on the verified replies, how often did the answered
    mail's team answer right?
    """
    replies: dict[int, _Reply] = {}
    for start in range(0, len(message_ids), _PRIOR_CHUNK):
        chunk = list(message_ids[start : start + _PRIOR_CHUNK])
        for mid, thread, date, parent, references in session.execute(
            select(
                Message.id, Message.thread_id, Message.date, Message.in_reply_to, Message.references
            ).where(Message.id.in_(chunk), Message.thread_id.is_not(None))
        ):
            if thread is not None and (parent or references):
                replies[mid] = _Reply(thread, _order_key(date, mid), _parents(parent, references))
    return _answered(session, replies)


def answered_team(
    session: Session,
    thread_id: int,
    *,
    in_reply_to: str | None,
    references: Sequence[str],
    exclude: int | None = None,
) -> str | None:
    """The team of the mail a live reply answers in its thread (as :func:`thread_priors`
    finds it for training; every other mail of the thread counts as earlier), or None.
    ``exclude``: the reply itself, when it is stored."""
    key = exclude if exclude is not None else 0
    found = _answered(session, {key: _Reply(thread_id, None, _parents(in_reply_to, references))})
    return found.get(key)


@dataclass(frozen=True, slots=True)
class _Reply:
    thread: int
    order: tuple[float, int, int] | None  # None: every other mail of the thread is earlier
    parents: tuple[str, ...]  # In-Reply-To, then References newest first


def _parents(in_reply_to: str | None, references: Sequence[object] | None) -> tuple[str, ...]:
    named = [in_reply_to] if in_reply_to else []
    named += [str(r) for r in reversed(list(references or ())) if r]
    return tuple(named[:_MAX_PARENTS])


def _answered(session: Session, replies: dict[int, _Reply]) -> dict[int, str]:
    """For each reply, the team of the earlier mail of its thread it answers."""
    threads = sorted({reply.thread for reply in replies.values()})
    members: dict[int, list[tuple[tuple[float, int, int], str | None]]] = {}
    for start in range(0, len(threads), _PRIOR_CHUNK):
        chunk = threads[start : start + _PRIOR_CHUNK]
        for mid, thread, date, header in session.execute(
            select(Message.id, Message.thread_id, Message.date, Message.message_id).where(
                Message.thread_id.in_(chunk), Message.status == "ok"
            )
        ):
            if thread is not None:
                members.setdefault(thread, []).append((_order_key(date, mid), header))
    answered: dict[int, int] = {}  # reply -> the mail it answers
    for mid, reply in replies.items():
        # Undated mail sorts by id (import order), as if it came in that order.
        earlier = [
            (key, header)
            for key, header in members.get(reply.thread, [])
            if key[2] != mid and (reply.order is None or key < reply.order)
        ]
        if not earlier:
            continue
        by_header = {header: key[2] for key, header in earlier if header}
        named = next((by_header[p] for p in reply.parents if p in by_header), None)
        answered[mid] = named if named is not None else max(earlier)[0][2]
    teams = _current_teams(session, sorted(set(answered.values())), routed=True)
    return {mid: teams[parent] for mid, parent in answered.items() if parent in teams}


def _order_key(date: datetime | None, mid: int) -> tuple[float, int, int]:
    return (date.timestamp() if date is not None else float("inf"), mid, mid)


def _current_teams(
    session: Session, message_ids: Sequence[int], *, routed: bool = False
) -> dict[int, str]:
    """Each mail's team as people gave it (verification, then a person's label), else its
    folder label, else (with ``routed``: live mail) the team its current routing decision
    sent it to; mail with none is left out."""
    rank = {"archive-folder": 0}
    best: dict[int, tuple[int, str]] = {}
    for start in range(0, len(message_ids), _PRIOR_CHUNK):
        chunk = list(message_ids[start : start + _PRIOR_CHUNK])
        if routed:
            for mid, slug in session.execute(
                select(RoutingDecision.message_id, Team.slug)
                .join(Team, Team.id == RoutingDecision.team_id)
                .where(
                    RoutingDecision.message_id.in_(chunk),
                    RoutingDecision.is_current,
                    RoutingDecision.mode == "auto",
                )
            ):
                best[mid] = (-1, slug)
        for mid, source, slug in session.execute(
            select(Annotation.message_id, Annotation.source, Team.slug)
            .join(Team, Team.id == Annotation.team_id)
            .where(Annotation.message_id.in_(chunk), Annotation.superseded_at.is_(None))
            .order_by(Annotation.created_at, Annotation.id)
        ):
            level = rank.get(source, 1)
            if mid not in best or level >= best[mid][0]:
                best[mid] = (level, slug)
        for mid, slug in session.execute(
            select(Verification.message_id, Team.slug)
            .join(Team, Team.id == Verification.team_id)
            .where(Verification.message_id.in_(chunk), Verification.superseded_at.is_(None))
        ):
            best[mid] = (2, slug)
    return {mid: slug for mid, (_, slug) in best.items()}


def routing_priors(
    session: Session,
    message_ids: Sequence[int],
    *,
    days: int,
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    own_addresses: Sequence[str] = (),
) -> tuple[dict[int, str], dict[int, str]]:
    """(thread priors, case priors) of ``message_ids``, as routing would ask them: the
    thread's team for a reply (:func:`thread_priors`), and the customer's case
    (:func:`case_priors`) only where no thread decides first (worker.routing)."""
    threads = thread_priors(session, message_ids)
    cases = case_priors(
        session, message_ids, days=days, patterns=patterns, own_addresses=own_addresses
    )
    return threads, {mid: team for mid, team in cases.items() if mid not in threads}


@dataclass(frozen=True, slots=True)
class _Keyed:
    message_id: int
    date: datetime
    keys: CustomerKeys


def case_priors(
    session: Session,
    message_ids: Sequence[int],
    *,
    days: int,
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    own_addresses: Sequence[str] = (),
) -> dict[int, str]:
    """For each of ``message_ids``, the team of its customer's case as customer affinity
    would find it live (:func:`labeling.live.affinity.find_case`): the latest earlier
    archived mail within ``days`` sharing one of its keys (a number match wins over the
    sender; a sender whose recent mail went to several teams links to nothing), with the
    team people gave that mail, else its folder. Mail without such a case is left out.
    Customer-affinity decisions are certified on these (:mod:`classifier.certify`)."""
    if days <= 0 or not message_ids:
        return {}
    keyed: list[_Keyed] = []
    for mid, date, sender, subject, new_text in session.execute(
        select(Message.id, Message.date, Message.sender_email, Message.subject, Message.new_text)
        .where(Message.status == "ok", Message.origin == "archive", Message.date.is_not(None))
        .execution_options(yield_per=_PRIOR_CHUNK)
    ):
        keys = customer_keys(sender, (subject, new_text), patterns, own_addresses=own_addresses)
        if keys and date is not None:
            keyed.append(_Keyed(mid, _aware(date), keys))
    found = latest_cases(keyed, set(message_ids), timedelta(days=days))
    teams = _current_teams(
        session, sorted({m for case in found.values() for m in (case[0], *case[1])})
    )
    priors: dict[int, str] = {}
    for mid, (case, others) in found.items():
        if case not in teams:
            continue
        if others and len({teams.get(m) for m in (case, *others)} - {None}) > 1:
            continue  # one address, many teams: a broker or a colleague, not one case
        priors[mid] = teams[case]
    return priors


def latest_cases(
    mails: Sequence[_Keyed], targets: set[int], window: timedelta
) -> dict[int, tuple[int, tuple[int, ...]]]:
    """For each target mail, (its case, the other candidates whose teams must agree): the
    latest earlier mail within ``window`` sharing a number key — no agreement needed — else
    the latest sharing its sender, with every such mail of the window as candidates."""
    by_key: dict[str, list[_Keyed]] = {}
    for mail in sorted(mails, key=lambda m: (m.date, m.message_id)):
        for key in mail.keys.all:
            by_key.setdefault(key, []).append(mail)
    out: dict[int, tuple[int, tuple[int, ...]]] = {}
    for mail in mails:
        if mail.message_id not in targets:
            continue

        def earlier(key: str, me: _Keyed = mail) -> list[_Keyed]:
            return [
                other
                for other in by_key.get(key, [])
                if me.date - window <= other.date
                and (other.date, other.message_id) < (me.date, me.message_id)
            ]

        numbered = [other for key in mail.keys.numbers for other in earlier(key)]
        if numbered:
            out[mail.message_id] = (max(numbered, key=_when).message_id, ())
            continue
        by_sender = earlier(mail.keys.sender) if mail.keys.sender else []
        if by_sender:
            latest = max(by_sender, key=_when)
            rest = tuple(o.message_id for o in by_sender if o is not latest)
            out[mail.message_id] = (latest.message_id, rest)
    return out


def _when(mail: _Keyed) -> tuple[datetime, int]:
    return mail.date, mail.message_id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
