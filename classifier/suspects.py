"""Which weak labels are probably wrong: confident learning on out-of-sample probabilities.

An archive's folders are misfiled in places. Each weak-labelled mail is scored by a model
that never saw it — the TF-IDF model, cross-fitted over ``folds`` folds, quick enough to
run before every training — and cleanlab's confident learning
(``cleanlab.filter.find_label_issues``, Northcutt et al. 2021) ranks the labels whose
given team the out-of-sample probabilities contradict. The most suspect come first; each
comes with the team the model expects instead.

Labels a person gave (``trusted``) are never judged, but every fold's model learns from
them: judged by a model of the weak labels alone, mail that is merely ambiguous (a vague
"zie bijlage", two topics) looked as suspect as misfiled mail, and keeping it out of
training taught the model that such mail is clear-cut. Only mail both of cleanlab's
estimates agree on is flagged (``filter_by="both"``). On the demo archive (449 weak labels
judged, 8 of them misfiled), the two changes took the list from 65 suspects at precision
0.09 to 16 at 0.38, recall 0.75 both times (docs/benchmarks.md).

Pure over texts and labels; storing the result is :mod:`labeling.annotation.suspects`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifier.baseline import TfidfBaseline

MIN_PER_TEAM = 5  # fewer weak labels of a team than this: too few to judge any of them


@dataclass(frozen=True, slots=True)
class SuspectFinding:
    """``index`` into the texts given; ``quality``: the out-of-sample probability of the
    given label (low = suspect); ``likely``: the team the model expects."""

    index: int
    given: str
    likely: str
    quality: float


def out_of_sample_probabilities(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    trusted_texts: Sequence[str] = (),
    trusted_labels: Sequence[str] = (),
) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    """(probabilities, label order): each row from a TF-IDF model that did not see it;
    every fold's model also learns from the trusted examples (which get no row)."""
    from sklearn.model_selection import StratifiedKFold

    order = tuple(sorted(set(labels) | set(trusted_labels)))
    index = {label: i for i, label in enumerate(order)}
    y = np.array([index[label] for label in labels])
    probs = np.zeros((len(texts), len(order)), dtype=np.float64)
    smallest = min(Counter(labels).values())
    splits = max(2, min(folds, smallest))
    splitter = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    for train, held in splitter.split(np.zeros(len(y)), y):
        model = TfidfBaseline().fit(
            [texts[i] for i in train] + list(trusted_texts),
            [labels[i] for i in train] + list(trusted_labels),
        )
        part = model.predict_proba([texts[i] for i in held])
        columns = [index[label] for label in model.classes]
        probs[np.ix_(held, columns)] = part
    return probs, order


def find_suspects(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    trusted_texts: Sequence[str] = (),
    trusted_labels: Sequence[str] = (),
) -> list[SuspectFinding]:
    """The weak labels confident learning flags, most suspect first (see module doc);
    indices refer to ``texts``. ``trusted_*``: mail a person labelled, learned from, never
    judged.

    Teams with fewer than :data:`MIN_PER_TEAM` weak labels are left out of the search
    (their weak labels are neither judged nor used to judge others).
    """
    if len(trusted_texts) != len(trusted_labels):
        raise ValueError("trusted texts and labels differ in length")
    from cleanlab.filter import find_label_issues

    counts = Counter(labels)
    keep = [i for i, label in enumerate(labels) if counts[label] >= MIN_PER_TEAM]
    if len({labels[i] for i in keep}) < 2:
        return []
    kept_texts = [texts[i] for i in keep]
    kept_labels = [labels[i] for i in keep]
    probs, order = out_of_sample_probabilities(
        kept_texts,
        kept_labels,
        folds=folds,
        seed=seed,
        trusted_texts=trusted_texts,
        trusted_labels=trusted_labels,
    )
    # cleanlab wants a column per class it sees among the labels: keep the weak labels'
    # teams (a team only people labelled adds probability mass the weak labels never get).
    weak_order = tuple(sorted(set(kept_labels)))
    columns = [order.index(label) for label in weak_order]
    probs = probs[:, columns]
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    order = weak_order
    index = {label: i for i, label in enumerate(order)}
    y = np.array([index[label] for label in kept_labels])
    ranked = find_label_issues(
        labels=y,
        pred_probs=probs,
        return_indices_ranked_by="self_confidence",
        filter_by="both",
    )
    return [
        SuspectFinding(
            index=keep[int(i)],
            given=kept_labels[int(i)],
            likely=order[int(probs[i].argmax())],
            quality=float(probs[i, y[i]]),
        )
        for i in ranked
    ]
