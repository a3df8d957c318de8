"""Agreement between labellers, and settling their disagreements.

Pure statistics first (nominal labels as strings; NaN where a statistic is undefined,
e.g. no data): Cohen's kappa for two raters (scikit-learn) and Krippendorff's alpha for
any number of raters per unit (the ``krippendorff`` package), each overall and per team
one-vs-rest (the team against all others). Both are 1.0 for perfect agreement, also when
everyone used a single label, where the textbook formulas divide by zero.

Then the database side: :func:`agreement_report` over every mail that two or more people
labelled, :func:`disagreements` still open, and :func:`adjudicate` to settle one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labeling.annotation.queue import active_team
from labeling.errors import LabelingError
from labeling.store.tables import Annotation, AuditLog, Message, Team, User, utcnow

NAN = float("nan")
ADJUDICATOR_ROLES = ("admin", "reviewer")


# Pure statistics ------------------------------------------------------------------------


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa between two raters who labelled the same items, ``a[i]`` with ``b[i]``.

    NaN when there are no items; raises ValueError when the lengths differ.
    """
    if len(a) != len(b):
        raise ValueError(f"two raters must rate the same items: {len(a)} vs {len(b)} labels")
    if not a:
        return NAN
    labels = sorted(set(a) | set(b))
    if len(labels) == 1:
        return 1.0
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(list(a), list(b), labels=labels))


def krippendorff_alpha(units: Sequence[Sequence[str]]) -> float:
    """Krippendorff's alpha (nominal) over units, each the labels its raters gave it.

    Units with fewer than two labels cannot be compared and are left out (as the
    definition says); NaN when no unit has two.
    """
    pairable = [unit for unit in units if len(unit) >= 2]
    if not pairable:
        return NAN
    values = sorted({value for unit in pairable for value in unit})
    if len(values) == 1:
        return 1.0
    import krippendorff
    import numpy as np

    column = {value: index for index, value in enumerate(values)}
    counts = np.zeros((len(pairable), len(values)), dtype=np.float64)
    for row, unit in enumerate(pairable):
        for value in unit:
            counts[row, column[value]] += 1
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


def per_team_kappa(a: Sequence[str], b: Sequence[str]) -> dict[str, float]:
    """Cohen's kappa per label, one-vs-rest: did both raters pick this team or not?"""
    return {
        team: cohen_kappa(_one_vs_rest(a, team), _one_vs_rest(b, team))
        for team in sorted(set(a) | set(b))
    }


def per_team_alpha(units: Sequence[Sequence[str]]) -> dict[str, float]:
    """Krippendorff's alpha per label, one-vs-rest, over the units as in the overall alpha."""
    teams = sorted({value for unit in units if len(unit) >= 2 for value in unit})
    return {
        team: krippendorff_alpha([_one_vs_rest(unit, team) for unit in units]) for team in teams
    }


def _one_vs_rest(labels: Sequence[str], team: str) -> list[str]:
    return ["yes" if label == team else "no" for label in labels]


# The database side ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamAgreement:
    """Agreement on one team, one-vs-rest. ``labels``: how often people chose it."""

    team: str
    kappa: float | None
    alpha: float | None
    labels: int


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Agreement between two labellers over the mails both labelled."""

    user_a: str
    user_b: str
    messages: int
    agreed: int
    kappa: float | None


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Agreement over every mail two or more people labelled.

    ``kappa``: Cohen's kappa between the first and second labeller of each such mail;
    ``alpha``: Krippendorff's alpha over all their labels; None where undefined (no such
    mail yet). ``observed``: share of those mails on which everyone agreed.
    ``disagreements``: mails with differing labels; ``open_disagreements``: those not yet
    adjudicated. ``per_team`` by slug; ``pairs`` per pair of labellers (by username).
    """

    messages: int
    kappa: float | None
    alpha: float | None
    observed: float | None
    disagreements: int
    open_disagreements: int
    per_team: dict[str, TeamAgreement]
    pairs: tuple[PairAgreement, ...]


@dataclass(frozen=True, slots=True)
class LabelBy:
    """One person's current label of a mail."""

    user_id: int
    username: str
    team_id: int
    team_slug: str


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A mail whose labellers chose different teams, not yet adjudicated."""

    message_id: int
    subject: str
    labels: tuple[LabelBy, ...]


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def _multiply_labelled(session: Session, only: int | None = None) -> dict[int, list[LabelBy]]:
    """Message id → its current human labels (oldest first), for mails with two or more;
    ``only``: just that message."""
    several = (
        select(Annotation.message_id)
        .where(Annotation.superseded_at.is_(None), Annotation.source == "human")
        .group_by(Annotation.message_id)
        .having(func.count() >= 2)
    )
    if only is not None:
        several = several.where(Annotation.message_id == only)
    rows = session.execute(
        select(Annotation.message_id, User.id, User.username, Team.id, Team.slug)
        .join(User, User.id == Annotation.user_id)
        .join(Team, Team.id == Annotation.team_id)
        .join(Message, Message.id == Annotation.message_id)
        .where(
            Annotation.superseded_at.is_(None),
            Annotation.source == "human",
            Annotation.message_id.in_(several),
            Message.status == "ok",
        )
        .order_by(Annotation.message_id, Annotation.id)
    )
    labels: dict[int, list[LabelBy]] = defaultdict(list)
    for message_id, user_id, username, team_id, slug in rows:
        labels[message_id].append(LabelBy(user_id, username, team_id, slug))
    return labels


def _adjudicated(session: Session, message_ids: list[int]) -> set[int]:
    if not message_ids:
        return set()
    return set(
        session.scalars(
            select(Annotation.message_id).where(
                Annotation.source == "adjudication",
                Annotation.superseded_at.is_(None),
                Annotation.message_id.in_(message_ids),
            )
        )
    )


def agreement_report(session: Session) -> AgreementReport:
    """Agreement statistics over every parsed mail that two or more people labelled."""
    labelled = _multiply_labelled(session)
    first: list[str] = []
    second: list[str] = []
    units: list[list[str]] = []
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    disagreeing: list[int] = []
    for message_id, labels in labelled.items():
        slugs = [label.team_slug for label in labels]
        units.append(slugs)
        first.append(slugs[0])
        second.append(slugs[1])
        if len(set(slugs)) > 1:
            disagreeing.append(message_id)
        # Every pair of people on the mail; each pair keyed in username order.
        for i, left in enumerate(labels):
            for right in labels[i + 1 :]:
                a, b = sorted((left, right), key=lambda label: label.username)
                pairs[(a.username, b.username)].append((a.team_slug, b.team_slug))

    kappas = per_team_kappa(first, second)
    alphas = per_team_alpha(units)
    chosen: dict[str, int] = defaultdict(int)
    for unit in units:
        for slug in unit:
            chosen[slug] += 1
    per_team = {
        team: TeamAgreement(
            team=team,
            kappa=_none_if_nan(kappas.get(team, NAN)),
            alpha=_none_if_nan(alphas.get(team, NAN)),
            labels=chosen[team],
        )
        for team in sorted(chosen)
    }
    pair_rows = tuple(
        PairAgreement(
            user_a=a,
            user_b=b,
            messages=len(rated),
            agreed=sum(1 for x, y in rated if x == y),
            kappa=_none_if_nan(cohen_kappa([x for x, _ in rated], [y for _, y in rated])),
        )
        for (a, b), rated in sorted(pairs.items())
    )
    settled = _adjudicated(session, disagreeing)
    return AgreementReport(
        messages=len(labelled),
        kappa=_none_if_nan(cohen_kappa(first, second)),
        alpha=_none_if_nan(krippendorff_alpha(units)),
        observed=(len(labelled) - len(disagreeing)) / len(labelled) if labelled else None,
        disagreements=len(disagreeing),
        open_disagreements=len(disagreeing) - len(settled),
        per_team=per_team,
        pairs=pair_rows,
    )


def disagreements(session: Session) -> list[Disagreement]:
    """Mails whose people chose different teams and that nobody adjudicated, by id."""
    labelled = _multiply_labelled(session)
    disagreeing = [
        message_id
        for message_id, labels in labelled.items()
        if len({label.team_id for label in labels}) > 1
    ]
    settled = _adjudicated(session, disagreeing)
    open_ids = [message_id for message_id in disagreeing if message_id not in settled]
    if not open_ids:
        return []
    subjects: dict[int, str] = {
        message_id: subject
        for message_id, subject in session.execute(
            select(Message.id, Message.subject).where(Message.id.in_(open_ids))
        )
    }
    return [
        Disagreement(message_id, subjects.get(message_id, ""), tuple(labelled[message_id]))
        for message_id in sorted(open_ids)
    ]


def adjudicate(session: Session, message_id: int, team_id: int, user_id: int) -> Annotation:
    """Settle which team a mail belongs to (an admin or reviewer); returns the decision.

    Adds an ``adjudication`` annotation, replacing an earlier adjudication of the mail;
    the people's labels stay as they were (agreement statistics keep counting them), but
    the mail leaves :func:`disagreements` and the export takes this team. Raises
    :class:`LabelingError` for a user who is not an active admin or reviewer, an archived
    or unknown team, or a quarantined or unknown message.
    """
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise LabelingError(f"there is no active user {user_id}")
    if user.role not in ADJUDICATOR_ROLES:
        raise LabelingError(
            f"{user.username} is a {user.role}; only an admin or a reviewer adjudicates"
        )
    message = session.get(Message, message_id)
    if message is None:
        raise LabelingError(f"there is no message {message_id}")
    if message.status != "ok":
        raise LabelingError(f"message {message_id} is quarantined; it cannot be labelled")
    team = active_team(session, team_id)

    now = utcnow()
    previous = session.scalar(
        select(Annotation).where(
            Annotation.message_id == message_id,
            Annotation.source == "adjudication",
            Annotation.superseded_at.is_(None),
        )
    )
    if previous is not None:
        previous.superseded_at = now
        session.flush()  # one current adjudication per mail
    people = {
        label.username: label.team_slug
        for label in _multiply_labelled(session, message_id).get(message_id, [])
    }
    decision = Annotation(
        message_id=message_id,
        team_id=team.id,
        user_id=None,
        decided_by=user.id,
        role=user.role,
        source="adjudication",
        created_at=now,
    )
    session.add(decision)
    session.add(
        AuditLog(
            at=now,
            actor=f"user:{user_id}",
            action="adjudicate",
            message_id=message_id,
            details={
                "team": team.slug,
                "previous": previous.team.slug if previous is not None else None,
                "labels": people,
            },
        )
    )
    session.flush()
    return decision


def folder_labels(session: Session, message_ids: Collection[int]) -> dict[int, int]:
    """Message id → the team its archive folder gave it (current labels only), for the
    adjudicator to see beside the labellers' choices."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Annotation.message_id, Annotation.team_id).where(
            Annotation.message_id.in_(list(message_ids)),
            Annotation.source == "archive-folder",
            Annotation.superseded_at.is_(None),
        )
    )
    return {message_id: team_id for message_id, team_id in rows}
