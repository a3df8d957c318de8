"""Routing decisions, the model registry round trip, the promotion gate and rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier.arguments import PipelineArguments
from classifier.calibration import expected_calibration_error
from classifier.cases import CaseOdds, fit_case_head, fit_case_odds
from classifier.evaluation import evaluate
from classifier.recipe import (
    _thresholds,
    choose_oos_cutoff,
    coverage_at,
    fit_blend,
    routing_risk,
    split_validation,
    train_pipeline,
)
from classifier.registry import Registry, VersionInfo, promotion_gate
from classifier.router import Components, Router
from classifier.scoring import (
    calibrate_top_label,
    centroid_similarity,
    centroids,
    combine,
    decide,
    oos_cutoff,
    with_case,
)
from classifier.thresholds import NEVER, ThresholdPolicy
from labeling.errors import ModelError

POLICY = ThresholdPolicy(0.98, 0.1, 0.9, {"klachten": NEVER})
LABELS = ("klachten", "opzeggingen", "schade")


def test_decide_routes_only_confident_known_in_scope_mail() -> None:
    sure = np.array([0.02, 0.03, 0.95])
    assert decide(sure, LABELS, POLICY, model_version="v1").reason == "confident"
    unsure = np.array([0.3, 0.3, 0.4])
    pred = decide(unsure, LABELS, POLICY, model_version="v1")
    assert (pred.auto, pred.reason) == (False, "below-threshold")
    assert pred.top[0] == ("schade", pytest.approx(0.4))
    assert pred.margin == pytest.approx(0.1)
    oos = decide(sure, LABELS, POLICY, model_version="v1", out_of_scope=True)
    assert (oos.auto, oos.reason) == (False, "out-of-scope")
    archived = decide(sure, LABELS, POLICY, model_version="v1", known_teams={"klachten"})
    assert (archived.auto, archived.reason) == (False, "unknown-team")
    never = decide(np.array([0.999, 0.0005, 0.0005]), LABELS, POLICY, model_version="v1")
    assert never.reason == "below-threshold"


def test_combine_weight_zero_is_the_tfidf_model_alone() -> None:
    tfidf = np.array([[0.7, 0.2, 0.1]])
    logits = np.array([[0.0, 5.0, 0.0]])
    np.testing.assert_allclose(combine(logits, tfidf, 0.0, 1.0), tfidf)
    assert combine(logits, tfidf, 1.0, 1.0).argmax() == 1


def test_centroid_similarity_flags_the_unlike() -> None:
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cents = centroids(emb, ["a", "a", "b"], ["a", "b"])
    far = np.array([[-1.0, 0.0]], dtype=np.float32)
    sims = centroid_similarity(np.vstack([emb, far]), cents)
    cutoff = oos_cutoff(sims[:3], 0.0)
    assert sims[3] < cutoff <= sims[:3].min()


def test_oos_cutoff_is_chosen_with_out_of_scope_examples_counted_as_errors() -> None:
    # 400 in-scope validation mails, all right and sure, similarity spread over 0.5..0.9;
    # 40 out-of-scope mails the classifier is just as sure of, all at similarity 0.51.
    n = 400
    val_probs = np.tile([0.99, 0.005, 0.005], (n, 1))
    correct = np.ones(n, dtype=bool)
    val_sims = np.linspace(0.5, 0.9, n)
    oos_probs = np.tile([0.99, 0.005, 0.005], (40, 1))
    oos_sims = np.full(40, 0.51)
    args = PipelineArguments()
    policy, cutoff, note = choose_oos_cutoff(
        val_probs, correct, val_sims, oos_probs, oos_sims, LABELS, args
    )
    # Cutoffs at the 0, 1 and 2 % quantiles (≤ 0.508) let the 40 through: 40 errors in
    # 440 fail the bound and nothing is routed. The 3 % quantile (0.512) is the lowest that
    # catches them all, and it keeps the most in-scope mail routable.
    assert cutoff == pytest.approx(np.quantile(val_sims, 0.03))
    assert policy.global_threshold <= 0.99
    assert "100% of them below it" in note
    # Without a cutoff the same data could route nothing.
    policy_none, _, _ = choose_oos_cutoff(
        val_probs, correct, val_sims, oos_probs, np.full(40, 0.95), LABELS, args
    )
    assert policy_none.global_threshold == NEVER


def test_thresholds_hold_for_a_larger_share_of_unknown_mail_only_when_asked() -> None:
    # 2,000 in-scope validation mails, right and sure; 100 out-of-scope examples, 3 of which
    # the classifier is as sure of as of the in-scope mail. In the calibration's own mix
    # (100 in 2,100) three errors pass a 0.98 bound; if unknown mail may be a quarter of the
    # live mail, 3 % of it passing is a 1 % error share on its own, and the upper bound on
    # that share fails the target: no threshold can be certified.
    n = 2000
    val_probs = np.tile([0.99, 0.005, 0.005], (n, 1))
    correct = np.ones(n, dtype=bool)
    oos_probs = np.vstack(
        [np.tile([0.99, 0.005, 0.005], (3, 1)), np.tile([0.4, 0.3, 0.3], (97, 1))]
    )
    lenient = _thresholds(val_probs, LABELS, correct, PipelineArguments(), oos_probs=oos_probs)
    assert lenient.global_threshold == pytest.approx(0.99)
    strict = _thresholds(
        val_probs,
        LABELS,
        correct,
        PipelineArguments(max_unknown_share=0.25),
        oos_probs=oos_probs,
    )
    assert strict.global_threshold == NEVER


def test_precision_at_unknown_share_reweights_out_of_scope_mail() -> None:
    # 8 in-scope mails, 6 routed of which 1 wrong; 4 out-of-scope, 1 routed.
    labels = ("a", "b")
    y_true = ["a"] * 8 + ["oos"] * 4
    probs = np.array(
        [[0.99, 0.01]] * 5 + [[0.01, 0.99]] + [[0.6, 0.4]] * 2 + [[0.99, 0.01]] + [[0.6, 0.4]] * 3
    )
    policy = ThresholdPolicy(0.9, 0.1, 0.9, {})
    result = evaluate("m", labels, y_true, probs, policy=policy, oos_label="oos")
    c, e, b = 6 / 8, 1 / 6, 1 / 4
    for share in (0.0, 0.25, 0.5):
        expected = 1 - ((1 - share) * c * e + share * b) / ((1 - share) * c + share * b)
        assert result.precision_at_unknown_share(share) == pytest.approx(expected)
    # At the set's own share (4 of 12) it is the plain precision of what was routed.
    assert result.precision_at_unknown_share(4 / 12) == pytest.approx(5 / 7)
    assert (
        evaluate("m", labels, ["a"] * 12, probs, policy=policy).precision_at_unknown_share(0.1)
        is None
    )


def test_split_validation_is_stratified_and_keeps_singletons_in_training() -> None:
    texts = [f"t{i}" for i in range(41)]
    labels = ["a"] * 20 + ["b"] * 20 + ["lonely"]
    tr_x, tr_y, va_x, va_y = split_validation(texts, labels, 0.25, seed=0)
    assert sorted(va_y) == ["a"] * 5 + ["b"] * 5
    assert "lonely" in tr_y and "lonely" not in va_y
    assert sorted(tr_x + va_x) == sorted(texts)


def test_mean_pooling_is_sure_only_where_both_members_lean_the_same_way() -> None:
    # The TF-IDF model is sure from a few training mails; the transformer doubts.
    tfidf = np.array([[0.92, 0.05, 0.03], [0.96, 0.02, 0.02]])
    logits = np.log(np.array([[0.35, 0.33, 0.32], [0.96, 0.02, 0.02]]))
    product = combine(logits, tfidf, 0.5, 1.0, "product")
    mean = combine(logits, tfidf, 0.5, 1.0, "mean")
    np.testing.assert_allclose(mean, 0.5 * np.exp(logits) + 0.5 * tfidf)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0)
    assert mean[0].max() < 0.64 < product[0].max()  # doubt pulls the mean down
    assert mean[1].max() == pytest.approx(0.96)  # agreement keeps it
    # A member alone is the same under both poolings.
    for weight in (0.0, 1.0):
        np.testing.assert_allclose(
            combine(logits, tfidf, weight, 0.7, "mean"),
            combine(logits, tfidf, weight, 0.7, "product"),
        )
    with pytest.raises(ValueError, match="unknown pooling"):
        combine(logits, tfidf, 0.5, 1.0, "median")  # type: ignore[arg-type]


def test_routing_risk_is_low_when_the_mistakes_are_the_least_confident() -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    assert routing_risk(confidence, np.array([True, True, True, False])) == pytest.approx(0.25 / 4)
    assert routing_risk(confidence, np.array([False, True, True, True])) == pytest.approx(
        (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4
    )


def _member(rng: np.random.Generator, y: np.ndarray, accuracy: float) -> np.ndarray:
    """Probabilities of a member right on ``accuracy`` of the mail, wrong ones as confident
    as right ones (0.5-0.95 on its pick)."""
    n = len(y)
    pick = np.where(rng.random(n) < accuracy, y, (y + rng.integers(1, 3, n)) % 3)
    top = rng.uniform(0.5, 0.95, n)
    probs = np.repeat(((1 - top) / 2)[:, None], 3, axis=1)
    probs[np.arange(n), pick] = top
    return probs


def test_fit_blend_keeps_equal_weights_unless_validation_shows_better() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    gold = [LABELS[i] for i in y]
    tfidf = _member(rng, y, 0.85)
    # Two members alike: equal weights, the mean of their probabilities.
    logits = np.log(_member(rng, y, 0.85))
    blend = fit_blend(LABELS, gold, logits, tfidf, True)
    assert (blend.weight, blend.temperature, blend.pooling) == (0.5, 1.0, "mean")
    # A transformer wrong half the time, as sure of it: the blend leans to TF-IDF.
    blend = fit_blend(LABELS, gold, np.log(_member(rng, y, 0.5)), tfidf, True)
    assert blend.pooling == "mean" and blend.temperature == 1.0 and blend.weight < 0.5
    # One member alone: product pooling with a fitted temperature, nothing else.
    alone = fit_blend(LABELS, gold, None, tfidf, True)
    assert (alone.weight, alone.pooling, alone.top_label) == (0.0, "product", None)
    assert alone.temperature != 1.0
    assert fit_blend(LABELS, gold, logits, tfidf, False)[::2] == (1.0, "product")


def test_the_product_is_chosen_only_where_it_ranks_clearly_better_for_routing() -> None:
    rng = np.random.default_rng(4)
    n = 600
    y = rng.integers(0, 3, n)
    gold = [LABELS[i] for i in y]

    def sure(p: float, rows: np.ndarray, pick: np.ndarray) -> np.ndarray:
        out = np.full((len(rows), 3), (1 - p) / 2)
        out[np.arange(len(rows)), pick] = p
        return out

    # Both members sure and right; one member sure and right where the other knows nothing
    # (uniform), each in turn; both lukewarm on the same team, right four times in five.
    # Every mean, whatever its weight, ranks one of the one-member groups below the lukewarm
    # mail; the product ranks both above it.
    group = np.arange(n) % 10
    both, t_alone, f_alone = group < 2, (group >= 2) & (group < 5), (group >= 5) & (group < 8)
    lukewarm = group >= 8
    pick = np.where(lukewarm & (rng.random(n) < 0.2), (y + 1) % 3, y)
    transformer = np.zeros((n, 3))
    tfidf = np.zeros((n, 3))
    for rows, pt, pf in (
        (both, 0.95, 0.95),
        (t_alone, 0.97, None),
        (f_alone, None, 0.97),
        (lukewarm, 0.7, 0.7),
    ):
        idx = np.flatnonzero(rows)
        transformer[idx] = sure(pt, idx, pick[idx]) if pt is not None else 1 / 3
        tfidf[idx] = sure(pf, idx, pick[idx]) if pf is not None else 1 / 3
    blend = fit_blend(LABELS, gold, np.log(transformer), tfidf, True)
    assert (blend.pooling, blend.top_label) == ("product", None) and blend.temperature != 1.0
    routed = combine(np.log(transformer), tfidf, blend.weight, blend.temperature, "product")
    assert coverage_at(routed.max(axis=1), routed.argmax(axis=1) == y, 0.98) > 0.75
    mean = combine(np.log(transformer), tfidf, 0.5, 1.0, "mean")
    assert coverage_at(mean.max(axis=1), mean.argmax(axis=1) == y, 0.98) < 0.5
    # Where the two route alike, the mean stays (the safe default).
    alike = np.log(np.where(both[:, None], transformer, tfidf + 1e-3))
    assert fit_blend(LABELS, gold, alike, tfidf, True).pooling == "mean"


def test_top_label_calibration_makes_the_mean_honest_and_keeps_its_order() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 600)
    gold = [LABELS[i] for i in y]
    tfidf = _member(rng, y, 0.9)
    logits = np.log(_member(rng, y, 0.9))
    blend = fit_blend(LABELS, gold, logits, tfidf, True)
    assert blend.top_label is not None and blend.top_label[0] > 0
    raw = combine(logits, tfidf, blend.weight, 1.0, "mean")
    calibrated = combine(logits, tfidf, blend.weight, 1.0, "mean", blend.top_label)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert (calibrated.argmax(axis=1) == raw.argmax(axis=1)).all()
    # The order of the mail by confidence is the order before: certificates are unchanged.
    sure = raw.max(axis=1) > 0.5
    order = np.argsort(raw.max(axis=1)[sure], kind="stable")
    assert (np.diff(calibrated.max(axis=1)[sure][order]) >= -1e-12).all()
    right = raw.argmax(axis=1) == y
    before = expected_calibration_error(raw.max(axis=1), right)
    after = expected_calibration_error(calibrated.max(axis=1), right)
    assert after < before / 2
    # Where the map would push the top team under the runner-up, it stays just above it.
    low = calibrate_top_label(np.array([[0.40, 0.35, 0.25]]), (1.0, -3.0))
    assert low.argmax() == 0 and low[0, 0] < 0.40 and low.sum() == pytest.approx(1.0)
    assert calibrate_top_label(raw, None) is raw


def _toy() -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    words = {
        "schade": ["aanrijding", "waterschade", "storm", "diefstal", "lekkage", "deuk"],
        "opzeggingen": ["opzeggen", "beëindigen", "stoppen", "einde", "opzegging", "afmelden"],
        "klachten": ["klacht", "ontevreden", "boos", "slecht", "teleurgesteld", "onbeschoft"],
    }
    texts, labels = [], []
    for team, vocab in words.items():
        for _ in range(40):
            texts.append(" ".join(rng.choice(vocab, size=4)) + " polis")
            labels.append(team)
    return texts, labels


def _save_tfidf(
    registry: Registry,
    components: Components,
    *,
    metrics: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    model_card: str = "# card\n",
) -> VersionInfo:
    """Save a TF-IDF-only version (no encoder to freeze or quantise)."""
    return registry.save(
        components,
        kind="tfidf",
        base_model="tfidf",
        base_fingerprint=None,
        frozen=set(),
        float_model=None,
        metrics=metrics or {},
        facts=facts or {},
        model_card=model_card,
    )


def test_tfidf_version_round_trips_through_the_registry(tmp_path: Path) -> None:
    texts, labels = _toy()
    args = PipelineArguments(min_examples_for_transformer=10_000, target_precision=0.9)
    trained = train_pipeline(texts, labels, args, cache_dir=tmp_path / "cache", progress=False)
    assert trained.kind == "tfidf"
    assert any("TF-IDF model serves alone" in note for note in trained.notes)
    registry = Registry(tmp_path / "models")
    info = _save_tfidf(
        registry,
        trained.components,
        metrics={"holdout": {"macro_f1": 1.0, "accuracy": 1.0}},
        facts={"dataset_hash": "abc"},
        model_card="# card\n",
    )
    assert info.version == "v0001" and info.status == "candidate"
    assert not list((tmp_path / "models").glob(".*tmp"))
    # Owner only (it learnt from mail), and no pickle to load.
    for path in [tmp_path / "models", *info.path.rglob("*"), info.path]:
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    assert (info.path / "tfidf.npz").exists() and not list(info.path.glob("*.pkl"))
    router = Router.load(info.path, tmp_path / "cache")
    probe = ["mijn auto heeft een deuk na een aanrijding", "ik wil opzeggen"]
    np.testing.assert_allclose(
        router.scores(probe).probabilities, trained.router.scores(probe).probabilities
    )
    assert [p.team for p in router.predict(probe)] == ["schade", "opzeggingen"]
    # The manifest says how the members are pooled; a version saved before it said so
    # pooled by product, and a pooling no code knows is refused.
    manifest_path = info.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["pooling"] == "product" and manifest["top_label_calibration"] is None
    manifest["top_label_calibration"] = [-1.0, 0.0]  # decreasing: would reverse the order
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="bad top_label_calibration"):
        Router.load(info.path, tmp_path / "cache")
    manifest["top_label_calibration"] = [1.5, -0.2]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert Router.load(info.path, tmp_path / "cache").c.top_label == (1.5, -0.2)
    del manifest["top_label_calibration"]
    del manifest["pooling"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert Router.load(info.path, tmp_path / "cache").c.pooling == "product"
    manifest["pooling"] = "median"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="unknown pooling 'median'"):
        Router.load(info.path, tmp_path / "cache")
    # A version that weighs customers' cases says how strongly; one without weighs none.
    manifest["pooling"] = "product"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert manifest["case_odds"] is None
    plain = Router.load(info.path, tmp_path / "cache").predict(probe, case_teams=["schade", None])
    assert plain[0].case_team is None
    manifest["case_odds"] = [3.5, 0.0]  # one odds ratio for every case: e^3.5
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    weighing = Router.load(info.path, tmp_path / "cache")
    vague = ["graag een reactie op mijn eerdere mail", "graag een reactie op mijn eerdere mail"]
    alone, with_its_case = weighing.predict(vague, case_teams=[None, "opzeggingen"])
    assert alone.case_team is None and with_its_case.case_team == "opzeggingen"
    assert with_its_case.probability_of("opzeggingen") > alone.probability_of("opzeggingen")
    assert with_its_case.team == "opzeggingen"
    # A team the version does not know is no case to weigh.
    assert weighing.predict(vague[:1], case_teams=["onbekend"])[0].case_team is None
    # Odds that depend on the text need their head.
    manifest["case_odds"] = [3.5, 1.0]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match=r"case_head\.npz, which is missing"):
        Router.load(info.path, tmp_path / "cache")
    for bad in ([0.5], "veel", [True, 0.0], [-1.0, 0.0]):
        manifest["case_odds"] = bad
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        with pytest.raises(ModelError, match="bad case_odds"):
            Router.load(info.path, tmp_path / "cache")
    # A reply's thread is weighed the same way, by odds of its own.
    manifest["case_odds"] = None
    manifest["thread_odds"] = [3.5, 0.0]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    threads = Router.load(info.path, tmp_path / "cache")
    assert threads.c.case_odds is None
    alone, in_its_thread = threads.predict(vague, thread_teams=[None, "opzeggingen"])
    assert alone.thread_team is None and in_its_thread.thread_team == "opzeggingen"
    assert in_its_thread.team == "opzeggingen" and in_its_thread.case_team is None
    # Cases are not weighed by a version that weighs only threads.
    assert threads.predict(vague[:1], case_teams=["opzeggingen"])[0].case_team is None
    manifest["thread_odds"] = [3.5, 1.0]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match=r"thread_odds need thread_head\.npz"):
        Router.load(info.path, tmp_path / "cache")
    manifest["thread_odds"] = "veel"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="bad thread_odds"):
        Router.load(info.path, tmp_path / "cache")


def test_a_version_that_weighs_cases_by_their_text_round_trips(tmp_path: Path) -> None:
    texts, labels = _toy()
    args = PipelineArguments(min_examples_for_transformer=10_000, target_precision=0.9)
    trained = train_pipeline(texts, labels, args, cache_dir=tmp_path / "cache", progress=False)
    follow_ups = [f"nog geen reactie op mijn mail {i}, hoe staat het ervoor" for i in range(12)]
    new_matters = [f"ik wil mijn adres wijzigen naar straat {i}" for i in range(12)]
    head = fit_case_head(follow_ups + new_matters, [True] * 12 + [False] * 12)
    assert head is not None
    trained.components.case_odds = CaseOdds(2.0, 1.0, head)
    trained.components.thread_odds = CaseOdds(1.5, 0.5, head)
    registry = Registry(tmp_path / "models")
    info = _save_tfidf(registry, trained.components)
    loaded = Router.load(info.path, tmp_path / "cache")
    assert loaded.c.case_odds is not None and loaded.c.case_odds.to_json() == [2.0, 1.0]
    assert loaded.c.thread_odds is not None and loaded.c.thread_odds.to_json() == [1.5, 0.5]
    assert (info.path / "thread_head.npz").exists()
    # A follow-up's case weighs more than a new matter's.
    probe = ["nog geen reactie op mijn mail, hoe staat het ervoor", "ik wil mijn adres wijzigen"]
    strengths = loaded.c.case_odds.strengths(probe)
    assert strengths[0] > np.exp(2.0) > strengths[1]


def test_a_case_raises_its_team_by_bayes_rule_and_leaves_other_mail_alone() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.01, 0.01, 0.98]])
    out = with_case(probs, [-1, 1, 0], 9.0)
    np.testing.assert_allclose(out[0], probs[0])  # no case
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    # Odds of the case's team times nine: 0.3/0.7 → 2.7/0.7, so 2.7/3.4.
    assert out[1, 1] == pytest.approx(2.7 / 3.4)
    assert out[1, 0] / out[1, 2] == pytest.approx(0.5 / 0.2)  # the others keep their order
    assert out[2].argmax() == 2 and out[2, 0] > probs[2, 0]  # a sure model stays sure
    np.testing.assert_allclose(with_case(probs, [0, 1, 2], None), probs)


def test_case_odds_are_fitted_to_how_often_the_case_is_right() -> None:
    rng = np.random.default_rng(3)
    n, k = 400, 4
    probs = rng.dirichlet(np.ones(k) * 2, size=n)  # a model that knows little
    cases = rng.integers(0, k, size=n)
    # Customers who write about their case nine times in ten: the case weighs a lot.
    follows = rng.random(n) < 0.9
    answer = np.where(follows, cases, (cases + 1 + rng.integers(0, k - 1, size=n)) % k)
    strong = fit_case_odds(probs, list(cases), list(answer))
    assert strong is not None and strong[0] > np.log(10) and strong[1] == 0.0
    # Customers whose earlier team says nothing of the new mail: the case weighs ~nothing.
    unrelated = rng.integers(0, k, size=n)
    weak = fit_case_odds(probs, list(cases), list(unrelated))
    assert weak is not None and weak[0] < np.log(2)
    # A head that tells which mail is about its case: the slope uses it.
    told = fit_case_odds(probs, list(cases), list(answer), np.where(follows, 0.95, 0.05))
    assert told is not None and told[1] > 0
    # Too few mails with a case to tell: not weighed at all.
    assert fit_case_odds(probs[:10], list(cases[:10]), list(answer[:10])) is None


def test_promotion_gate_and_rollback(tmp_path: Path) -> None:
    assert promotion_gate({"macro_f1": 0.8, "accuracy": 0.8}, None).promote
    worse = promotion_gate({"macro_f1": 0.80, "accuracy": 0.9}, {"macro_f1": 0.85, "accuracy": 0.9})
    assert not worse.promote and "macro_f1 0.8000 < 0.8500" in worse.reason
    assert promotion_gate(
        {"macro_f1": 0.848, "accuracy": 0.9}, {"macro_f1": 0.85, "accuracy": 0.9}
    ).promote  # within noise

    texts, labels = _toy()
    args = PipelineArguments(min_examples_for_transformer=10_000, target_precision=0.9)
    trained = train_pipeline(texts, labels, args, cache_dir=tmp_path, progress=False)
    registry = Registry(tmp_path / "models")
    with pytest.raises(ModelError, match="nothing to roll back"):
        registry.rollback()
    for _ in range(2):
        info = _save_tfidf(registry, trained.components, model_card="")
        registry.promote(info.version, "test")
    assert registry.active_version() == "v0002"
    assert registry.get("v0001").status == "retired"
    # Promoting the active version again changes nothing: its reason is kept.
    assert registry.promote("v0002", "promoted by hand") is False
    assert registry.get("v0002").manifest["status_reason"] == "test"
    assert registry.rollback() == "v0001"
    assert registry.active_version() == "v0001"
    assert registry.get("v0002").status == "rolled-back"
    with pytest.raises(ModelError, match="no model version 'v0009'"):
        registry.get("v0009")


def test_a_broken_version_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "v0001").mkdir()
    with pytest.raises(ModelError, match="is not a model version"):
        Router.load(tmp_path / "v0001", tmp_path)
