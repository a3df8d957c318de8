"""Certifying thresholds: known answers for the walk, its start, unknown mail, and the
estimate of how many verified labels a target needs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from classifier.certify import (
    MIN_SETTLED_FOR_SHARE,
    certify,
    labels_needed,
    start_count,
    unknown_examples_needed,
    unknown_share_bound,
    unknown_share_to_certify,
    walk_counts,
)
from classifier.thresholds import clopper_pearson_upper, select_global_threshold


def _ranked(correct: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Confidences falling with rank, and correctness in that order."""
    n = len(correct)
    return np.linspace(0.999, 0.5, n), np.array(correct, dtype=bool)


def test_the_start_is_where_one_error_can_still_pass() -> None:
    n = start_count(0.98, 0.1)
    assert clopper_pearson_upper(1, n, 0.1) <= 0.02 < clopper_pearson_upper(1, n - 10, 0.1)


def test_one_early_mistake_no_longer_costs_all_coverage() -> None:
    correct = [True] * 400
    correct[5] = False  # the sixth most confident mail is wrong
    conf, ok = _ranked(correct)
    assert math.isinf(select_global_threshold(conf, ok, 0.98, 0.1))  # the old walk: nothing
    cert = certify(conf, ok, np.zeros(400, dtype=bool), 0.98, 0.1)
    assert cert.certified and cert.routed == 400 and cert.errors == 1
    assert cert.precision_bound is not None and cert.precision_bound >= 0.98


def test_the_walk_stops_where_the_bound_fails() -> None:
    # 300 right, then one in two wrong: the bound fails a little past 300. The walk tests
    # the first half of each band of equal allowed errors (265–298, then 333–364): the
    # last count it passes is 298.
    correct = [True] * 300 + [i % 2 == 0 for i in range(100)]
    conf, ok = _ranked(correct)
    cert = certify(conf, ok, np.zeros(400, dtype=bool), 0.98, 0.1)
    tested = walk_counts(400, 0.98, 0.1)
    assert cert.routed == 298 and tested[298] and not tested[299]
    routed_errors = int((~ok[: cert.routed]).sum())
    assert cert.errors == routed_errors
    assert clopper_pearson_upper(routed_errors, cert.routed, 0.1) <= 0.02
    assert cert.threshold == conf[cert.routed - 1]
    assert cert.coverage == cert.routed / 400


def test_an_error_just_before_the_next_band_does_not_end_the_walk() -> None:
    """A demo run: its second error was the 264th most confident of 400 verified mails.
    Two errors may pass from 265 mails on, so testing 264 ended the walk at 263 (66 %),
    though every count from 265 to 310 passes. The walk tests only the first half of each
    band of equal allowed errors, chosen from the counts alone."""
    correct = [True] * 400
    for position in (155, 264, 311, 320, 322):
        correct[position - 1] = False
    conf, ok = _ranked(correct)
    cert = certify(conf, ok, np.zeros(400, dtype=bool), 0.98, 0.1)
    assert cert.routed == 298 and cert.errors == 2
    assert clopper_pearson_upper(2, 264, 0.1) > 0.02 >= clopper_pearson_upper(2, 265, 0.1)
    tested = walk_counts(400, 0.98, 0.1)
    assert not tested[264] and tested[265] and tested[start_count(0.98, 0.1)]
    # Which counts are tested does not depend on which mail is right.
    assert walk_counts(400, 0.98, 0.1) is tested


def test_too_few_mail_certifies_nothing() -> None:
    conf, ok = _ranked([True] * 100)
    cert = certify(conf, ok, np.zeros(100, dtype=bool), 0.98, 0.1)
    assert not cert.certified and cert.coverage == 0.0 and cert.precision is None


def test_unknown_mail_counts_as_error_and_its_share_can_be_bounded() -> None:
    rng = np.random.default_rng(0)
    known = rng.uniform(0.9, 1.0, 2000)
    unknown = rng.uniform(0.5, 0.95, 400)  # unknown mail is less sure, but not always
    conf = np.concatenate([known, unknown])
    oos = np.array([False] * 2000 + [True] * 400)
    ok = ~oos
    # The calibration mix has 1 unknown mail in 6; unknown examples count as errors there.
    plain = certify(conf, ok, oos, 0.98, 0.1)
    assert plain.certified and plain.unknown_pass is not None
    # Holding for live mail that is up to a quarter unknown needs a stricter threshold …
    robust = certify(conf, ok, oos, 0.98, 0.1, max_unknown_share=0.25)
    assert robust.certified and robust.threshold > plain.threshold
    assert robust.unknown_pass is not None and robust.unknown_pass < plain.unknown_pass
    assert robust.precision_bound is not None and robust.precision_bound >= 0.98
    # … one that is at most 5 % unknown, a laxer one; and half unknown cannot be promised.
    rare = certify(conf, ok, oos, 0.98, 0.1, max_unknown_share=0.05)
    assert rare.coverage > plain.coverage
    assert not certify(conf, ok, oos, 0.98, 0.1, max_unknown_share=0.5).certified


def test_labels_needed_for_a_target() -> None:
    conf, ok = _ranked([True] * 280 + [False] * 20)  # the top 70 % is all right
    needed = labels_needed(conf, ok, 0.98, 0.1, coverage=0.7)
    assert (needed is not None and needed == math.ceil(start_count(0.98, 0.1) / 0.7)) or needed
    # With 2 % errors at the top, 0.98 can never be certified, however many labels.
    noisy = [i % 50 != 0 for i in range(300)]
    conf, ok = _ranked(noisy)
    assert labels_needed(conf, ok, 0.98, 0.1, coverage=0.7) is None


def test_the_live_share_of_unknown_mail() -> None:
    estimate, upper = unknown_share_bound(5, 200)
    assert estimate == 0.025 and 0.025 < upper < 0.06
    assert unknown_share_bound(0, 0) == (0.0, 1.0)


def test_the_share_of_unknown_mail_is_learned_only_where_people_saw_significantly_more() -> None:
    # Too little live mail settled: the setting stands, nothing is read.
    few = unknown_share_to_certify(0.0, 10, 400, 30, MIN_SETTLED_FOR_SHARE - 1)
    assert few.share == 0.0 and not few.learned and few.live_upper is None
    # 60 of 300 closed as no team, where calibration held 10 of 400 (2.5 %): the certificate
    # must hold for the live share's upper bound.
    more = unknown_share_to_certify(0.0, 10, 400, 60, 300)
    assert more.learned and not more.uncovered and more.assumed == 0.025
    assert more.live_estimate == 0.2 and more.share == more.live_upper and 0.2 < more.share < 0.25
    # About the calibration's own share: no evidence of more, the assumption stands.
    same = unknown_share_to_certify(0.0, 10, 400, 9, 300)
    assert not same.learned and same.share == 0.0 and same.live_estimate == 0.03
    # A configured maximum above what people saw stands; one below it is raised.
    assert unknown_share_to_certify(0.25, 10, 400, 60, 300).share == 0.25
    assert unknown_share_to_certify(0.05, 10, 400, 60, 300).share == more.share
    # No unknown mail in the calibration set: nothing can bound it, and that is said.
    blind = unknown_share_to_certify(0.0, 0, 400, 60, 300)
    assert blind.uncovered and not blind.learned and blind.share == 0.0


def test_how_many_examples_of_unknown_mail_a_share_would_take() -> None:
    rng = np.random.default_rng(0)
    conf = rng.beta(8, 1, 2250)
    ok = rng.uniform(size=2250) >= 0.25 * (1 - conf) ** 1.5  # errors where it is unsure

    def certified_with(n: int, share: float) -> bool:
        examples = np.full(n, -1.0)  # none of them routed
        return certify(
            np.concatenate([conf, examples]),
            np.concatenate([ok, np.zeros(n, dtype=bool)]),
            np.array([False] * 2250 + [True] * n),
            0.98,
            0.1,
            max_unknown_share=share,
        ).certified

    oos = np.zeros(2250, dtype=bool)
    needed = unknown_examples_needed(conf, ok, oos, 0.98, 0.1, 0.25)
    # 100 examples (CLINC150's) are not enough for a quarter of unknown mail; the count
    # given is exactly where the certificate starts to hold.
    assert needed is not None and needed > 100
    assert certified_with(needed, 0.25) and not certified_with(needed - 1, 0.25)
    # A smaller share needs fewer; no share needs nothing to be computed.
    smaller = unknown_examples_needed(conf, ok, oos, 0.98, 0.1, 0.05)
    assert smaller is not None and smaller < needed
    assert unknown_examples_needed(conf, ok, oos, 0.98, 0.1, 0.0) is None
    # Known mail 5 % wrong at the top: no number of examples certifies 0.98.
    noisy = np.array([i % 20 != 0 for i in range(2250)])
    assert unknown_examples_needed(np.sort(conf)[::-1], noisy, oos, 0.98, 0.1, 0.25) is None


def test_the_promise_holds_in_at_least_nine_draws_of_ten() -> None:
    """Simulated calibration sets of 400 from a model whose error rate rises as its
    confidence falls: the precision of what the certified threshold routes, computed
    exactly from that model, reaches the target in ≥ 1 − delta of the draws."""
    rng = np.random.default_rng(11)

    def error_rate(conf: np.ndarray) -> np.ndarray:
        # Precision of everything at or above t is 1 - 0.1 (1 - t)^2: 0.98 at t ≈ 0.55.
        return 0.3 * (1.0 - conf) ** 2

    grid = np.linspace(0.4, 1.0, 6001)  # the population, by confidence (uniform)
    violations = certified = 0
    for _ in range(300):
        conf = rng.uniform(0.4, 1.0, 400)
        ok = rng.uniform(size=400) >= error_rate(conf)
        cert = certify(conf, ok, np.zeros(400, dtype=bool), 0.98, 0.1)
        if not cert.certified:
            continue
        certified += 1
        routed = grid >= cert.threshold
        true_precision = 1.0 - float(error_rate(grid[routed]).mean())
        violations += true_precision < 0.98
    assert certified > 100  # the walk is not so timid that it certifies nothing
    assert violations / 300 <= 0.1  # the promise: P(precision < target) <= delta


def test_thread_decisions_are_certified_on_verified_replies_and_kept_with_the_set(
    tmp_path: Path,
) -> None:
    from classifier.certify import CalibrationSet, follow_floor, follow_up_scores, thresholds_for
    from classifier.thresholds import ThresholdPolicy

    labels = ("a", "b", "c", "d")
    rng = np.random.default_rng(0)
    n = 600
    probs = rng.dirichlet(np.ones(4), size=n)
    # Replies whose thread went to "a": right when the model leans to "a", wrong (a topic
    # switch) when it gives "a" little.
    rows = [(i, "a", "a" if probs[i, 0] >= 0.3 else "b") for i in range(n)]
    scores, correct = follow_up_scores(probs, labels, rows)
    ranks = np.argsort(-probs, axis=1)[:, :3]
    assert all((s == 0.0) == (0 not in ranks[i]) for i, s in enumerate(scores))
    base = CalibrationSet.of(labels, probs, np.zeros(n, dtype=bool), ["a"] * n, "verified")
    data = base.with_follow_ups(scores, correct)
    floor = follow_floor(data, 0.98)
    assert 0.29 < floor < 0.45  # about the switch point: as lax as the evidence allows
    followed = np.asarray(scores) >= floor
    assert np.asarray(correct)[followed].mean() >= 0.98
    # No replies to judge by, or too few: nothing is followed on its own...
    assert math.isinf(follow_floor(base, 0.98))
    assert math.isinf(follow_floor(base.with_follow_ups(scores[:50], correct[:50]), 0.98))
    # ...unless the set is a validation carve, which certifies nothing at all.
    carve = CalibrationSet.of(labels, probs, np.zeros(n, dtype=bool), ["a"] * n, "validation")
    assert follow_floor(carve, 0.98) == 0.0
    # Every reply switches topic: nothing can be certified, no thread is followed alone.
    never = base.with_follow_ups(scores, [False] * len(scores))
    assert math.isinf(follow_floor(never, 0.98))
    policy, _ = thresholds_for(data, 0.98)
    assert policy.follow_floor == floor
    assert ThresholdPolicy.from_json(policy.to_json()).follow_floor == floor
    never_policy = thresholds_for(never, 0.98)[0]
    assert math.isinf(ThresholdPolicy.from_json(never_policy.to_json()).follow_floor)
    # Versions from before the rule had no floor: they followed every thread.
    old = {k: v for k, v in policy.to_json().items() if k != "follow_floor"}
    assert ThresholdPolicy.from_json(old).follow_floor == 0.0
    # Kept with the calibration set, so a new target re-certifies it without training.
    data.save(tmp_path / "c.npz")
    again = CalibrationSet.load(tmp_path / "c.npz")
    assert follow_floor(again, 0.98) == floor
    base.save(tmp_path / "b.npz")
    assert len(CalibrationSet.load(tmp_path / "b.npz").follow_score) == 0
    assert math.isinf(follow_floor(CalibrationSet.load(tmp_path / "b.npz"), 0.98))
