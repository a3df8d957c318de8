"""Certifying a threshold: the precision promise, checked on mail no model has seen.

The calibration set is out-of-sample mail with a trusted answer — the verified sample
(:mod:`labeling.annotation.verify`), or, without one, a validation carve — each with the
model's confidence, its predicted team, and whether that team is right. Mail that belongs
to no team (a verified "no team", an out-of-scope example) is always wrong when routed.

**The walk.** Candidate thresholds go from strict to lax; at each, the error rate of the
mail it would route gets a one-sided Clopper–Pearson upper bound at level ``delta``, and
the walk keeps the laxest threshold whose bound is within ``1 − target``, stopping at the
first that fails (fixed-sequence testing, Angelopoulos et al. 2021, "Learn then Test").
With probability at least ``1 − delta`` the auto-routed mail's precision is then at least
the target.

**Where the walk starts.** The strictest thresholds route so little calibration mail that
a single error fails them, and a failure ends the walk: one early mistake used to cost all
coverage. The walk may start at any threshold chosen without looking at which calibration
mail is right — the number of mail above a threshold depends on confidences only — so it
starts where the bound could still pass with one error (:func:`start_count`). Validity is
unchanged: conditional on the confidences, the errors of the routed mail are independent
draws of the precision it promises.

**Which counts it tests.** Only the first half of each band of routed counts that allow
the same number of errors (:func:`walk_counts`): an error that comes near the end of a band
would fail the counts left in it, though the next band lets it pass, and a failure ends the
walk. Three demo runs of the same code certified 80 %, 66 % and 65 % of 400 verified mails;
two had stopped that way, at 263 and 259, where every count from 265 to about 310 passes.
Testing the first halves certifies 74.5 % in all three. The counts come from ``n``, the
target and delta, so the sequence is fixed before any answer is looked at.

**Unknown mail.** Mail for no team may be rarer or commoner live than in calibration. Given
out-of-scope examples and a ``max_unknown_share`` π, :func:`certify` bounds the known mail's
error rate ``e``, the share ``b`` of unknown mail let through, and the known mail's coverage
``c`` from below, and takes the worst precision over every live share up to π:
``1 − ((1−π)·c·e + π·b) / ((1−π)·c + π·b)`` (:func:`_certify_robust`). Without π, unknown
examples count as errors in the share the calibration set has.

**Thread decisions.** A reply follows its thread's team without the model being sure, so
that decision needs a certificate of its own: on the verified replies whose thread holds an
earlier mail with a team, the score is the model's probability of the thread's team (0 when
it is not among the model's top three, as in serving) and "right" means the thread's team is
the verified answer. The same walk gives the least probability at which following the
thread keeps the target (:func:`follow_floor`); a reply below it goes to the model, and to
a person when the model is not sure either. Where topics change often within a thread, the
floor rises until a thread is followed only when the model also leans to its team.

**Customer cases** need no certificate of their own: a version that weighs them
(``case_strength``, :func:`classifier.scoring.with_case`) updates a verified mail's
probabilities by its own case (the customer's earlier archived mail within the affinity
window: :func:`labeling.annotation.verify.case_priors`) before the calibration set is made,
exactly as serving updates a live mail's, so the one walk above certifies the model's
decisions with and without a case together. A few dozen verified follow-ups alone could not
certify 0.98 (it takes over a hundred without a single error); pooled with all verified
mail they only have to be as right as the rest.

Pure functions over arrays; the model's side is :mod:`classifier.thresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from classifier.thresholds import (
    NEVER,
    ThresholdPolicy,
    clopper_pearson_lower,
    clopper_pearson_upper,
    team_corrections,
)


def start_count(target: float, delta: float) -> int:
    """The fewest routed mails at which one error can still pass the bound."""
    alpha = 1.0 - target
    n = max(1, math.ceil(math.log(delta) / math.log(1.0 - alpha)))
    while clopper_pearson_upper(1, n, delta) > alpha:
        n += max(1, n // 50)
    return n


@lru_cache(maxsize=64)
def walk_counts(n: int, target: float, delta: float) -> NDArray[np.bool_]:
    """Which numbers of routed mail the walk tests (index = routed count, up to ``n``): the
    first half of each band of counts that allow the same number of errors. Right after an
    error, a count near the end of its band cannot let that error pass yet, though a few
    more mail later the next band can: tested, it would end the walk there (a demo run
    stopped at 263 of 400 verified mail, where every count from 265 to 310 passes). Testing
    only the first half of each band leaves half a band for a new error to be absorbed.
    The counts depend on ``n``, the target and delta alone, never on which mail is right,
    so the walk stays a fixed sequence and the guarantee is unchanged. Equal confidences
    are one cut, at their last mail: it is tested when any count among them is (that too
    depends on the confidences alone)."""
    tested = np.zeros(n + 1, dtype=bool)
    start = start_count(target, delta)
    if start > n:
        return tested
    alpha = 1.0 - target
    # allowed[r]: the most errors r routed mails may hold with the bound still passing.
    allowed = np.zeros(n + 1, dtype=np.int64)
    errors = 0
    for routed in range(start, n + 1):
        while clopper_pearson_upper(errors + 1, routed, delta) <= alpha:
            errors += 1
        allowed[routed] = errors
    band_starts = [r for r in range(start, n + 1) if r == start or allowed[r] != allowed[r - 1]]
    for first, after in zip(band_starts, [*band_starts[1:], None], strict=True):
        if after is None:
            # The last band runs past n: its length is that of the band before, if any.
            length = band_starts[-1] - band_starts[-2] if len(band_starts) > 1 else n + 1 - first
        else:
            length = after - first
        tested[first : min(n + 1, first + max(1, length // 2))] = True
    tested.setflags(write=False)  # cached: shared by every walk over n mails
    return tested


@dataclass(frozen=True)
class Certificate:
    """The threshold a calibration set certifies, and what it says.

    ``threshold`` is :data:`NEVER` when nothing could be certified. ``coverage`` and
    ``precision`` are the calibration set's own (in-scope) figures at the threshold;
    ``precision_bound`` is the certified lower bound (worst case over the unknown-mail
    shares allowed). ``unknown_pass`` is the share of out-of-scope examples it would route.
    """

    threshold: float
    target: float
    delta: float
    n: int  # calibration mail
    n_unknown: int  # out-of-scope examples among it
    routed: int
    errors: int
    coverage: float
    precision: float | None
    precision_bound: float | None
    unknown_pass: float | None
    max_unknown_share: float
    start: int  # the walk's first step: routed mail at that threshold

    @property
    def certified(self) -> bool:
        return not math.isinf(self.threshold)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["threshold"] = None if math.isinf(self.threshold) else self.threshold
        return data


ROBUST_COVERAGES = tuple(round(0.3 + 0.05 * k, 2) for k in range(14))  # 0.30 … 0.95


def certify(
    confidences: NDArray[np.floating],
    correct: NDArray[np.bool_],
    unknown: NDArray[np.bool_],
    target: float,
    delta: float = 0.1,
    *,
    max_unknown_share: float = 0.0,
) -> Certificate:
    """The laxest threshold whose precision holds (see the module doc).

    ``correct``: the predicted team is right (always False for unknown mail).
    ``unknown``: the mail belongs to no team (an out-of-scope example).
    ``max_unknown_share``: the largest share of live mail for no team the promise must
    hold for; 0 when unknown mail is not expected (its examples still count as errors,
    in the share the calibration set has).
    """
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    oos = np.asarray(unknown, dtype=bool)
    if max_unknown_share > 0 and oos.any():
        return _certify_robust(conf, ok, oos, target, delta, max_unknown_share)
    n = len(conf)
    n_unknown = int(oos.sum())
    start = start_count(target, delta)
    tested = walk_counts(n, target, delta)
    order = np.argsort(-conf, kind="stable")
    conf_sorted, wrong_sorted = conf[order], ~ok[order]
    best: tuple[float, int, int, float] | None = None
    errors = 0
    due = False  # a count the walk tests lies in the current run of equal confidences
    for i in range(n):
        errors += int(wrong_sorted[i])
        due = due or bool(tested[i + 1])
        if i + 1 < n and conf_sorted[i + 1] == conf_sorted[i]:
            continue  # ties go together: only the last of equal confidences is a cut
        routed = i + 1
        if routed < start or not due:
            continue
        due = False
        bound = 1.0 - clopper_pearson_upper(errors, routed, delta)
        if bound < target:
            break
        best = (float(conf_sorted[i]), routed, errors, bound)
    if best is None:
        return _nothing(target, delta, n, n_unknown, max_unknown_share, start)
    threshold, routed, errors, bound = best
    return _certificate(conf, ok, oos, threshold, target, delta, bound, max_unknown_share, start)


def _certify_robust(
    conf: NDArray[np.float64],
    ok: NDArray[np.bool_],
    oos: NDArray[np.bool_],
    target: float,
    delta: float,
    max_unknown_share: float,
) -> Certificate:
    """Unknown mail may be up to ``max_unknown_share`` of the live mail. The precision of a
    threshold then needs three bounds (known mail's error rate, the share of unknown mail
    let through, the coverage of known mail), and it is not monotone along the walk (at
    strict thresholds the little known mail routed cannot outweigh the bound on unknown
    mail), so a fixed walk does not fit: candidates are the thresholds that route
    :data:`ROBUST_COVERAGES` of the calibration mail (chosen from confidences alone), each
    checked with its bounds at ``delta`` shared out over all of them (Bonferroni); the
    laxest that passes wins."""
    n, n_unknown = len(conf), int(oos.sum())
    in_scope_total = n - n_unknown
    candidates = sorted({float(np.quantile(conf, 1.0 - c)) for c in ROBUST_COVERAGES})
    level = delta / (3 * len(candidates))
    for threshold in candidates:  # laxest first: the first that passes is the laxest
        routed = conf >= threshold
        routed_in = int((routed & ~oos).sum())
        errors_in = int((routed & ~oos & ~ok).sum())
        passed = int((routed & oos).sum())
        bound = _precision_bound(
            routed_in, errors_in, passed, in_scope_total, n_unknown, level, max_unknown_share
        )
        if bound is not None and bound >= target:
            return _certificate(
                conf, ok, oos, threshold, target, delta, bound, max_unknown_share, 0
            )
    return _nothing(target, delta, n, n_unknown, max_unknown_share, 0)


def _nothing(
    target: float, delta: float, n: int, n_unknown: int, share: float, start: int
) -> Certificate:
    return Certificate(
        threshold=NEVER,
        target=target,
        delta=delta,
        n=n,
        n_unknown=n_unknown,
        routed=0,
        errors=0,
        coverage=0.0,
        precision=None,
        precision_bound=None,
        unknown_pass=None,
        max_unknown_share=share,
        start=start,
    )


def _certificate(
    conf: NDArray[np.float64],
    ok: NDArray[np.bool_],
    oos: NDArray[np.bool_],
    threshold: float,
    target: float,
    delta: float,
    bound: float,
    share: float,
    start: int,
) -> Certificate:
    routed = conf >= threshold
    n_routed = int(routed.sum())
    errors = int((routed & ~ok).sum())
    in_scope_total = int((~oos).sum())
    n_unknown = len(conf) - in_scope_total
    return Certificate(
        threshold=threshold,
        target=target,
        delta=delta,
        n=len(conf),
        n_unknown=n_unknown,
        routed=n_routed,
        errors=errors,
        coverage=float((routed & ~oos).sum() / in_scope_total) if in_scope_total else 0.0,
        precision=1.0 - errors / n_routed if n_routed else None,
        precision_bound=bound,
        unknown_pass=float((routed & oos).sum() / n_unknown) if n_unknown else None,
        max_unknown_share=share,
        start=start,
    )


def _precision_bound(
    routed_in: int,
    errors_in: int,
    routed_unknown: int,
    in_scope_total: int,
    unknown_total: int,
    level: float,
    max_unknown_share: float,
) -> float | None:
    """The worst certified precision over live shares of unknown mail up to the maximum
    (None: no known mail routed). Each of the three bounds holds at ``level``."""
    if routed_in == 0:
        return None
    e = clopper_pearson_upper(errors_in, routed_in, level)  # error rate of routed known mail
    b = clopper_pearson_upper(routed_unknown, unknown_total, level)  # unknown mail let through
    c = 1.0 - clopper_pearson_upper(in_scope_total - routed_in, in_scope_total, level)
    if c <= 0:
        return None
    pi = max_unknown_share  # precision only falls as the unknown share grows
    wrong = (1 - pi) * c * e + pi * b
    routed = (1 - pi) * c + pi * b
    return 1.0 - wrong / routed


def precision_curve(
    confidences: NDArray[np.floating],
    correct: NDArray[np.bool_],
    unknown: NDArray[np.bool_],
    targets: tuple[float, ...] = (0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.995),
    delta: float = 0.1,
    *,
    max_unknown_share: float = 0.0,
) -> list[Certificate]:
    """What each target costs: the certificate (coverage, threshold) for every target."""
    return [
        certify(confidences, correct, unknown, target, delta, max_unknown_share=max_unknown_share)
        for target in targets
    ]


def labels_needed(
    confidences: NDArray[np.floating],
    correct: NDArray[np.bool_],
    target: float,
    delta: float = 0.1,
    *,
    coverage: float = 0.7,
) -> int | None:
    """About how many verified mails in all a certificate of ``target`` at ``coverage``
    would take, if more mail is like the calibration set so far: the error rate of its
    most confident ``coverage`` share, and the smallest calibration set whose routed part
    with that error rate passes the bound. None when that share is not even precise enough
    on the mail so far (more labels would not certify it)."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if len(conf) == 0:
        return None
    order = np.argsort(-conf, kind="stable")
    top = max(1, round(coverage * len(conf)))
    rate = float((~ok[order][:top]).mean())
    alpha = 1.0 - target
    if rate >= alpha:
        return None
    routed = start_count(target, delta)
    while clopper_pearson_upper(round(rate * routed), routed, delta) > alpha:
        routed = int(routed * 1.05) + 1
        if routed > 10_000_000:
            return None
    return math.ceil(routed / coverage)


def unknown_examples_needed(
    confidences: NDArray[np.floating],
    correct: NDArray[np.bool_],
    unknown: NDArray[np.bool_],
    target: float,
    delta: float,
    max_unknown_share: float,
) -> int | None:
    """About how many examples of mail for no team a certificate of ``target`` for up to
    ``max_unknown_share`` of it would take, if the known mail stayed as it is and none of
    the examples were routed: the fewest with which :func:`certify` passes. None when no
    number would do (the known mail alone is not precise enough), or nothing is asked."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    known = ~np.asarray(unknown, dtype=bool)
    if not known.any() or max_unknown_share <= 0:
        return None
    conf_in, ok_in = conf[known], ok[known]

    def passes(n: int) -> bool:
        examples = np.full(n, -1.0)  # below every threshold: none of them is routed
        return certify(
            np.concatenate([conf_in, examples]),
            np.concatenate([ok_in, np.zeros(n, dtype=bool)]),
            np.concatenate([np.zeros(len(conf_in), dtype=bool), np.ones(n, dtype=bool)]),
            target,
            delta,
            max_unknown_share=max_unknown_share,
        ).certified

    high = 1
    while not passes(high):
        high *= 2
        # Not "try the most first": the walk's candidate thresholds are shares of all the
        # calibration mail, so once examples outnumber the known mail they crowd the
        # candidates out and fail them all. Doubling finds the first count that passes;
        # past 131,072 the known mail is the limit (0.7 s on 2,250 known mail, measured).
        if high > 1 << 17:
            return None
    low = high // 2 + 1 if high > 1 else 1
    while low < high:  # the fewest that pass (below the crowding, more examples only help)
        middle = (low + high) // 2
        low, high = (middle + 1, high) if not passes(middle) else (low, middle)
    return high


def unknown_share_bound(no_team: int, decided: int, delta: float = 0.1) -> tuple[float, float]:
    """(estimate, upper bound) of the live share of mail for no team, from what people
    decided: ``no_team`` of ``decided`` live mails were closed as belonging to no team."""
    if decided == 0:
        return 0.0, 1.0
    return no_team / decided, clopper_pearson_upper(no_team, decided, delta)


# Live mail settled before the share of it people closed as "no team" is read at all.
MIN_SETTLED_FOR_SHARE = 200


@dataclass(frozen=True)
class UnknownShareUsed:
    """The share of live mail for no team a certificate holds for, and where it came from.

    ``assumed`` is what the certificate would otherwise rest on: the configured maximum, or
    (none configured) the share of unknown mail in the calibration set itself. When the
    share people closed as "no team" is, with confidence ``1 − delta``, above it, the
    certificate is made for the upper bound of the live share instead (``learned``). When
    the calibration set holds no example of unknown mail it cannot bound how much of it
    passes, whatever the share: ``uncovered`` says so, and the share stays as it was."""

    share: float
    assumed: float
    learned: bool
    uncovered: bool
    no_team: int
    settled: int
    live_estimate: float | None
    live_upper: float | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def unknown_share_to_certify(
    configured: float,
    calibration_unknown: int,
    calibration_size: int,
    no_team: int,
    settled: int,
    delta: float = 0.1,
) -> UnknownShareUsed:
    """Learn the live share of mail for no team from what people closed as such
    (``no_team`` of ``settled`` live mails; a floor, as unknown mail the model routed
    unnoticed is not counted). It replaces the assumption only where it is significantly
    above it (its lower bound exceeds the assumed share), and then by its upper bound."""
    assumed = (
        configured
        if configured > 0
        else (calibration_unknown / calibration_size if calibration_size else 0.0)
    )
    if settled < MIN_SETTLED_FOR_SHARE:
        return UnknownShareUsed(configured, assumed, False, False, no_team, settled, None, None)
    estimate, upper = unknown_share_bound(no_team, settled, delta)
    above = no_team > 0 and clopper_pearson_lower(no_team, settled, delta) > assumed
    learned = above and calibration_unknown > 0
    return UnknownShareUsed(
        share=max(configured, upper) if learned else configured,
        assumed=assumed,
        learned=learned,
        uncovered=above and calibration_unknown == 0,
        no_team=no_team,
        settled=settled,
        live_estimate=estimate,
        live_upper=upper,
    )


# The calibration set a version keeps ------------------------------------------------------

NO_TEAM = -1  # truth: the mail belongs to no team
UNKNOWN_TEAM = -2  # truth: a team the model was not trained on (routing it is always wrong)


@dataclass(frozen=True)
class CalibrationSet:
    """Out-of-sample scores of mail with a trusted answer, kept with a model version so its
    thresholds can be chosen again for another target without training.

    ``confidence`` is what the router compares with a threshold: the calibrated top-1
    probability, or 0 where the out-of-scope detector sends the mail to a person whatever
    its confidence. ``predicted`` and ``truth`` index ``labels`` (``truth`` may be
    :data:`NO_TEAM` or :data:`UNKNOWN_TEAM`). ``source`` says what the answers are:
    ``'verified'`` (the blind random sample) or ``'validation'`` (a carve of the training
    labels, not verified).
    """

    labels: tuple[str, ...]
    confidence: NDArray[np.float64]
    predicted: NDArray[np.int64]
    truth: NDArray[np.int64]
    source: str
    # Replies among the calibration mail whose thread holds an earlier mail with a team:
    # the model's probability of that (the thread's) team, and whether it is the right
    # answer. Thread decisions are certified on these (thresholds_for → follow_floor).
    follow_score: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    follow_correct: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def correct(self) -> NDArray[np.bool_]:
        return np.asarray(self.predicted == self.truth, dtype=bool)

    @property
    def unknown(self) -> NDArray[np.bool_]:
        return np.asarray(self.truth == NO_TEAM, dtype=bool)

    @property
    def predicted_slugs(self) -> list[str]:
        return [self.labels[int(i)] for i in self.predicted]

    def __len__(self) -> int:
        return len(self.confidence)

    @classmethod
    def of(
        cls,
        labels: tuple[str, ...],
        probabilities: NDArray[np.floating],
        out_of_scope: NDArray[np.bool_],
        truth: list[str | None],
        source: str,
    ) -> CalibrationSet:
        """From a router's scores and the answers (a team slug, or None for no team)."""
        probs = np.asarray(probabilities, dtype=np.float64)
        index = {label: i for i, label in enumerate(labels)}
        confidence = np.where(np.asarray(out_of_scope, dtype=bool), 0.0, probs.max(axis=1))
        return cls(
            labels=tuple(labels),
            confidence=np.asarray(confidence, dtype=np.float64),
            predicted=np.asarray(probs.argmax(axis=1), dtype=np.int64),
            truth=np.array(
                [NO_TEAM if t is None else index.get(t, UNKNOWN_TEAM) for t in truth],
                dtype=np.int64,
            ),
            source=source,
        )

    def save(self, path: Path) -> None:
        np.savez(
            path,
            labels=np.array(self.labels, dtype=str),
            confidence=self.confidence,
            predicted=self.predicted,
            truth=self.truth,
            source=np.array(self.source),
            follow_score=self.follow_score,
            follow_correct=self.follow_correct,
        )

    @classmethod
    def load(cls, path: Path) -> CalibrationSet:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                labels=tuple(str(x) for x in data["labels"]),
                confidence=np.asarray(data["confidence"], dtype=np.float64),
                predicted=np.asarray(data["predicted"], dtype=np.int64),
                truth=np.asarray(data["truth"], dtype=np.int64),
                source=str(data["source"]),
                **(
                    {
                        "follow_score": np.asarray(data["follow_score"], dtype=np.float64),
                        "follow_correct": np.asarray(data["follow_correct"], dtype=bool),
                    }
                    if "follow_score" in data
                    else {}
                ),
            )

    def unknown_share_used(
        self, configured: float, no_team: int, settled: int, delta: float = 0.1
    ) -> UnknownShareUsed:
        """The share of mail for no team to certify this set for, given the configured
        maximum and what people closed live (:func:`unknown_share_to_certify`)."""
        return unknown_share_to_certify(
            configured, int(self.unknown.sum()), len(self), no_team, settled, delta
        )

    def unknown_examples_for(
        self, target: float, delta: float, share: float
    ) -> tuple[bool, int | None]:
        """Whether ``target`` holds for up to ``share`` of mail for no team on this set, and
        if not, about how many examples of such mail it would take
        (:func:`unknown_examples_needed`; None: no number would do)."""
        args = (self.confidence, self.correct, self.unknown, target, delta)
        if certify(*args, max_unknown_share=share).certified:
            return True, None
        return False, unknown_examples_needed(*args, share)

    def with_follow_ups(self, scores: Sequence[float], correct: Sequence[bool]) -> CalibrationSet:
        """This set with the evidence for thread decisions (see the fields)."""
        return replace(
            self,
            follow_score=np.asarray(scores, dtype=np.float64),
            follow_correct=np.asarray(correct, dtype=bool),
        )


def thresholds_for(
    calibration: CalibrationSet,
    target: float,
    delta: float = 0.1,
    *,
    max_unknown_share: float = 0.0,
) -> tuple[ThresholdPolicy, Certificate]:
    """The policy (global threshold and per-team raises) a calibration set certifies."""
    cert = certify(
        calibration.confidence,
        calibration.correct,
        calibration.unknown,
        target,
        delta,
        max_unknown_share=max_unknown_share,
    )
    teams = (
        team_corrections(
            calibration.confidence,
            calibration.predicted_slugs,
            calibration.correct,
            cert.threshold,
            target,
            delta,
        )
        if cert.certified
        else {}
    )
    return ThresholdPolicy(
        target, delta, cert.threshold, teams, follow_floor=follow_floor(calibration, target, delta)
    ), cert


def follow_up_scores(
    probabilities: NDArray[np.floating],
    labels: Sequence[str],
    rows: Sequence[tuple[int, str, str | None]],
) -> tuple[list[float], list[bool]]:
    """The evidence for thread decisions: for each (row, thread team, verified team), the
    model's probability of the thread's team as a :class:`Prediction` shows it (top three
    only, else 0) and whether the thread's team is the verified answer."""
    index = {label: i for i, label in enumerate(labels)}
    probs = np.asarray(probabilities, dtype=np.float64)
    scores: list[float] = []
    correct: list[bool] = []
    for row, team, truth in rows:
        column = index.get(team)
        if column is None:
            continue
        top3 = np.argsort(-probs[row], kind="stable")[:3]
        scores.append(float(probs[row, column]) if column in top3 else 0.0)
        correct.append(team == truth)
    return scores, correct


def follow_floor(calibration: CalibrationSet, target: float, delta: float = 0.1) -> float:
    """The least probability of a thread's team at which following the thread keeps the
    target precision, certified like the model's threshold on the verified replies.
    :data:`NEVER` when they cannot certify it (too few, or too many change topic): a
    reply then follows its thread only where the model is sure of that team anyway. 0 for
    a set that is not the verified sample (a validation carve certifies nothing: replies
    follow their thread as they did before there was a certificate)."""
    if calibration.source != "verified":
        return 0.0
    no_unknown = np.zeros(len(calibration.follow_score), dtype=bool)
    return certify(
        calibration.follow_score, calibration.follow_correct, no_unknown, target, delta
    ).threshold
