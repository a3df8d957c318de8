"""Training the urgency and churn heads (issue 14 item 3), part of every training run.

The organisation's own judgement is the gold, not a sentiment lexicon: the labels are the
flags people gave with their team labels on the labelling page (``annotations.urgent`` /
``churn``, resolved per mail by :func:`labeling.annotation.export.resolve_flags`). Mail no
person was asked about is left out, not counted as "not urgent".

Per flag:

1. **Enough labels?** At least :data:`MIN_POSITIVES` flagged and :data:`MIN_NEGATIVES`
   unflagged mails. Below that, no head: the cue list stands in, and the manifest says so
   ("12 mails labelled urgent (< 30)").
2. **Cross-fitted scores.** The same small model as the head (TF-IDF + logistic regression,
   :class:`~classifier.baseline.TfidfBaseline` over "yes"/"no") is fitted ``folds`` times,
   each time scoring the fold it did not see; near-duplicate groups stay in one fold.
3. **The threshold** is certified on those out-of-sample scores as routing's is
   (:func:`classifier.certify.certify`): the laxest score whose flagged mail has precision
   at least ``target_precision`` with probability ``1 − delta`` (a mail flagged wrongly is
   the "error"). No certifiable threshold: no head, the cue list stands in.
4. **The head** is then fitted on every labelled mail; the threshold goes with it. (Each
   fold's model saw a fifth less mail than the head, so the certified threshold errs on
   the strict side.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import StratifiedGroupKFold

from classifier.arguments import FlagArguments
from classifier.baseline import BaselineArguments, TfidfBaseline
from classifier.certify import Certificate, certify
from classifier.flags import NO, YES, positive_scores
from labeling.rules.cues import SOURCE as CUE_SOURCE
from labeling.rules.flags import FLAG_NAMES, MODEL_SOURCE

# Below these counts of labelled mail a flag has no head (docs/rules.md says so too).
MIN_POSITIVES = FlagArguments.min_positives
MIN_NEGATIVES = FlagArguments.min_negatives


def _baseline(args: FlagArguments) -> BaselineArguments:
    return BaselineArguments(
        c=args.c,
        char_ngrams=args.char_ngrams,
        seed=args.seed,
        class_weight="balanced" if args.balanced else None,
    )


@dataclass(frozen=True)
class FlagOutcome:
    """One flag's training: a head and its threshold, or why the cue list stands in."""

    flag: str
    positives: int
    negatives: int
    reason: str
    head: TfidfBaseline | None = None
    threshold: float | None = None
    certificate: Certificate | None = None
    min_positives: int = MIN_POSITIVES
    target_precision: float = 0.8
    precision: float | None = None  # cross-fitted, at the threshold
    recall: float | None = None

    @property
    def source(self) -> str:
        return MODEL_SOURCE if self.head is not None else CUE_SOURCE

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "reason": self.reason,
            "positives": self.positives,
            "negatives": self.negatives,
            "min_positives": self.min_positives,
            "target_precision": self.target_precision,
            "threshold": self.threshold,
            "precision": self.precision,
            "recall": self.recall,
            "certificate": self.certificate.to_json() if self.certificate is not None else None,
        }


def cross_fitted_scores(
    texts: Sequence[str],
    labels: Sequence[bool],
    groups: Sequence[int],
    args: FlagArguments,
) -> NDArray[np.float64]:
    """Each text's score from a model that did not see it (nor its near-duplicates)."""
    y = np.array([YES if label else NO for label in labels])
    scores = np.zeros(len(texts), dtype=np.float64)
    folds = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for train_idx, test_idx in folds.split(np.zeros(len(texts)), y, groups=list(groups)):
        if len(set(y[train_idx])) < 2:
            raise ValueError("a fold holds mail of one kind only")  # pragma: no cover
        model = TfidfBaseline(_baseline(args)).fit([texts[i] for i in train_idx], y[train_idx])
        scores[test_idx] = positive_scores(model, [texts[i] for i in test_idx])
    return scores


def train_flag_head(
    flag: str,
    texts: Sequence[str],
    labels: Sequence[bool],
    args: FlagArguments,
    *,
    groups: Sequence[int] | None = None,
) -> FlagOutcome:
    """One flag's head and threshold, or why there is none (see the module doc)."""
    positives = int(sum(1 for label in labels if label))
    negatives = len(labels) - positives
    common = partial(
        FlagOutcome,
        flag=flag,
        positives=positives,
        negatives=negatives,
        min_positives=args.min_positives,
        target_precision=args.target_precision,
    )
    if positives < args.min_positives or negatives < args.min_negatives:
        return common(
            reason=(
                f"{positives} mails labelled {flag} and {negatives} not (a head needs "
                f"{args.min_positives} and {args.min_negatives}): the cue list stands in"
            ),
        )
    group_ids = list(groups) if groups is not None else list(range(len(texts)))
    scores = cross_fitted_scores(texts, labels, group_ids, args)
    truth = np.array([bool(label) for label in labels])
    certificate = certify(
        scores, truth, np.zeros(len(truth), dtype=bool), args.target_precision, args.delta
    )
    if not certificate.certified:
        return common(
            reason=(
                f"no score threshold flags {flag} mail at precision {args.target_precision} "
                f"(certified on {len(truth)} cross-fitted scores): the cue list stands in"
            ),
            certificate=certificate,
        )
    threshold = float(certificate.threshold)
    flagged = scores >= threshold
    y = [YES if label else NO for label in labels]
    head = TfidfBaseline(_baseline(args)).fit(list(texts), y)
    return common(
        reason=(
            f"learnt from {positives} mails labelled {flag} and {negatives} not; threshold "
            f"{threshold:.3f} certified for precision {args.target_precision} on "
            "cross-fitted scores"
        ),
        head=head,
        threshold=threshold,
        certificate=certificate,
        precision=float(truth[flagged].mean()) if flagged.any() else None,
        recall=float(flagged[truth].mean()) if truth.any() else None,
    )


@dataclass(frozen=True)
class FlagExample:
    text: str
    group: int
    flags: Mapping[str, bool | None]


def train_flag_heads(
    examples: Sequence[FlagExample], args: FlagArguments | None = None
) -> dict[str, FlagOutcome]:
    """Every flag's outcome, each from the mail whose flag a person answered."""
    args = args or FlagArguments()
    out: dict[str, FlagOutcome] = {}
    for flag in FLAG_NAMES:
        answered = [e for e in examples if e.flags.get(flag) is not None]
        out[flag] = train_flag_head(
            flag,
            [e.text for e in answered],
            [bool(e.flags[flag]) for e in answered],
            args,
            groups=[e.group for e in answered],
        )
    return out
