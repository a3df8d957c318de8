"""Choosing confidence thresholds so that auto-routed mail meets a target precision.

Method (risk control in the style of "Learn then Test", Angelopoulos et al. 2021):

1. **Global threshold.** On held-out data, for candidate thresholds t from high to low, the
   auto-routed set is {mail : confidence ≥ t}. Its error rate gets a one-sided
   Clopper–Pearson upper bound at level ``delta``. Walking down the candidates (fixed-sequence
   testing) we keep the lowest t whose bound is ≤ 1 − target and stop at the first that
   fails. With probability ≥ 1 − delta, the error rate of auto-routed mail from the same
   distribution is then at most 1 − target. Candidates that select fewer mails than could
   ever pass (``min_selected``: even with zero errors the bound is too high) are skipped
   rather than tested, so the walk starts where a pass is possible at all.
2. **Per-team correction.** Per team, we look at the mails auto-routed to it at the global
   threshold. When the data show that this team's error rate exceeds the budget (the
   Clopper–Pearson *lower* bound of its error rate is above 1 − target), the team's threshold
   is raised to the lowest value at which its empirical precision reaches the target, or to
   "never auto-route" when none does. Other teams keep the global threshold: most teams have
   too few held-out mails for a bound of their own, and lowering a team below the global
   threshold is never allowed.

Everything here is a pure function over arrays, tested with known answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

NEVER = math.inf  # a threshold no confidence reaches: that team always goes to review


def clopper_pearson_upper(errors: int, n: int, delta: float) -> float:
    """One-sided (1 − delta) upper confidence bound on an error rate of errors/n."""
    if n == 0:
        return 1.0
    if errors >= n:
        return 1.0
    from scipy.stats import beta  # choosing thresholds only: serving just compares

    return float(beta.ppf(1.0 - delta, errors + 1, n - errors))


def clopper_pearson_lower(errors: int, n: int, delta: float) -> float:
    """One-sided (1 − delta) lower confidence bound on an error rate of errors/n."""
    if n == 0 or errors == 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(delta, errors, n - errors + 1))


def min_selected(target_precision: float, delta: float) -> int:
    """The fewest selected mails for which zero errors can pass the upper-bound test."""
    alpha = 1.0 - target_precision
    return math.ceil(math.log(delta) / math.log(1.0 - alpha))


@dataclass(frozen=True)
class ThresholdPolicy:
    """Per-team confidence thresholds; a mail is auto-routed when confidence ≥ threshold."""

    target_precision: float
    delta: float
    global_threshold: float
    team_thresholds: dict[str, float] = field(default_factory=dict)
    # A reply follows its thread's team on its own only when the model gives that team at
    # least this probability (certified on verified replies: classifier.certify); NEVER
    # when that could not be certified, 0 when the version had no verified replies to
    # certify on (versions before this rule followed every thread).
    follow_floor: float = 0.0

    def threshold_for(self, team: str) -> float:
        return self.team_thresholds.get(team, self.global_threshold)

    def auto_routes(self, team: str, confidence: float) -> bool:
        return confidence >= self.threshold_for(team)

    def to_json(self) -> dict[str, object]:
        def enc(value: float) -> float | None:
            return None if math.isinf(value) else value

        return {
            "target_precision": self.target_precision,
            "delta": self.delta,
            "global_threshold": enc(self.global_threshold),
            "team_thresholds": {k: enc(v) for k, v in self.team_thresholds.items()},
            "follow_floor": enc(self.follow_floor),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ThresholdPolicy:
        def dec(value: object) -> float:
            return NEVER if value is None else float(value)  # type: ignore[arg-type]

        teams = data.get("team_thresholds") or {}
        assert isinstance(teams, dict)
        return cls(
            target_precision=float(data["target_precision"]),  # type: ignore[arg-type]
            delta=float(data["delta"]),  # type: ignore[arg-type]
            global_threshold=dec(data["global_threshold"]),
            team_thresholds={str(k): dec(v) for k, v in teams.items()},
            follow_floor=dec(data["follow_floor"]) if "follow_floor" in data else 0.0,
        )


def select_global_threshold(
    confidences: NDArray[np.floating],
    correct: NDArray[np.bool_],
    target_precision: float,
    delta: float = 0.1,
) -> float:
    """The lowest threshold whose auto-routed error passes the bound (see module doc)."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    alpha = 1.0 - target_precision
    order = np.argsort(-conf, kind="stable")
    conf_sorted = conf[order]
    errors_cum = np.cumsum(~ok[order])
    needed = min_selected(target_precision, delta)
    best = NEVER
    # Only the last position of each distinct confidence is a real cut: ties go together.
    n_total = len(conf_sorted)
    for i in range(n_total):
        if i + 1 < n_total and conf_sorted[i + 1] == conf_sorted[i]:
            continue
        n = i + 1
        if n < needed:
            continue
        if clopper_pearson_upper(int(errors_cum[i]), n, delta) <= alpha:
            best = float(conf_sorted[i])
        else:
            break
    return best


def select_thresholds(
    confidences: NDArray[np.floating],
    predicted: Sequence[str],
    correct: NDArray[np.bool_],
    target_precision: float,
    delta: float = 0.1,
) -> ThresholdPolicy:
    """Global threshold plus per-team corrections (see module doc)."""
    global_t = select_global_threshold(confidences, correct, target_precision, delta)
    return ThresholdPolicy(
        target_precision,
        delta,
        global_t,
        team_corrections(confidences, predicted, correct, global_t, target_precision, delta),
    )


def team_corrections(
    confidences: NDArray[np.floating],
    predicted: Sequence[str],
    correct: NDArray[np.bool_],
    global_threshold: float,
    target_precision: float,
    delta: float = 0.1,
) -> dict[str, float]:
    """Teams whose mail at the global threshold is shown to miss the target get a higher
    threshold of their own (step 2 of the module doc); the rest keep the global one."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    pred = np.asarray(list(predicted), dtype=object)
    alpha = 1.0 - target_precision
    global_t = global_threshold
    team_thresholds: dict[str, float] = {}
    for team in sorted(set(pred.tolist())):
        mine = pred == team
        selected = mine & (conf >= global_t)
        n = int(selected.sum())
        errors = int((selected & ~ok).sum())
        if n == 0 or clopper_pearson_lower(errors, n, delta) <= alpha:
            continue
        team_thresholds[team] = _lowest_threshold_meeting(conf[mine], ok[mine], global_t, alpha)
    return team_thresholds


def _lowest_threshold_meeting(
    conf: NDArray[np.float64], ok: NDArray[np.bool_], floor: float, alpha: float
) -> float:
    order = np.argsort(-conf, kind="stable")
    conf_sorted, ok_sorted = conf[order], ok[order]
    errors_cum = np.cumsum(~ok_sorted)
    best = NEVER
    for i in range(len(conf_sorted)):
        if conf_sorted[i] < floor:
            break
        if i + 1 < len(conf_sorted) and conf_sorted[i + 1] == conf_sorted[i]:
            continue
        if errors_cum[i] / (i + 1) <= alpha:
            best = float(conf_sorted[i])
    return best


def coverage_precision_curve(
    confidences: NDArray[np.floating], correct: NDArray[np.bool_], points: int = 50
) -> list[tuple[float, float, float]]:
    """(threshold, coverage, precision) for evenly spaced coverages, for the report."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if len(conf) == 0:
        return []
    order = np.argsort(-conf, kind="stable")
    correct_cum = np.cumsum(ok[order])
    n = len(conf)
    curve = []
    for k in np.unique(np.linspace(1, n, num=min(points, n)).astype(int)):
        curve.append((float(conf[order][k - 1]), k / n, float(correct_cum[k - 1] / k)))
    return curve


def evaluate_policy(
    policy: ThresholdPolicy,
    confidences: NDArray[np.floating],
    predicted: Sequence[str],
    correct: NDArray[np.bool_],
) -> tuple[float, float]:
    """(precision of auto-routed mail, coverage = share auto-routed) on a data set."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    auto = np.array(
        [policy.auto_routes(str(t), float(c)) for t, c in zip(predicted, conf, strict=True)],
        dtype=bool,
    )
    if not auto.any():
        return 1.0, 0.0
    return float(ok[auto].mean()), float(auto.mean())
