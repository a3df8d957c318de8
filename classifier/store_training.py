"""Training from the mail store: ``mailroom train`` and the scheduled retrain.

The frozen holdout
    A labelled mail belongs to the holdout when a hash of its near-duplicate group (its own
    id when it has none) falls in the lowest ``HOLDOUT_PERCENT`` buckets. The rule never
    changes, so a mail is in the holdout forever, new labels join it in the same proportion,
    no model ever trains on it, and copies of a holdout mail cannot leak into training.
    Every candidate and the active version are scored on the same holdout by the gate.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from classifier.arguments import PipelineArguments
from classifier.evaluation import EvaluationResult
from classifier.recipe import (
    TrainedPipeline,
    baseline_components,
    evaluate_router,
    train_pipeline,
)
from classifier.registry import GateDecision, Registry, promotion_gate
from classifier.router import Router
from labeling.annotation.export import (
    Example,
    dataset_hash,
    split_examples,
    training_examples,
)
from labeling.annotation.queue import ScoreRow, store_scores
from labeling.errors import ModelError
from labeling.mail.model_text import model_text
from labeling.mail.pseudonymise import Pseudonymiser
from labeling.settings import Settings
from labeling.store.db import open_database, session_scope
from labeling.store.tables import Annotation, Message

log = logging.getLogger(__name__)

HOLDOUT_PERCENT = 10
SCORE_BATCH = 256


def is_holdout(group: int) -> bool:
    """The frozen holdout rule (see module doc)."""
    digest = hashlib.sha256(f"mailroom-holdout:{group}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


def split_holdout(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(rest, holdout) by the frozen rule."""
    rest = [e for e in examples if not is_holdout(e.group or e.message_id)]
    holdout = [e for e in examples if is_holdout(e.group or e.message_id)]
    return rest, holdout


@dataclass(frozen=True)
class TrainOutcome:
    version: str
    promoted: bool
    reason: str
    kind: str
    n_train: int
    n_validation: int
    n_holdout: int
    holdout: dict[str, object]
    baseline_holdout: dict[str, object]
    train_seconds: float
    scored: int


def _holdout_summary(result: EvaluationResult | None) -> dict[str, object]:
    return result.summary() if result is not None else {}


def _model_card(
    trained: TrainedPipeline,
    version: str,
    data_hash: str,
    holdout: EvaluationResult | None,
    baseline: EvaluationResult | None,
    args: PipelineArguments,
) -> str:
    def row(name: str, result: EvaluationResult | None) -> str:
        if result is None:
            return f"| {name} | – | – | – | – |"
        s = result.summary()
        return (
            f"| {name} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | "
            f"{s.get('coverage', 0):.3f} | {s.get('auto_precision', 0):.3f} |"
        )

    counts = "\n".join(f"| {team} | {n} |" for team, n in trained.label_counts.items())
    notes = "\n".join(f"- {note}" for note in trained.notes)
    encoder = trained.base_model if trained.kind == "transformer" else "none"
    return f"""# Mailroom model {version}

- Kind: {trained.kind}; base encoder: {encoder}
- Trained: {datetime.now(UTC).isoformat(timespec="seconds")} in {trained.train_seconds:.0f} s
- Training-set hash: `{data_hash}`
- Examples: {trained.n_train} train, {trained.n_validation} validation
- Target precision of auto-routed mail: {args.target_precision} (guarantee level 1 − {args.delta})

## Intended use
Routing an organisation's incoming mail to its teams. Mail below its team's threshold, unlike
every team, or for a team no longer active goes to a person. Not for any other decision
about the people who wrote the mail.

## Holdout (frozen, never trained on)
| model | accuracy | macro-F1 | auto-routed share | precision of auto-routed |
|---|---|---|---|---|
{row("this version", holdout)}
{row("TF-IDF baseline", baseline)}

## Training examples per team
| team | examples |
|---|---|
{counts}

## Notes
{notes}

## Limits
Trained on this organisation's own labelled mail; weak labels from archive folders are
included only when asked for. Figures on a small holdout move by noise: read them with
their counts.
"""


def train_from_store(
    settings: Settings,
    args: PipelineArguments,
    *,
    include_weak: bool = False,
    progress: bool = True,
    force_promote: bool = False,
) -> TrainOutcome:
    """Train a candidate from the store's labels, gate it on the holdout, promote or keep it,
    and score unlabelled mail for the uncertainty-first labelling queue."""
    with open_database(settings) as sessions:
        # The moment the labels were read: a later label is new to this version (retrain).
        labels_read_at = datetime.now(UTC).isoformat()
        with session_scope(sessions) as session:
            examples = training_examples(
                session, include_weak=include_weak, pseudonymiser=settings.pseudonymiser()
            )
        if len({e.label for e in examples}) < 2:
            raise ModelError(
                f"only {len(examples)} labelled mails of {len({e.label for e in examples})} "
                "team(s): label mail of at least two teams first (or pass --include-weak to "
                "use the archive-folder labels)"
            )
        rest, holdout = split_holdout(examples)
        train, validation = split_examples(
            rest, validation_share=args.validation_share, seed=args.seed
        )
        registry = Registry(settings.models_path)
        version = registry.next_version()
        trained = train_pipeline(
            [e.text for e in train],
            [e.label for e in train],
            args,
            cache_dir=settings.cache_path,
            version=version,
            val_texts=[e.text for e in validation],
            val_labels=[e.label for e in validation],
            progress=progress,
        )
        # Holdout mail of a team this model never saw counts as an error, as it would live.
        known = set(trained.components.labels)
        scored_holdout = [e for e in holdout if e.label in known]
        base = Router(
            baseline_components(
                trained.components.tfidf,
                [e.text for e in validation],
                [e.label for e in validation],
                args,
            )
        )
        holdout_result = baseline_result = active_result = None
        if scored_holdout:
            texts = [e.text for e in scored_holdout]
            gold = [e.label for e in scored_holdout]
            holdout_result, _, _ = evaluate_router(trained.router, "candidate", texts, gold)
            baseline_result, _, _ = evaluate_router(base, "TF-IDF baseline", texts, gold)
            active_info = registry.active()
            if active_info is not None:
                active_router = Router.load(active_info.path, settings.cache_path)
                active_result, _, _ = evaluate_router(active_router, "active", texts, gold)
        data_hash = dataset_hash(train + validation)
        info = registry.save(
            trained.components,
            kind=trained.kind,
            base_model=args.base_model,
            base_fingerprint=trained.base_fingerprint,
            frozen=trained.frozen,
            float_model=trained.float_model,
            metrics={
                "validation": trained.validation.summary(),
                "validation_baseline": trained.validation_baseline.summary(),
                "holdout": _holdout_summary(holdout_result),
                "holdout_baseline": _holdout_summary(baseline_result),
            },
            facts={
                "dataset_hash": data_hash,
                "n_train": len(train),
                "n_validation": len(validation),
                "n_holdout": len(scored_holdout),
                "include_weak": include_weak,
                "labels_read_at": labels_read_at,
                "label_counts": dict(Counter(e.label for e in train)),
                "train_seconds": round(trained.train_seconds, 1),
                "training_arguments": asdict(args.training),
                "notes": trained.notes,
                "baseline": {
                    "temperature": base.c.temperature,
                    "policy": base.c.policy.to_json(),
                },
            },
            model_card=_model_card(
                trained, version, data_hash, holdout_result, baseline_result, args
            ),
        )
        decision = _gate(holdout_result, active_result, force_promote)
        if decision.promote:
            registry.promote(info.version, decision.reason)
        else:
            registry.set_status(info.version, "rejected", decision.reason)
        scored = 0
        active = registry.active()
        if active is not None:
            scored = score_unlabelled(
                sessions,
                Router.load(active.path, settings.cache_path),
                pseudonymiser=settings.pseudonymiser(),
            )
        return TrainOutcome(
            version=info.version,
            promoted=decision.promote,
            reason=decision.reason,
            kind=trained.kind,
            n_train=len(train),
            n_validation=len(validation),
            n_holdout=len(scored_holdout),
            holdout=_holdout_summary(holdout_result),
            baseline_holdout=_holdout_summary(baseline_result),
            train_seconds=trained.train_seconds,
            scored=scored,
        )


def _gate(
    candidate: EvaluationResult | None, active: EvaluationResult | None, force: bool
) -> GateDecision:
    if force:
        return GateDecision(True, "promoted by force")
    if candidate is None:
        if active is None:
            return GateDecision(True, "no active version and no holdout yet")
        return GateDecision(False, "no holdout mail to compare against the active version")
    metrics = {"macro_f1": candidate.macro_f1(), "accuracy": candidate.accuracy()}
    active_metrics = (
        {"macro_f1": active.macro_f1(), "accuracy": active.accuracy()} if active else None
    )
    return promotion_gate(metrics, active_metrics)


def score_unlabelled(
    sessions: sessionmaker[Session], router: Router, *, pseudonymiser: Pseudonymiser | None = None
) -> int:
    """Store the model's view of every parsed mail no person has labelled yet (read as in
    training: :func:`model_text` with the same ``pseudonymiser``)."""
    with session_scope(sessions) as session:
        labelled = select(Annotation.message_id).where(
            Annotation.superseded_at.is_(None), Annotation.source != "archive-folder"
        )
        rows = session.execute(
            select(
                Message.id,
                Message.subject,
                Message.new_text,
                Message.quoted_text,
                Message.sender_name,
            )
            .where(Message.status == "ok", Message.id.not_in(labelled))
            .order_by(Message.id)
        ).all()
    total = 0
    for start in range(0, len(rows), SCORE_BATCH):
        batch = rows[start : start + SCORE_BATCH]
        texts = [
            model_text(subject, new, quoted, names=(name,), pseudonymiser=pseudonymiser)
            for _, subject, new, quoted, name in batch
        ]
        scores = router.scores(texts)
        probs = scores.probabilities
        order = np.argsort(-probs, axis=1)
        score_rows = [
            ScoreRow(
                message_id=message_id,
                top_team_slug=router.labels[int(order[i, 0])],
                confidence=float(probs[i, order[i, 0]]),
                margin=float(probs[i, order[i, 0]] - probs[i, order[i, 1]])
                if probs.shape[1] > 1
                else 1.0,
            )
            for i, (message_id, *_) in enumerate(batch)
        ]
        with session_scope(sessions) as session:
            total += store_scores(session, router.version, score_rows)
    return total
