"""Training from the mail store: ``mailroom train`` and the scheduled retrain.

The frozen holdout
    A labelled mail belongs to the holdout when a hash of its near-duplicate group (its own
    id when it has none) falls in the lowest ``HOLDOUT_PERCENT`` buckets
    (:func:`labeling.annotation.export.is_holdout`, which the export uses too). The rule never
    changes, so a mail is in the holdout forever, new labels join it in the same proportion,
    no model ever trains on it, and copies of a holdout mail cannot leak into training.
    Every candidate and the active version are scored on the same holdout by the gate.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from classifier.arguments import PipelineArguments
from classifier.cases import CaseOdds, fit_case_head, fit_case_odds
from classifier.certify import (
    CalibrationSet,
    Certificate,
    UnknownShareUsed,
    follow_up_scores,
    labels_needed,
    start_count,
    thresholds_for,
)
from classifier.evaluation import EvaluationResult
from classifier.flag_training import FlagExample, FlagOutcome, train_flag_heads
from classifier.flags import positive_scores
from classifier.recipe import (
    TrainedPipeline,
    baseline_components,
    evaluate_router,
    train_pipeline,
)
from classifier.registry import GateDecision, Registry, promotion_gate
from classifier.router import Router
from classifier.suspects import find_suspects
from labeling.annotation.export import (
    WEAK_SOURCE,
    Example,
    dataset_hash,
    is_holdout,
    split_examples,
    training_examples,
)
from labeling.annotation.queue import ScoreRow, store_scores
from labeling.annotation.suspects import Suspect, replace_suspects, unconfirmed_suspects
from labeling.annotation.verify import (
    VerifiedMail,
    routing_priors,
    verified_mail,
    weak_label_noise,
)
from labeling.errors import ModelError
from labeling.live.review import no_team_mail
from labeling.live.stats import UnknownShare, unknown_share
from labeling.mail.model_text import model_text
from labeling.mail.pseudonymise import Pseudonymiser
from labeling.settings import Settings
from labeling.store.db import open_database, session_scope
from labeling.store.tables import Annotation, Message

if TYPE_CHECKING:
    from classifier.training import EpochRecord

log = logging.getLogger(__name__)

SCORE_BATCH = 256


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
    holdout_kind: str = "frozen holdout"
    n_verified: int = 0
    suspects_held_back: int = 0
    certificate: Certificate | None = None
    calibration_source: str = "validation"
    labels_needed: int | None = None
    flags: dict[str, FlagOutcome] | None = None


def _holdout_summary(result: EvaluationResult | None) -> dict[str, object]:
    return result.summary() if result is not None else {}


def _model_card(
    trained: TrainedPipeline,
    version: str,
    data_hash: str,
    holdout: EvaluationResult | None,
    baseline: EvaluationResult | None,
    args: PipelineArguments,
    flags: dict[str, FlagOutcome] | None = None,
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
    flag_lines = (
        "\n".join(
            f"- {name}: {outcome.source} — {outcome.reason}"
            for name, outcome in (flags or {}).items()
        )
        or "- not trained"
    )
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

## Urgency and churn flags
{flag_lines}

## Notes
{notes}

## Limits
Trained on this organisation's own labelled mail; weak labels from archive folders are
included only when asked for. Figures on a small holdout move by noise: read them with
their counts.
"""


# Verified mail takes over from the frozen holdout as the gate and the calibration set once
# there is this much of it (fewer cannot tell two versions apart).
MIN_VERIFIED = 50
SUSPECT_FOLDS = 3  # cross-fitting folds of the suspect search (a few seconds each)


@dataclass(frozen=True)
class _Calibration:
    data: CalibrationSet
    certificate: Certificate
    unknown: UnknownShareUsed


def train_from_store(
    settings: Settings,
    args: PipelineArguments,
    *,
    include_weak: bool = False,
    progress: bool = True,
    force_promote: bool = False,
    report: Callable[[str], None] | None = None,
) -> TrainOutcome:
    """Train a candidate from the store's labels, certify its thresholds, gate it, promote
    or keep it, and score unlabelled mail for the uncertainty-first labelling queue.

    Verified mail (:mod:`labeling.annotation.verify`) and its near-duplicates are never
    trained on: the thresholds are certified on it and versions are compared on it. With
    ``include_weak``, confident learning first looks for suspect folder labels; those no
    person has settled stay out of training.

    ``report`` receives a line at each stage (the mails read and how they are split, each
    epoch, the gate, the scoring): progress for a log or a pipe, where no bar is drawn.
    """
    say = report or (lambda _line: None)
    with open_database(settings) as sessions:
        # The moment the labels were read: a later label is new to this version (retrain).
        labels_read_at = datetime.now(UTC).isoformat()
        with session_scope(sessions) as session:
            # Every text is read as routing reads it: pseudonymised alike.
            pseudonymiser = settings.pseudonymiser()
            examples = training_examples(
                session, include_weak=include_weak, pseudonymiser=pseudonymiser
            )
            verified = verified_mail(session, pseudonymiser=pseudonymiser)
            ids = [v.message_id for v in verified] + [e.message_id for e in examples]
            priors, cases = routing_priors(
                session,
                ids,
                days=settings.affinity_days,
                patterns=tuple(pseudonymiser.org_patterns),
                own_addresses=tuple(settings.own_addresses()),
            )
            noise = weak_label_noise(session)
            unknown_texts = [text for _, text in no_team_mail(session, pseudonymiser=pseudonymiser)]
            live_unknown = unknown_share(session)
        if len({e.label for e in examples}) < 2:
            raise ModelError(
                f"only {len(examples)} labelled mails of {len({e.label for e in examples})} "
                "team(s): label mail of at least two teams first (or pass --include-weak to "
                "use the archive-folder labels)"
            )
        verified_groups = {v.group for v in verified}
        held_back = (
            _set_aside_suspects(sessions, examples, verified_groups) if include_weak else set()
        )
        pool = [
            e
            for e in examples
            if (e.group or e.message_id) not in verified_groups and e.message_id not in held_back
        ]
        gate_on_verified = len(verified) >= MIN_VERIFIED
        rest, holdout = (pool, []) if gate_on_verified else split_holdout(pool)
        train, validation = split_examples(
            rest, validation_share=args.validation_share, seed=args.seed
        )
        registry = Registry(settings.models_path)
        version = registry.next_version()
        say(
            f"{version}: {len(examples)} labelled mails read; training on {len(train)}, "
            f"validating on {len(validation)}, "
            + (
                f"gating on {len(verified)} verified mails"
                if gate_on_verified
                else f"{len(holdout)} in the frozen holdout"
            )
            + (f", {len(held_back)} suspect folder labels kept out" if held_back else "")
        )

        def epoch_line(record: EpochRecord) -> None:
            say(
                f"epoch {record.epoch}: train loss {record.train_loss:.3f}, validation "
                f"macro-F1 {record.val_macro_f1:.3f}, {record.seconds:.0f} s"
            )

        trained = train_pipeline(
            [e.text for e in train],
            [e.label for e in train],
            args,
            cache_dir=settings.cache_path,
            version=version,
            val_texts=[e.text for e in validation],
            val_labels=[e.label for e in validation],
            oos_texts=unknown_texts,
            progress=progress,
            on_epoch=epoch_line,
        )
        say(f"trained in {trained.train_seconds:.0f} s; calibrating and comparing")
        # The urgency and churn heads learn from the same mail (never the holdout or the
        # verified sample), from the flags people gave with their labels.
        flags = train_flag_heads(
            [
                FlagExample(e.text, e.group or e.message_id, {"urgent": e.urgent, "churn": e.churn})
                for e in train + validation
            ],
            args.flags,
        )
        for outcome in flags.values():
            say(f"flag {outcome.flag}: {outcome.reason}")
        weighed = {
            kind: _weigh_earlier(kind, trained, verified, train, validation, args, earlier)
            for kind, earlier in (("case", cases), ("thread", priors))
        }
        for kind, facts in weighed.items():
            if facts["odds"] is not None:
                say(
                    f"{_EARLIER[kind]} weighed (odds fitted on {facts['validation']} "
                    f"validation mails with one, the head on {facts['train']} training "
                    f"mails; certified with {facts['verified']} verified ones)"
                )
        calibration = _calibrate(
            trained, verified, validation, args, settings, priors, cases, live_unknown
        )
        if calibration.unknown.learned:
            say(
                f"people closed {calibration.unknown.no_team} of {calibration.unknown.settled} "
                "settled live mails as belonging to no team, more than the certificate "
                f"assumed ({calibration.unknown.assumed:.1%}): it now holds for up to "
                f"{calibration.unknown.share:.1%} of live mail for no team"
            )
        elif calibration.unknown.uncovered:
            say(
                f"people closed {calibration.unknown.no_team} of {calibration.unknown.settled} "
                "settled live mails as belonging to no team, but the calibration set holds "
                "no such mail, so the certificate cannot bound how much of it is routed: "
                "verify more mail (a 'no team' answer counts)"
            )
        labels = set(trained.components.labels)
        base = Router(
            baseline_components(
                trained.comparator,
                [e.text for e in validation],
                [e.label for e in validation],
                args,
            )
        )
        active_info = registry.active()
        if gate_on_verified:
            seen_by_active = registry.trained_on(active_info.version) if active_info else set()
            gate = [
                (v.message_id, v.text, v.team)
                for v in verified
                if v.team in labels and v.message_id not in seen_by_active
            ]
        else:
            gate = [(e.message_id, e.text, e.label) for e in holdout if e.label in labels]
        holdout_result = baseline_result = active_result = None
        if gate:
            texts = [text for _, text, _ in gate]
            gold = [str(team) for _, _, team in gate]
            holdout_result, _, _ = evaluate_router(trained.router, "candidate", texts, gold)
            baseline_result, _, _ = evaluate_router(base, "TF-IDF baseline", texts, gold)
            if active_info is not None:
                active_router = Router.load(active_info.path, settings.cache_path)
                active_result, _, _ = evaluate_router(active_router, "active", texts, gold)
        data_hash = dataset_hash(train + validation)
        certificate = calibration.certificate
        needed = labels_needed(
            calibration.data.confidence,
            calibration.data.correct,
            args.target_precision,
            args.delta,
        )
        info = registry.save(
            trained.components,
            kind=trained.kind,
            base_model=args.base_model,
            base_fingerprint=trained.base_fingerprint,
            frozen=trained.frozen,
            float_model=trained.float_model,
            calibration=calibration.data,
            trained_on=[e.message_id for e in train + validation],
            flag_heads={f: o.head for f, o in flags.items() if o.head is not None},
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
                "n_holdout": len(gate),
                "holdout_kind": "verified" if gate_on_verified else "frozen holdout",
                "n_verified": len(verified),
                "include_weak": include_weak,
                "suspects_held_back": len(held_back),
                "labels_read_at": labels_read_at,
                "label_counts": dict(Counter(e.label for e in train)),
                "train_seconds": round(trained.train_seconds, 1),
                "training_arguments": asdict(args.training),
                "notes": trained.notes,
                "certificate": certificate.to_json(),
                "unknown_share": calibration.unknown.to_json(),
                "flags": {flag: outcome.to_json() for flag, outcome in flags.items()},
                "calibration_source": calibration.data.source,
                "cases_weighed": weighed["case"],
                "threads_weighed": weighed["thread"],
                "labels_needed": needed,
                "weak_label_noise": {
                    "compared": noise.compared,
                    "disagreements": noise.disagreements,
                    "low": noise.low,
                    "high": noise.high,
                },
                "baseline": {
                    "temperature": base.c.temperature,
                    "policy": base.c.policy.to_json(),
                },
            },
            model_card=_model_card(
                trained, version, data_hash, holdout_result, baseline_result, args, flags
            ),
        )
        decision = _gate(holdout_result, active_result, force_promote)
        if decision.promote:
            registry.promote(info.version, decision.reason)
        else:
            registry.set_status(info.version, "rejected", decision.reason)
        say(
            f"{info.version} {'promoted' if decision.promote else 'kept, not promoted'}: "
            f"{decision.reason}"
        )
        scored = 0
        active = registry.active()
        if active is not None:
            say(f"scoring unlabelled mail with {active.version} for the labelling queue")
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
            n_holdout=len(gate),
            holdout=_holdout_summary(holdout_result),
            baseline_holdout=_holdout_summary(baseline_result),
            train_seconds=trained.train_seconds,
            scored=scored,
            holdout_kind="verified" if gate_on_verified else "frozen holdout",
            n_verified=len(verified),
            suspects_held_back=len(held_back),
            certificate=certificate,
            calibration_source=calibration.data.source,
            labels_needed=needed,
            flags=flags,
        )


def _set_aside_suspects(
    sessions: sessionmaker[Session], examples: Sequence[Example], verified_groups: set[int]
) -> set[int]:
    """Search the weak labels for suspects, store them, and return the mail whose weak
    label no person has settled yet (kept out of training). The labels people gave judge
    with them (never the verified sample: that stays unseen)."""
    usable = [e for e in examples if (e.group or e.message_id) not in verified_groups]
    weak = [e for e in usable if e.sources[0] == WEAK_SOURCE]
    trusted = [e for e in usable if e.sources[0] != WEAK_SOURCE]
    findings = (
        find_suspects(
            [e.text for e in weak],
            [e.label for e in weak],
            folds=SUSPECT_FOLDS,
            trusted_texts=[e.text for e in trusted],
            trusted_labels=[e.label for e in trusted],
        )
        if len(weak) >= 2 * SUSPECT_FOLDS
        else []
    )
    with session_scope(sessions) as session:
        replace_suspects(
            session,
            [Suspect(weak[f.index].message_id, f.given, f.likely, f.quality) for f in findings],
            source="classifier:suspects",
        )
        return unconfirmed_suspects(session)


# What each kind of earlier team is called in the notes, the log and the manifest.
_EARLIER = {"case": "customer cases", "thread": "threads"}


def _weigh_earlier(
    kind: str,
    trained: TrainedPipeline,
    verified: Sequence[VerifiedMail],
    train: Sequence[Example],
    validation: Sequence[Example],
    args: PipelineArguments,
    earlier: dict[int, str],
) -> dict[str, Any]:
    """How strongly an earlier team weighs (:mod:`classifier.cases`): a customer's recent
    case (``kind`` 'case') or a reply's thread ('thread'). The head on the training mail
    with one, the odds on the validation mail with one. Set on the candidate only where
    the verified sample is large enough to certify the thresholds, which then take it into
    account (an earlier team must never make mail routable that no certificate has seen
    weighed)."""
    index = {label: i for i, label in enumerate(trained.components.labels)}

    def with_one(examples: Sequence[Example]) -> list[Example]:
        return [e for e in examples if e.label in index and earlier.get(e.message_id) in index]

    learn, rows = with_one(train), with_one(validation)
    verified_with = [v for v in verified if earlier.get(v.message_id) in index]
    odds = None
    if rows and len(verified) >= start_count(args.target_precision, args.delta):
        head = fit_case_head(
            [e.text for e in learn], [earlier[e.message_id] == e.label for e in learn]
        )
        texts = [e.text for e in rows]
        fitted = fit_case_odds(
            trained.router.scores(texts).probabilities,
            [index[earlier[e.message_id]] for e in rows],
            [index[e.label] for e in rows],
            positive_scores(head, texts) if head is not None else None,
        )
        if fitted is not None:
            a, b = fitted
            odds = CaseOdds(a, b, head if b != 0.0 else None)
    if kind == "thread":
        trained.components.thread_odds = odds
    else:
        trained.components.case_odds = odds
    name = _EARLIER[kind]
    trained.notes.append(
        f"{name} weighed: log odds {odds.a:.2f} + {odds.b:.2f} · logit(head), fitted on "
        f"{len(rows)} validation mails with one"
        if odds is not None
        else f"{name} not weighed ({len(rows)} validation mails with one, {len(verified)} verified)"
    )
    return {
        "odds": odds.to_json() if odds is not None else None,
        "head": odds is not None and odds.head is not None,
        "train": len(learn),
        "train_about_case": sum(earlier[e.message_id] == e.label for e in learn),
        "validation": len(rows),
        "verified": len(verified_with),
        "verified_case_right": sum(earlier[v.message_id] == v.team for v in verified_with),
    }


def _calibrate(
    trained: TrainedPipeline,
    verified: Sequence[VerifiedMail],
    validation: Sequence[Example],
    args: PipelineArguments,
    settings: Settings,
    priors: dict[int, str],
    cases: dict[int, str],
    live_unknown: UnknownShare,
) -> _Calibration:
    """The candidate's thresholds, certified on the verified sample when there is enough
    of it to certify anything, else on the validation carve (labels no one verified: said
    so in the manifest and the model card). ``priors``: the thread team of each verified
    reply (:func:`thread_priors`), on which thread decisions are certified. ``cases``: the
    team of a customer's recent case (:func:`case_priors`), weighed as serving weighs it
    (the candidate's ``case_odds``), so the threshold is certified on what routing sees.
    ``live_unknown``: live mail people closed as belonging to no team, from which the share
    of unknown mail the certificate holds for is learned (:func:`unknown_share_to_certify`)."""
    router = trained.router
    labels = trained.components.labels
    enough = len(verified) >= start_count(args.target_precision, args.delta)
    if enough:
        scores = router.scores([v.text for v in verified])
        index = {label: i for i, label in enumerate(labels)}
        data = CalibrationSet.of(
            labels,
            _weighed(
                trained,
                scores.probabilities,
                [v.text for v in verified],
                [index.get(cases.get(v.message_id, ""), -1) for v in verified],
                [index.get(priors.get(v.message_id, ""), -1) for v in verified],
            ),
            scores.out_of_scope,
            [v.team for v in verified],
            "verified",
        ).with_follow_ups(
            *follow_up_scores(
                scores.probabilities,
                labels,
                [
                    (row, priors[v.message_id], v.team)
                    for row, v in enumerate(verified)
                    if v.message_id in priors
                ],
            )
        )
    else:
        scores = router.scores([e.text for e in validation])
        data = CalibrationSet.of(
            labels,
            scores.probabilities,
            scores.out_of_scope,
            [e.label for e in validation],
            "validation",
        )
    unknown = data.unknown_share_used(
        settings.max_unknown_share, live_unknown.no_team, live_unknown.settled, args.delta
    )
    policy, certificate = thresholds_for(
        data,
        args.target_precision,
        args.delta,
        max_unknown_share=unknown.share,
    )
    if enough:
        trained.components.policy = policy
    return _Calibration(data, certificate, unknown)


def _weighed(
    trained: TrainedPipeline,
    probabilities: NDArray[np.float64],
    texts: Sequence[str],
    case_columns: Sequence[int],
    thread_columns: Sequence[int],
) -> NDArray[np.float64]:
    """``probabilities`` with each mail's case and thread weighed as serving weighs them
    (a mail has one or neither: :func:`routing_priors`)."""
    for odds, columns in (
        (trained.components.case_odds, case_columns),
        (trained.components.thread_odds, thread_columns),
    ):
        if odds is not None:
            probabilities = odds.weigh(probabilities, texts, columns)
    return probabilities


def _gate(
    candidate: EvaluationResult | None, active: EvaluationResult | None, force: bool
) -> GateDecision:
    if force:
        return GateDecision(True, "promoted by force")
    if candidate is None:
        if active is None:
            return GateDecision(True, "the first version: nothing to compare it with yet")
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
    # Scored in batches (bounded memory for the encoder), stored once: store_scores replaces
    # every score of the version, so storing per batch would keep only the last batch.
    score_rows: list[ScoreRow] = []
    for start in range(0, len(rows), SCORE_BATCH):
        batch = rows[start : start + SCORE_BATCH]
        texts = [
            model_text(subject, new, quoted, names=(name,), pseudonymiser=pseudonymiser)
            for _, subject, new, quoted, name in batch
        ]
        probs = router.scores(texts).probabilities
        order = np.argsort(-probs, axis=1)
        score_rows += [
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
        return store_scores(session, router.version, score_rows)
