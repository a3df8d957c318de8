"""The demo's urgency and churn part (issue 14 item 3), kept apart from ``demo.py``: a
labeller who also gives the flags, and the flags' recall and precision on the inbox.

The demo plays a labeller with the generator's truth (``urgent`` and ``churn`` in
``truth.jsonl``, :mod:`data.mood`): a person would read each mail and press ``d`` or ``o``
with the team key. Those labels train the flag heads with the model (``mailroom train``);
a flag with too few labels, or whose threshold cannot be certified, is left to the cue list,
and the summary says which served.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labeling.settings import Settings

DEMO_FLAG_LABELLER = "sanne"
# About two hours of one person's labelling at five seconds a mail. At the corpus' shares
# (about 6 % of mail each flag) 900 labels gave ~55 flagged mails of each, too few to certify
# precision 0.8 on cross-fitted scores; 1500 give ~80-95, and both heads certify.
DEMO_FLAG_LABELLED = 1500
FLAGS = ("urgent", "churn")


@dataclass(frozen=True)
class TruthFlags:
    team: str | None
    urgent: bool
    churn: bool


def truth_flags(corpus: Path) -> dict[str, TruthFlags]:
    """The generator's team and flags of every corpus mail, by Message-ID (no brackets)."""
    out: dict[str, TruthFlags] = {}
    with (corpus / "truth.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            out[str(row["message_id"]).strip("<>")] = TruthFlags(
                row.get("team") or None, bool(row.get("urgent")), bool(row.get("churn"))
            )
    return out


@dataclass(frozen=True)
class FlagLabels:
    mails: int
    urgent: int
    churn: int


def play_flag_labeller(
    sessions: sessionmaker[Session],
    truth: Mapping[str, TruthFlags],
    *,
    username: str = DEMO_FLAG_LABELLER,
    count: int = DEMO_FLAG_LABELLED,
) -> FlagLabels:
    """Label ``count`` archive mails, in the content-hash shuffle (a fixed random order across
    every folder; the import order would cover whole folders and leave the last ones
    unlabelled), that no person labelled and that are not
    in the verification sample (never trained on), as ``username``: the team and both flags
    from the truth. Once done, a second run changes nothing."""
    from labeling.annotation.queue import LabelFlags, mark_served, record_label
    from labeling.store.db import session_scope
    from labeling.store.tables import Annotation, Message, Team, User, Verification

    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise ValueError(f"no demo user {username}")
        flagged_before = session.scalar(
            select(Annotation.id).where(
                Annotation.user_id == user_id, Annotation.urgent.is_not(None)
            )
        )
        if flagged_before is not None:
            return FlagLabels(0, 0, 0)
        teams = dict(session.execute(select(Team.slug, Team.id)).all())
        verified = select(Verification.message_id).where(Verification.superseded_at.is_(None))
        candidates = session.execute(
            select(Message.id, Message.message_id)
            .where(
                Message.origin == "archive",
                Message.status == "ok",
                Message.human_labels == 0,
                Message.id.not_in(verified),
            )
            .order_by(Message.content_hash)
        ).all()
        mails = urgent = churn = 0
        for message_id, header in candidates:
            if mails >= count:
                break
            found = truth.get((header or "").strip("<>"))
            if found is None or found.team not in teams:
                continue
            mark_served(session, user_id, message_id)  # as the queue would have shown it
            record_label(
                session,
                message_id,
                teams[found.team],
                user_id,
                flags=LabelFlags(urgent=found.urgent, churn=found.churn),
            )
            mails += 1
            urgent += found.urgent
            churn += found.churn
    return FlagLabels(mails, urgent, churn)


@dataclass(frozen=True)
class FlagScore:
    """One flag on the inbox against the truth, and what served it."""

    flag: str
    true_positive: int
    false_positive: int
    false_negative: int
    sources: tuple[str, ...]  # what set the flags that were set ('model', 'cue list')
    served_by: str  # the active version's word: 'model (threshold 0.14)' or 'cue list (…)'

    @property
    def precision(self) -> float | None:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        actual = self.true_positive + self.false_negative
        return self.true_positive / actual if actual else None

    def describe(self) -> str:
        def share(value: float | None, part: int, whole: int) -> str:
            return f"{value:.2f} ({part} of {whole})" if value is not None else f"n/a (of {whole})"

        tp, fp, fn = self.true_positive, self.false_positive, self.false_negative
        name = "wants to leave" if self.flag == "churn" else self.flag
        return (
            f"{name}: recall {share(self.recall, tp, tp + fn)}, precision "
            f"{share(self.precision, tp, tp + fp)} against the truth — {self.served_by}"
        )


def flag_scores(settings: Settings, corpus: Path) -> list[FlagScore]:
    """Recall and precision of both flags the worker recorded for the inbox's mail (its
    current routing decisions), against truth.jsonl by Message-ID."""
    from classifier.registry import Registry
    from labeling.rules.flags import recorded_source
    from labeling.store.db import open_database, session_scope
    from labeling.store.tables import Message, RoutingDecision

    truth = truth_flags(corpus)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        rows = session.execute(
            select(Message.message_id, RoutingDecision.details)
            .join(
                RoutingDecision,
                (RoutingDecision.message_id == Message.id) & RoutingDecision.is_current,
            )
            .where(Message.origin == "live", RoutingDecision.decided_by != "hygiene")
        ).all()
    active = Registry(settings.models_path).active()
    manifest_flags = (active.manifest.get("flags") or {}) if active is not None else {}
    scores = []
    for flag in FLAGS:
        tp = fp = fn = 0
        sources: set[str] = set()
        for message_id, details in rows:
            found = truth.get((message_id or "").strip("<>"))
            if found is None:
                continue
            recorded = (details or {}).get(flag)
            said = bool(recorded)
            if said:
                sources.add(recorded_source(recorded) or "")
            actual = getattr(found, flag)
            tp += said and actual
            fp += said and not actual
            fn += actual and not said
        entry = manifest_flags.get(flag) or {}
        if entry.get("source") == "model":
            served = (
                f"learned (model {active.version if active else '?'}, threshold "
                f"{entry['threshold']:.3f} for precision {entry['target_precision']})"
            )
        else:
            served = "cue list: " + (entry.get("reason") or "no model version has a head")
        scores.append(FlagScore(flag, tp, fp, fn, tuple(sorted(sources)), served))
    return scores
