"""From model outputs to a routing decision: pure functions, shared by training and serving.

* :func:`combine` blends the transformer's and the TF-IDF model's probabilities with a weight
  chosen on validation data, then applies the fitted temperature. Two poolings: ``"mean"``
  (the weighted mean of the two probability vectors: what training chooses for a blend) and
  ``"product"`` (the weighted mean of their log-probabilities; a member alone, and model
  versions saved before the mean existed). A product lets one member's certainty on a
  handful of training examples override the other's doubt — the TF-IDF model was 0.92 sure
  of "Bel mij even terug aub" from three mails, the transformer 0.35 — so a blend's most
  confident answers held its most expensive errors; the mean is confident only where both
  members lean the same way.
* :func:`centroid_similarity` is the out-of-scope score: the cosine similarity of a mail's
  embedding to the nearest team centroid. Mail unlike every team is sent to a person even
  when the softmax happens to be confident (softmax confidence alone is a poor detector of
  "none of the above").
* :func:`with_case` weighs a customer's case: the model's probabilities updated by the odds
  that a customer's new mail belongs to the team of their recent case (how strong a case
  is: :mod:`classifier.cases`). The certificate is taken on the updated confidences, so
  mail that is sure only with its case routes under the same promise.
* :func:`decide` turns one row of probabilities into a :class:`Prediction`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from classifier.calibration import softmax
from classifier.thresholds import ThresholdPolicy

Reason = Literal["confident", "below-threshold", "out-of-scope", "unknown-team"]
Pooling = Literal["product", "mean"]
POOLINGS: tuple[Pooling, ...] = ("product", "mean")


def log_softmax(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return np.asarray(z - np.log(np.exp(z).sum(axis=1, keepdims=True)), dtype=np.float64)


def combined_logits(
    transformer_logits: NDArray[np.floating] | None,
    tfidf_probabilities: NDArray[np.floating],
    weight: float,
) -> NDArray[np.float64]:
    """``weight`` · log p_transformer + (1 − weight) · log p_tfidf (weight 0: TF-IDF alone)."""
    tfidf_log = np.log(np.clip(np.asarray(tfidf_probabilities, dtype=np.float64), 1e-12, 1.0))
    if transformer_logits is None or weight <= 0.0:
        return tfidf_log
    return np.asarray(
        weight * log_softmax(transformer_logits) + (1.0 - weight) * tfidf_log, dtype=np.float64
    )


def combine(
    transformer_logits: NDArray[np.floating] | None,
    tfidf_probabilities: NDArray[np.floating],
    weight: float,
    temperature: float,
    pooling: Pooling = "product",
    top_label: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """Calibrated probabilities of the blend (rows sum to one). Both poolings agree when
    one member serves alone (weight 0 or 1). ``top_label``: the mean's calibration
    (:func:`calibrate_top_label`)."""
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}: one of {', '.join(POOLINGS)}")
    if pooling == "product" or transformer_logits is None or not 0.0 < weight < 1.0:
        return softmax(
            combined_logits(transformer_logits, tfidf_probabilities, weight), temperature
        )
    tfidf = np.asarray(tfidf_probabilities, dtype=np.float64)
    mixed = weight * softmax(transformer_logits) + (1.0 - weight) * tfidf
    return calibrate_top_label(softmax(np.log(np.clip(mixed, 1e-12, 1.0)), temperature), top_label)


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.asarray(np.log(q / (1.0 - q)), dtype=np.float64)


def top_label_confidence(
    confidence: NDArray[np.floating], top_label: tuple[float, float]
) -> NDArray[np.float64]:
    """``sigmoid(a · logit(confidence) + b)``: increasing when ``a`` > 0."""
    a, b = top_label
    z = a * _logit(np.asarray(confidence, dtype=np.float64)) + b
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def calibrate_top_label(
    probabilities: NDArray[np.float64], top_label: tuple[float, float] | None
) -> NDArray[np.float64]:
    """Top-label calibration (Gupta & Ramdas 2022): each row's highest probability becomes
    :func:`top_label_confidence` of it, fitted on validation mail (is the top team right?),
    and the other teams share the rest in their old proportions. The mean of two members is
    underconfident (0.6 where it is right 98 % of the time); an increasing map keeps the
    order of the mail by confidence, so what a threshold certifies is unchanged, and the
    number people read becomes a probability again. The top team stays on top: where the
    map would push it below the runner-up, it stays just above it."""
    if top_label is None or probabilities.shape[1] < 2:
        return probabilities
    p = np.array(probabilities, dtype=np.float64)
    rows = np.arange(len(p))
    top = p.argmax(axis=1)
    c = p[rows, top]
    second = np.partition(p, -2, axis=1)[:, -2]
    rest = 1.0 - c
    level = second / np.maximum(rest + second, 1e-12)  # where the top meets the runner-up
    g = np.maximum(top_label_confidence(c, top_label), np.minimum(level + 1e-9, c))
    g = np.where(rest > 1e-12, g, c)
    scale = np.where(rest > 1e-12, (1.0 - g) / np.maximum(rest, 1e-12), 0.0)
    p *= scale[:, None]
    p[rows, top] = g
    return p


def with_case(
    probabilities: NDArray[np.floating],
    case_columns: NDArray[np.integer] | Sequence[int],
    strength: float | NDArray[np.floating] | None,
) -> NDArray[np.float64]:
    """Each row with a case (its column ≥ 0) updated by Bayes' rule with likelihood ratio
    ``strength`` (one for all rows, or one per row) for the case's team: ``p_case →
    s·p_case / (1 + (s − 1)·p_case)``, the other teams scaled down alike (their order is
    kept). Rows without a case, and every row when ``strength`` is None, stay as they
    were. How strong a case is: :mod:`classifier.cases`."""
    p = np.array(probabilities, dtype=np.float64)
    columns = np.asarray(case_columns, dtype=np.int64)
    rows = np.flatnonzero(columns >= 0)
    if strength is None or not len(rows):
        return p
    s = np.broadcast_to(np.asarray(strength, dtype=np.float64), columns.shape)[rows]
    chosen = columns[rows]
    before = p[rows, chosen]
    norm = 1.0 + (s - 1.0) * before
    p[rows] /= norm[:, None]
    p[rows, chosen] = s * before / norm
    return p


def centroids(
    embeddings: NDArray[np.floating], labels: Sequence[str], label_order: Sequence[str]
) -> NDArray[np.float32]:
    """One L2-normalised mean embedding per team, rows in ``label_order``."""
    emb = np.asarray(embeddings, dtype=np.float32)
    lab = np.asarray(list(labels), dtype=object)
    rows = []
    for team in label_order:
        mine = emb[lab == team]
        centre = mine.mean(axis=0) if len(mine) else np.zeros(emb.shape[1], dtype=np.float32)
        norm = float(np.linalg.norm(centre)) or 1.0
        rows.append(centre / norm)
    return np.asarray(rows, dtype=np.float32)


def centroid_similarity(
    embeddings: NDArray[np.floating], team_centroids: NDArray[np.floating]
) -> NDArray[np.float32]:
    """Cosine similarity of each (normalised) embedding to its nearest team centroid."""
    sims = np.asarray(embeddings, dtype=np.float32) @ np.asarray(team_centroids, np.float32).T
    return np.asarray(sims.max(axis=1), dtype=np.float32)


def oos_cutoff(in_scope_similarity: NDArray[np.floating], quantile: float) -> float:
    """The similarity below which mail counts as out of scope: that ``quantile`` of
    in-scope validation mail falls below it (the share of good mail we accept to send to a
    person for the sake of catching mail that belongs to no team)."""
    if len(in_scope_similarity) == 0:
        return -1.0
    return float(np.quantile(np.asarray(in_scope_similarity, dtype=np.float64), quantile))


@dataclass(frozen=True)
class Prediction:
    """The model's view of one mail, and whether it may be routed without a person."""

    team: str
    confidence: float
    top: tuple[tuple[str, float], ...]  # up to three (team, probability), best first
    auto: bool
    reason: Reason
    model_version: str
    margin: float  # top-1 minus top-2 probability: small means uncertain
    # The top team's threshold the confidence was held to; None when the team never
    # auto-routes (no threshold reaches the target precision) or none was applied.
    threshold: float | None = None
    # The least probability of a thread's team at which a reply follows its thread on its
    # own (ThresholdPolicy.follow_floor); inf: never without a person or a sure model.
    follow_floor: float = 0.0
    # The customer's case team these probabilities already weigh (:func:`with_case`); None
    # when the mail has no case or the version does not weigh cases.
    case_team: str | None = None
    # Likewise the team of a reply's thread these probabilities already weigh.
    thread_team: str | None = None

    @property
    def needs_review(self) -> bool:
        return not self.auto

    def probability_of(self, team: str) -> float:
        """The model's probability of ``team``; 0 when it is not among the top three
        (below the third: too low to follow anyway)."""
        return next((p for t, p in self.top if t == team), 0.0)

    def doubts(self, team: str) -> bool:
        """The model's view of ``team`` is below what a follow-up decision was certified at."""
        return self.probability_of(team) < self.follow_floor


def decide(
    probabilities: NDArray[np.floating],
    labels: Sequence[str],
    policy: ThresholdPolicy,
    *,
    model_version: str,
    out_of_scope: bool = False,
    known_teams: Collection[str] | None = None,
    case_team: str | None = None,
    thread_team: str | None = None,
) -> Prediction:
    """One mail's decision. Unsure, unlike every team, or a team no longer routable → review.

    ``known_teams`` are the teams mail may be forwarded to now; a prediction of any other
    label (an archived team) is never auto-routed. ``case_team``: the customer's case team
    ``probabilities`` already weigh (:func:`with_case`), recorded on the prediction;
    ``thread_team`` likewise for a reply's thread.
    """
    row = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-row, kind="stable")
    top = tuple((labels[i], float(row[i])) for i in order[:3])
    team, confidence = top[0]
    margin = confidence - (top[1][1] if len(top) > 1 else 0.0)
    if known_teams is not None and team not in known_teams:
        reason: Reason = "unknown-team"
    elif out_of_scope:
        reason = "out-of-scope"
    elif not policy.auto_routes(team, confidence):
        reason = "below-threshold"
    else:
        reason = "confident"
    threshold = policy.threshold_for(team)
    return Prediction(
        team=team,
        confidence=confidence,
        top=top,
        auto=reason == "confident",
        reason=reason,
        model_version=model_version,
        margin=margin,
        threshold=None if math.isinf(threshold) else threshold,
        follow_floor=policy.follow_floor,
        case_team=case_team,
        thread_team=thread_team,
    )
