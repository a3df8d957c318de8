"""Which weak labels are probably wrong: confident learning on out-of-sample probabilities.

An archive's folders are misfiled in places. Each weak-labelled mail is scored by a model
that never saw it — the TF-IDF model, cross-fitted over ``folds`` folds, quick enough to
run before every training — and cleanlab's confident learning
(``cleanlab.filter.find_label_issues``, Northcutt et al. 2021) ranks the labels whose
given team the out-of-sample probabilities contradict. The most suspect come first; each
comes with the team the model expects instead.

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
    texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    """(probabilities, label order): each row from a TF-IDF model that did not see it."""
    from sklearn.model_selection import StratifiedKFold

    order = tuple(sorted(set(labels)))
    index = {label: i for i, label in enumerate(order)}
    y = np.array([index[label] for label in labels])
    probs = np.zeros((len(texts), len(order)), dtype=np.float64)
    smallest = min(Counter(labels).values())
    splits = max(2, min(folds, smallest))
    splitter = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    for train, held in splitter.split(np.zeros(len(y)), y):
        model = TfidfBaseline().fit([texts[i] for i in train], [labels[i] for i in train])
        part = model.predict_proba([texts[i] for i in held])
        columns = [index[label] for label in model.classes]
        probs[np.ix_(held, columns)] = part
    return probs, order


def find_suspects(
    texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> list[SuspectFinding]:
    """The weak labels confident learning flags, most suspect first (see module doc).

    Teams with fewer than :data:`MIN_PER_TEAM` labels are left out of the search (their
    labels are neither judged nor used to judge others).
    """
    from cleanlab.filter import find_label_issues

    counts = Counter(labels)
    keep = [i for i, label in enumerate(labels) if counts[label] >= MIN_PER_TEAM]
    if len({labels[i] for i in keep}) < 2:
        return []
    kept_texts = [texts[i] for i in keep]
    kept_labels = [labels[i] for i in keep]
    probs, order = out_of_sample_probabilities(kept_texts, kept_labels, folds=folds, seed=seed)
    index = {label: i for i, label in enumerate(order)}
    y = np.array([index[label] for label in kept_labels])
    ranked = find_label_issues(
        labels=y,
        pred_probs=probs,
        return_indices_ranked_by="self_confidence",
        filter_by="prune_by_noise_rate",
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
