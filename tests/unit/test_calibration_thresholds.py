"""Calibration and threshold selection: pure functions checked against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classifier.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_curve,
    softmax,
)
from classifier.thresholds import (
    NEVER,
    ThresholdPolicy,
    clopper_pearson_lower,
    clopper_pearson_upper,
    coverage_precision_curve,
    evaluate_policy,
    min_selected,
    select_global_threshold,
    select_thresholds,
)


def test_softmax_rows_sum_to_one_and_temperature_softens() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [1000.0, 0.0, 0.0]])
    p1 = softmax(logits)
    p2 = softmax(logits, temperature=2.0)
    assert np.allclose(p1.sum(axis=1), 1.0)
    assert p2[0].max() < p1[0].max()
    assert p1[1, 0] == pytest.approx(1.0)  # no overflow on large logits


def test_fit_temperature_recovers_a_known_over_confidence() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2.0
    labels = np.array([rng.choice(5, p=p) for p in softmax(true_logits)])
    over_confident = true_logits * 3.0  # the model is three times too sure
    temperature = fit_temperature(over_confident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert negative_log_likelihood(over_confident, labels, temperature) < negative_log_likelihood(
        over_confident, labels
    )


def test_ece_is_zero_when_confidence_equals_accuracy() -> None:
    conf = np.full(100, 0.8)
    correct = np.array([True] * 80 + [False] * 20)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(100, 1.0), correct) == pytest.approx(0.2)
    assert reliability_curve(conf, correct) == [(pytest.approx(0.8), pytest.approx(0.8), 100)]


def test_clopper_pearson_known_values() -> None:
    # Zero errors: the upper bound is 1 - delta ** (1 / n).
    assert clopper_pearson_upper(0, 114, 0.1) == pytest.approx(1 - 0.1 ** (1 / 114))
    assert clopper_pearson_upper(0, 114, 0.1) <= 0.02 < clopper_pearson_upper(0, 113, 0.1)
    assert min_selected(0.98, 0.1) == 114
    assert clopper_pearson_upper(5, 5, 0.1) == 1.0
    assert clopper_pearson_lower(0, 50, 0.1) == 0.0
    # n errors out of n: the lower bound is delta ** (1 / n).
    assert clopper_pearson_lower(10, 10, 0.1) == pytest.approx(0.1 ** (1 / 10))


def test_global_threshold_stops_before_the_errors() -> None:
    correct_conf = np.linspace(0.99, 0.70, 300)
    wrong_conf = np.full(30, 0.60)
    conf = np.concatenate([correct_conf, wrong_conf])
    correct = np.array([True] * 300 + [False] * 30)
    threshold = select_global_threshold(conf, correct, target_precision=0.98, delta=0.1)
    assert threshold == pytest.approx(0.70)


def test_global_threshold_is_never_with_too_little_data() -> None:
    conf = np.linspace(0.99, 0.9, 50)  # 50 < 114: no bound can reach 2 % error
    assert select_global_threshold(conf, np.ones(50, bool), 0.98) == NEVER


def test_scattered_errors_push_the_threshold_up() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 2000)
    # Errors become likelier at low confidence: P(wrong) = 1 - conf.
    correct = rng.uniform(size=2000) < conf
    policy = select_thresholds(conf, ["a"] * 2000, correct, target_precision=0.95)
    precision, coverage = evaluate_policy(policy, conf, ["a"] * 2000, correct)
    assert precision >= 0.95
    assert 0.0 < coverage < 0.5
    assert policy.global_threshold > 0.85


def test_a_team_that_errs_gets_a_higher_threshold_of_its_own() -> None:
    n = 400
    conf = np.concatenate([np.linspace(0.99, 0.8, n), np.linspace(0.99, 0.8, n)])
    teams = ["good"] * n + ["bad"] * n
    # The bad team is wrong on every fourth mail below 0.9.
    bad_correct = [not (c < 0.9 and i % 4 == 0) for i, c in enumerate(np.linspace(0.99, 0.8, n))]
    correct = np.array([True] * n + bad_correct)
    policy = select_thresholds(conf, teams, correct, target_precision=0.95, delta=0.1)
    assert "good" not in policy.team_thresholds
    assert policy.threshold_for("bad") > policy.global_threshold
    assert policy.threshold_for("good") == policy.global_threshold <= 0.87
    # The raised threshold gives the bad team on its own the target precision.
    bad = slice(n, 2 * n)
    bad_precision, _ = evaluate_policy(policy, conf[bad], teams[bad], correct[bad])
    assert bad_precision >= 0.95
    precision, _ = evaluate_policy(policy, conf, teams, correct)
    assert precision >= 0.95


def test_policy_json_round_trip_keeps_never() -> None:
    policy = ThresholdPolicy(0.98, 0.1, 0.91, {"klachten": NEVER, "schade": 0.95})
    again = ThresholdPolicy.from_json(policy.to_json())
    assert again == policy
    assert not again.auto_routes("klachten", 0.9999)
    assert again.auto_routes("schade", 0.96)
    assert not again.auto_routes("algemeen", 0.90)
    assert math.isinf(again.threshold_for("klachten"))


def test_coverage_precision_curve_runs_from_sure_to_all() -> None:
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, False, True])
    curve = coverage_precision_curve(conf, correct, points=4)
    assert curve[0] == (0.9, 0.25, 1.0)
    assert curve[-1] == (0.6, 1.0, 0.75)
