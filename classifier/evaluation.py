"""Evaluation figures for one model on one labelled set: pure functions over predictions.

An :class:`EvaluationResult` is what the report, the model card, the registry's promotion
gate and the benchmark JSON are made from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from classifier.calibration import expected_calibration_error, reliability_curve
from classifier.thresholds import ThresholdPolicy, coverage_precision_curve


@dataclass(frozen=True)
class TeamFigures:
    team: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvaluationResult:
    """Predictions of one model on one set, plus the figures derived from them.

    ``labels`` is the model's label order; ``probabilities`` rows follow it. ``y_true`` may
    hold labels the model has never seen (out-of-scope mail): they count as errors for
    accuracy, and as caught when the policy sends them to review.
    """

    name: str  # e.g. "transformer (e5-small)" or "TF-IDF baseline"
    labels: tuple[str, ...]
    y_true: tuple[str, ...]
    y_pred: tuple[str, ...]
    confidences: NDArray[np.float64]
    policy: ThresholdPolicy | None = None
    oos_label: str | None = None
    oos_flags: NDArray[np.bool_] | None = None  # True where the OOS detector fired
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def in_scope(self) -> NDArray[np.bool_]:
        if self.oos_label is None:
            return np.ones(len(self.y_true), dtype=bool)
        return np.array([t != self.oos_label for t in self.y_true], dtype=bool)

    @property
    def correct(self) -> NDArray[np.bool_]:
        return np.array([t == p for t, p in zip(self.y_true, self.y_pred, strict=True)], dtype=bool)

    def auto_routed(self) -> NDArray[np.bool_]:
        """Which items the policy (and the OOS detector) would forward without a person."""
        if self.policy is None:
            return np.zeros(len(self.y_true), dtype=bool)
        auto = np.array(
            [
                self.policy.auto_routes(p, float(c))
                for p, c in zip(self.y_pred, self.confidences, strict=True)
            ],
            dtype=bool,
        )
        if self.oos_flags is not None:
            auto &= ~self.oos_flags
        return auto

    # Figures ----------------------------------------------------------------------

    def accuracy(self) -> float:
        mask = self.in_scope
        return float(accuracy_score(np.array(self.y_true)[mask], np.array(self.y_pred)[mask]))

    def macro_f1(self) -> float:
        """Macro-F1 over the teams in this set (its true or predicted teams): a team the
        set holds no mail of, and that was never predicted, is no zero in the average."""
        mask = self.in_scope
        y_true = np.array(self.y_true)[mask]
        y_pred = np.array(self.y_pred)[mask]
        present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
        if not present:
            return 0.0
        return float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))

    def per_team(self) -> list[TeamFigures]:
        mask = self.in_scope
        p, r, f, s = precision_recall_fscore_support(
            np.array(self.y_true)[mask],
            np.array(self.y_pred)[mask],
            labels=list(self.labels),
            zero_division=0,
        )
        return [
            TeamFigures(team, float(pi), float(ri), float(fi), int(si))
            for team, pi, ri, fi, si in zip(self.labels, p, r, f, s, strict=True)
        ]

    def confusion(self) -> NDArray[np.int64]:
        """Rows: true team, columns: predicted team, in ``labels`` order (in-scope only)."""
        mask = self.in_scope
        return np.asarray(
            confusion_matrix(
                np.array(self.y_true)[mask], np.array(self.y_pred)[mask], labels=list(self.labels)
            ),
            dtype=np.int64,
        )

    def ece(self) -> float:
        mask = self.in_scope
        return expected_calibration_error(self.confidences[mask], self.correct[mask])

    def reliability(self, bins: int = 10) -> list[tuple[float, float, int]]:
        mask = self.in_scope
        return reliability_curve(self.confidences[mask], self.correct[mask], bins)

    def coverage_precision(self) -> list[tuple[float, float, float]]:
        return coverage_precision_curve(self.confidences, self.correct)

    def policy_figures(self) -> tuple[float, float]:
        """(precision of auto-routed mail, coverage) under the policy, OOS items included."""
        if self.policy is None:
            return 1.0, 0.0
        auto = self.auto_routed()
        if not auto.any():
            return 1.0, 0.0
        return float(self.correct[auto].mean()), float(auto.mean())

    def oos_recall(self) -> float | None:
        """Share of out-of-scope items sent to a person (not auto-routed)."""
        if self.oos_label is None:
            return None
        oos = ~self.in_scope
        if not oos.any():
            return None
        return float((~self.auto_routed()[oos]).mean())

    def precision_at_unknown_share(self, share: float) -> float | None:
        """The auto-routed mail's precision if mail for no team were ``share`` of all mail
        (the out-of-scope items re-weighted to that share; None without any):
        ``1 − ((1−π)·c·e + π·b) / ((1−π)·c + π·b)`` with ``c`` the in-scope coverage, ``e``
        the routed in-scope mail's error rate and ``b`` the share of unknown mail routed."""
        if self.oos_label is None or self.policy is None:
            return None
        inside = self.in_scope
        if inside.all() or not inside.any():
            return None
        auto = self.auto_routed()
        c = float(auto[inside].mean())
        e = float((~self.correct[inside & auto]).mean()) if (auto & inside).any() else 0.0
        b = float(auto[~inside].mean())
        routed = (1 - share) * c + share * b
        if routed == 0:
            return None
        return 1.0 - ((1 - share) * c * e + share * b) / routed

    def summary(self) -> dict[str, object]:
        precision, coverage = self.policy_figures()
        out: dict[str, object] = {
            "accuracy": round(self.accuracy(), 4),
            "macro_f1": round(self.macro_f1(), 4),
            "ece": round(self.ece(), 4),
            "n": len(self.y_true),
        }
        if self.policy is not None:
            out |= {
                "target_precision": self.policy.target_precision,
                "threshold": None
                if np.isinf(self.policy.global_threshold)
                else round(self.policy.global_threshold, 4),
                "team_thresholds": {
                    k: (None if np.isinf(v) else round(v, 4))
                    for k, v in self.policy.team_thresholds.items()
                },
                "auto_precision": round(precision, 4),
                "coverage": round(coverage, 4),
            }
        recall = self.oos_recall()
        if recall is not None:
            out["oos_recall"] = round(recall, 4)
        out |= {k: round(v, 4) for k, v in self.extra.items()}
        return out


def evaluate(
    name: str,
    labels: Sequence[str],
    y_true: Sequence[str],
    probabilities: NDArray[np.floating],
    *,
    policy: ThresholdPolicy | None = None,
    oos_label: str | None = None,
    oos_flags: NDArray[np.bool_] | None = None,
) -> EvaluationResult:
    """Build an :class:`EvaluationResult` from calibrated probabilities."""
    probs = np.asarray(probabilities, dtype=np.float64)
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)
    return EvaluationResult(
        name=name,
        labels=tuple(labels),
        y_true=tuple(y_true),
        y_pred=tuple(labels[i] for i in best),
        confidences=probs.max(axis=1) if len(probs) else np.zeros(0),
        policy=policy,
        oos_label=oos_label,
        oos_flags=oos_flags,
    )
