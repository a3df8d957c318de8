"""Suspect weak labels in the store: the archive-folder labels that are probably wrong.

:mod:`classifier.suspects` finds them (confident learning on out-of-sample
probabilities) and :func:`replace_suspects` stores a search's result, replacing the last.
While a suspect mail has no person's label (human, adjudication, review or a verified
answer), its weak label is kept out of training and calibration
(:func:`unconfirmed_suspects`); the labelling queue's "suspect" order serves suspects first,
most suspect first, so a person confirms or corrects them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session, aliased

from labeling.errors import LabelingError
from labeling.store.tables import Annotation, AuditLog, SuspectLabel, Team, Verification, utcnow


@dataclass(frozen=True, slots=True)
class Suspect:
    """One suspect weak label: the mail, its folder team, the team the model expects, and
    the label's quality (the out-of-sample probability of the folder team; low = suspect)."""

    message_id: int
    weak_team: str
    likely_team: str | None
    quality: float


def replace_suspects(session: Session, suspects: Iterable[Suspect], *, source: str) -> int:
    """Store a search's suspects (ranked as given: most suspect first), replacing the last
    search's. Raises :class:`LabelingError` for an unknown team. Flushes."""
    teams = dict(session.execute(select(Team.slug, Team.id)).all())
    now = utcnow()
    rows = []
    for rank, suspect in enumerate(suspects, start=1):
        for slug in (suspect.weak_team, suspect.likely_team):
            if slug is not None and slug not in teams:
                raise LabelingError(f"suspect of mail {suspect.message_id}: unknown team {slug!r}")
        rows.append(
            {
                "message_id": suspect.message_id,
                "weak_team_id": teams[suspect.weak_team],
                "likely_team_id": teams[suspect.likely_team] if suspect.likely_team else None,
                "quality": float(suspect.quality),
                "rank": rank,
                "found_at": now,
            }
        )
    session.execute(delete(SuspectLabel))
    if rows:
        session.execute(insert(SuspectLabel), rows)
    session.add(
        AuditLog(at=now, actor=source[:100], action="find-suspects", details={"found": len(rows)})
    )
    session.flush()
    return len(rows)


def suspect_of(session: Session, message_id: int) -> Suspect | None:
    """The mail's suspect weak label, if it has one."""
    weak = aliased(Team)
    likely = aliased(Team)
    row = session.execute(
        select(SuspectLabel.message_id, weak.slug, likely.slug, SuspectLabel.quality)
        .join(weak, weak.id == SuspectLabel.weak_team_id)
        .outerjoin(likely, likely.id == SuspectLabel.likely_team_id)
        .where(SuspectLabel.message_id == message_id)
    ).first()
    return Suspect(row[0], row[1], row[2], row[3]) if row is not None else None


def unconfirmed_suspects(session: Session) -> set[int]:
    """Suspect mails no person has labelled or verified yet: their weak labels stay out of
    training and calibration."""
    confirmed = select(Annotation.message_id).where(
        Annotation.superseded_at.is_(None),
        Annotation.source.in_(("human", "adjudication", "review")),
    )
    verified = select(Verification.message_id).where(Verification.superseded_at.is_(None))
    return set(
        session.scalars(
            select(SuspectLabel.message_id).where(
                ~or_(SuspectLabel.message_id.in_(confirmed), SuspectLabel.message_id.in_(verified))
            )
        )
    )


def ranked_suspects(session: Session) -> list[int]:
    """Every stored suspect's message id, most suspect first."""
    return list(session.scalars(select(SuspectLabel.message_id).order_by(SuspectLabel.rank)))
