"""The whole training recipe, from labelled texts to a calibrated, thresholded Router.

1. Carve a stratified validation split from the training texts (unless one is given).
2. Fit the TF-IDF model: the fallback while labels are few, a member of the blend, and the
   comparator in every report.
3. With enough labels, fine-tune the encoder (classifier.training), keeping the epoch best
   on validation macro-F1. Try int8 dynamic quantisation and keep it when it is faster at
   equal validation accuracy.
4. On validation: the blend of transformer and TF-IDF (the mean of their probabilities,
   with the weight that ranks validation mail best for routing, equal weights unless
   another is better by more than its standard error: :func:`fit_blend`), the temperature
   (NLL, for a member alone), and the thresholds the validation mail certifies for the
   target precision (classifier.certify; with ``max_unknown_share`` the promise holds for
   any live share of mail for no team up to it). When out-of-scope examples are given
   (text that belongs to no team), an out-of-scope cutoff on centroid similarity and the
   thresholds are chosen together on the union: an out-of-scope item that would be
   auto-routed counts as an error, and the cutoff is the one on the grid that leaves the
   most in-scope mail auto-routed while the bound holds. Without them no cutoff is set
   unless ``oos_quantile`` asks to sacrifice that share of in-scope mail blindly.

Validation data therefore chooses the epoch and four scalars; the test or holdout set a
caller evaluates on is never seen.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from classifier.arguments import PipelineArguments
from classifier.baseline import BaselineArguments, TfidfBaseline
from classifier.calibration import fit_temperature, softmax
from classifier.certify import certify
from classifier.evaluation import EvaluationResult, evaluate
from classifier.modeling import Encoded, EncoderClassifier, base_fingerprint, encode
from classifier.router import Components, Router, quantize_int8
from classifier.scoring import (
    Pooling,
    centroid_similarity,
    centroids,
    combine,
    combined_logits,
    oos_cutoff,
)
from classifier.thresholds import ThresholdPolicy, team_corrections
from classifier.training import EpochRecord, fine_tune
from labeling.errors import ModelError

log = logging.getLogger(__name__)

WEIGHT_GRID = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
BOOTSTRAP_RESAMPLES = 200  # for the standard error of the validation risk (fit_blend)
OOS_QUANTILE_GRID = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3)


@dataclass
class TrainedPipeline:
    components: Components
    kind: str  # "transformer" or "tfidf"
    base_model: str
    base_dir: Path | None
    base_fingerprint: str | None
    frozen: set[str]
    float_model: EncoderClassifier | None  # the fine-tuned model before any quantisation
    validation: EvaluationResult
    validation_baseline: EvaluationResult
    history: list[EpochRecord]
    train_seconds: float
    n_train: int
    n_validation: int
    label_counts: dict[str, int]
    # The TF-IDF model alone, fitted on the same training mail: the comparator in reports
    # (the blend's linear member may hold sentence embeddings beside the n-grams).
    comparator: TfidfBaseline
    notes: list[str] = field(default_factory=list)
    _router: Router | None = field(default=None, repr=False)

    @property
    def router(self) -> Router:
        """The trained router, one for the run: it remembers what it encoded (the same
        mail is scored for the certificate and the gate; the model no longer changes)."""
        if self._router is None or self._router.c is not self.components:
            self._router = Router(self.components, remember=True)
        return self._router


def split_validation(
    texts: Sequence[str], labels: Sequence[str], share: float, seed: int
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Stratified split; teams with fewer than two examples stay whole in training."""
    counts = Counter(labels)
    idx = np.arange(len(texts))
    splittable = np.array([counts[x] >= 2 for x in labels], dtype=bool)
    rest = idx[~splittable]
    cand = idx[splittable]
    n_classes = len({labels[i] for i in cand})
    n_val = max(round(share * len(cand)), n_classes) if len(cand) else 0
    if len(cand) == 0 or n_val >= len(cand):
        return list(texts), list(labels), [], []
    tr, va = train_test_split(
        cand, test_size=n_val, random_state=seed, stratify=[labels[i] for i in cand]
    )
    train_idx = np.concatenate([tr, rest])
    return (
        [texts[i] for i in train_idx],
        [labels[i] for i in train_idx],
        [texts[i] for i in va],
        [labels[i] for i in va],
    )


class Blend(NamedTuple):
    """How a version blends its members (:func:`classifier.scoring.combine`)."""

    weight: float  # the transformer's share
    temperature: float
    pooling: Pooling
    top_label: tuple[float, float] | None  # the mean's top-label calibration


def fit_blend(
    labels: Sequence[str],
    y_true: Sequence[str],
    transformer_logits: NDArray[np.floating] | None,
    tfidf_probs: NDArray[np.floating],
    allow_blend: bool,
) -> Blend:
    """How to blend the two members, chosen on validation.

    A member alone (no transformer, or no blending allowed): product pooling, temperature
    by NLL. A blend: for each pooling (see :mod:`classifier.scoring`), the weight that ranks
    validation mail best for routing — the least area under the risk–coverage curve
    (:func:`routing_risk`) — except that equal weights are kept unless some weight beats
    them by more than the best one's standard error (bootstrap over the validation mail;
    Breiman's one-SE rule). A few hundred validation mails rarely tell neighbouring weights
    apart, and on the demo's verified mail the weights validation picked by chance (0.2)
    certified nothing at 0.98 where equal weights certified more than half of it.

    Then the pooling: the mean (temperature 1, the top team's probability calibrated on
    validation, :func:`fit_top_label`, which keeps the order), unless the product (its
    temperature by NLL) has less routing risk by more than the standard error of the
    difference (paired bootstrap). The mean is the safe default — a product lets one
    member's certainty on a handful of training mails override the other's doubt, which
    cost the demo every certificate — but where validation is large and both members are
    good the product ranks better: on BANKING77 (1,150 validation mails) its risk was 0.0084
    against the mean's 0.0098 (standard error of the difference 0.0005), and it routed 82 %
    of the test mail at 0.98 where the mean routed 76 %. (The share routed at the target on
    validation tells them apart less surely: 2.4 points, standard error 2.2.)
    """
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[y] for y in y_true])
    if transformer_logits is None or not allow_blend or not len(targets):
        weight = 0.0 if transformer_logits is None else 1.0
        z = combined_logits(transformer_logits, tfidf_probs, weight)
        temperature = fit_temperature(z, targets) if len(targets) else 1.0
        return Blend(weight, temperature, "product", None)
    rng = np.random.default_rng(0)
    resamples = [rng.integers(0, len(targets), len(targets)) for _ in range(BOOTSTRAP_RESAMPLES)]

    def choose_weight(
        blended: Callable[[float], NDArray[np.float64]],
    ) -> tuple[float, NDArray[np.float64]]:
        risks: dict[float, float] = {}
        spread: dict[float, float] = {}
        probs_of: dict[float, NDArray[np.float64]] = {}
        for weight in WEIGHT_GRID:
            probs = probs_of[weight] = blended(weight)
            confidence = probs.max(axis=1)
            correct = probs.argmax(axis=1) == targets
            risks[weight] = routing_risk(confidence, correct)
            spread[weight] = float(
                np.std([routing_risk(confidence[r], correct[r]) for r in resamples])
            )
        best = min(WEIGHT_GRID, key=lambda w: (risks[w], abs(w - 0.5)))
        allowed = [w for w in WEIGHT_GRID if risks[w] <= risks[best] + spread[best]]
        weight = min(allowed, key=lambda w: (abs(w - 0.5), risks[w]))
        return weight, probs_of[weight]

    temperatures: dict[float, float] = {}

    def product(weight: float) -> NDArray[np.float64]:
        z = combined_logits(transformer_logits, tfidf_probs, weight)
        temperatures[weight] = fit_temperature(z, targets)
        return softmax(z, temperatures[weight])

    mean_weight, mean_probs = choose_weight(
        lambda w: combine(transformer_logits, tfidf_probs, w, 1.0, "mean")
    )
    product_weight, product_probs = choose_weight(product)

    def gain(rows: NDArray[np.int64] | slice) -> float:
        # How much less routing risk the product has than the mean (positive: it ranks
        # validation mail better for routing).
        return routing_risk(
            mean_probs[rows].max(axis=1), mean_probs[rows].argmax(axis=1) == targets[rows]
        ) - routing_risk(
            product_probs[rows].max(axis=1), product_probs[rows].argmax(axis=1) == targets[rows]
        )

    if gain(slice(None)) > float(np.std([gain(r) for r in resamples])):
        return Blend(float(product_weight), temperatures[product_weight], "product", None)
    top_label = fit_top_label(mean_probs.max(axis=1), mean_probs.argmax(axis=1) == targets)
    return Blend(float(mean_weight), 1.0, "mean", top_label)


def coverage_at(
    confidence: NDArray[np.floating], correct: NDArray[np.bool_], precision: float
) -> float:
    """The largest share of mail that the most confident mail makes up at ``precision`` or
    better (0 when not even the most confident mail is right)."""
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    right = np.asarray(correct, dtype=bool)[order]
    if not len(right):
        return 0.0
    running = np.cumsum(right) / np.arange(1, len(right) + 1)
    good = np.flatnonzero(running >= precision)
    return float((good.max() + 1) / len(right)) if len(good) else 0.0


def fit_top_label(
    confidence: NDArray[np.floating], correct: NDArray[np.bool_]
) -> tuple[float, float] | None:
    """Platt scaling of the top team's probability on validation mail: (a, b) of
    ``sigmoid(a · logit(confidence) + b)`` (:func:`classifier.scoring.calibrate_top_label`);
    None (no change) when validation is all right or all wrong, or the fit would not be
    increasing."""
    from sklearn.linear_model import LogisticRegression

    ok = np.asarray(correct, dtype=bool)
    if ok.all() or not ok.any():
        return None
    q = np.clip(np.asarray(confidence, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    x = np.log(q / (1.0 - q)).reshape(-1, 1)
    fitted = LogisticRegression(C=1e4, max_iter=1000).fit(x, ok)
    a, b = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
    return (a, b) if a > 0 else None


def routing_risk(confidence: NDArray[np.floating], correct: NDArray[np.bool_]) -> float:
    """Area under the risk–coverage curve: the error rate of the mail routed, averaged over
    every cut from the most confident mail down (Geifman & El-Yaniv 2017). Lower is better:
    it is low when the mistakes sit at the bottom of the confidence order."""
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    wrong = ~np.asarray(correct, dtype=bool)[order]
    if not len(wrong):
        return 0.0
    return float(np.mean(np.cumsum(wrong) / np.arange(1, len(wrong) + 1)))


def _sample_per_team(labels: Sequence[str], per_team: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    by_team: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_team.setdefault(label, []).append(i)
    for team in sorted(by_team):
        members = by_team[team]
        take = min(per_team, len(members))
        chosen += sorted(rng.choice(members, size=take, replace=False).tolist())
    return chosen


def _int8_if_better(
    model: EncoderClassifier,
    tokenizer: object,
    val_texts: Sequence[str],
    val_true: Sequence[str],
    labels: Sequence[str],
) -> tuple[EncoderClassifier, bool, str, Encoded | None]:
    """Keep int8 when its validation accuracy is within half a point and it is faster.
    Also returns the kept model's outputs on the validation texts (None without them)."""
    if not val_texts:
        return model, False, "int8 not tried: no validation data", None
    started = time.perf_counter()
    fp32 = encode(model, tokenizer, val_texts)  # type: ignore[arg-type]
    fp32_seconds = time.perf_counter() - started
    q = quantize_int8(model)
    started = time.perf_counter()
    int8 = encode(q, tokenizer, val_texts)  # type: ignore[arg-type]
    int8_seconds = time.perf_counter() - started
    acc = [
        float(
            np.mean([labels[i] == t for i, t in zip(out.logits.argmax(1), val_true, strict=True)])
        )
        for out in (fp32, int8)
    ]
    note = (
        f"int8 vs fp32 on validation: accuracy {acc[1]:.4f} vs {acc[0]:.4f}, "
        f"{int8_seconds:.1f}s vs {fp32_seconds:.1f}s"
    )
    if acc[1] >= acc[0] - 0.005 and int8_seconds < fp32_seconds:
        return q, True, note + " → int8 kept", int8
    return model, False, note + " → fp32 kept", fp32


def train_pipeline(
    texts: Sequence[str],
    labels: Sequence[str],
    args: PipelineArguments,
    *,
    cache_dir: Path,
    version: str = "candidate",
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[str] | None = None,
    oos_texts: Sequence[str] = (),
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainedPipeline:
    """Train a complete model version from labelled texts (see the module doc).

    ``oos_texts`` are examples of mail that belongs to no team; they are never trained on,
    only used to choose the out-of-scope cutoff and the thresholds.
    """
    from classifier.encoders import resolve_base_model

    if len(texts) != len(labels):
        raise ModelError("texts and labels differ in length")
    if len(set(labels)) < 2:
        raise ModelError("training needs labelled mail of at least two teams")
    started = time.perf_counter()
    if val_texts is None or val_labels is None:
        tr_x, tr_y, va_x, va_y = split_validation(texts, labels, args.validation_share, args.seed)
    else:
        tr_x, tr_y, va_x, va_y = list(texts), list(labels), list(val_texts), list(val_labels)
    notes: list[str] = []
    comparator = TfidfBaseline().fit(tr_x, tr_y)
    label_order = tuple(comparator.classes)
    if set(va_y) - set(label_order):
        raise ModelError("validation holds teams that have no training examples")
    comparator_val = comparator.predict_proba(va_x) if va_x else np.zeros((0, len(label_order)))
    tfidf, tfidf_val, note = linear_member(comparator, comparator_val, tr_x, tr_y, va_x, va_y, args)
    if note:
        notes.append(note)

    model = tokenizer = None
    float_model: EncoderClassifier | None = None
    base_dir = None
    fingerprint = None
    frozen: set[str] = set()
    history: list[EpochRecord] = []
    quantized = False
    val_out: Encoded | None = None
    use_transformer = len(tr_x) >= args.min_examples_for_transformer and bool(va_x)
    if not use_transformer:
        notes.append(
            f"{len(tr_x)} training examples (< {args.min_examples_for_transformer}) or no "
            "validation data: the TF-IDF model serves alone"
        )
    if use_transformer:
        base_dir = resolve_base_model(args.base_model, cache_dir)
        fingerprint = base_fingerprint(base_dir)
        training = args.training
        if args.base_model.startswith("e5") and not training.text_prefix:
            training = replace(training, text_prefix="query: ")  # e5 was trained with it
        result = fine_tune(
            base_dir, tr_x, tr_y, va_x, va_y, training, progress=progress, on_epoch=on_epoch
        )
        if result.model.head_config.labels != label_order:
            raise ModelError("internal: label order differs between TF-IDF and transformer")
        model, tokenizer, frozen, history = (
            result.model,
            result.tokenizer,
            result.frozen,
            result.history,
        )
        float_model = model
        if args.try_int8 and not any(p.is_cuda for p in model.parameters()):
            model, quantized, note, val_out = _int8_if_better(
                model, tokenizer, va_x, va_y, label_order
            )
            notes.append(note)

    val_logits = None
    val_embeddings = None
    if model is not None and tokenizer is not None:
        # The int8 trial already encoded the validation mail with the model it kept.
        out = val_out if val_out is not None else encode(model, tokenizer, va_x)
        val_logits, val_embeddings = out.logits, out.embeddings
    weight, temperature, pooling, top_label = fit_blend(
        label_order, va_y, val_logits, tfidf_val, args.blend
    )
    val_probs = combine(val_logits, tfidf_val, weight, temperature, pooling, top_label)
    val_pred = [label_order[i] for i in val_probs.argmax(axis=1)]
    correct = np.array([p == t for p, t in zip(val_pred, va_y, strict=True)], dtype=bool)

    team_centroids = None
    cutoff = None
    policy: ThresholdPolicy | None = None
    if model is not None and tokenizer is not None and val_embeddings is not None:
        chosen = _sample_per_team(tr_y, args.centroid_examples_per_team, args.seed)
        train_emb = encode(model, tokenizer, [tr_x[i] for i in chosen]).embeddings
        team_centroids = centroids(train_emb, [tr_y[i] for i in chosen], label_order)
        val_sims = centroid_similarity(val_embeddings, team_centroids)
        if oos_texts:
            oos_out = encode(model, tokenizer, list(oos_texts))
            oos_probs = combine(
                oos_out.logits,
                tfidf.predict_proba(oos_texts),
                weight,
                temperature,
                pooling,
                top_label,
            )
            policy, cutoff, note = choose_oos_cutoff(
                val_probs,
                correct,
                val_sims,
                oos_probs,
                centroid_similarity(oos_out.embeddings, team_centroids),
                label_order,
                args,
            )
            notes.append(note)
        elif args.oos_quantile > 0:
            cutoff = oos_cutoff(val_sims, args.oos_quantile)
    if policy is None:  # no out-of-scope detector: such examples can only raise thresholds
        tfidf_oos = (
            combine(None, tfidf.predict_proba(oos_texts), weight, temperature)
            if oos_texts and model is None
            else None
        )
        policy = _thresholds(val_probs, label_order, correct, args, oos_probs=tfidf_oos)

    components = Components(
        version=version,
        labels=label_order,
        tfidf=tfidf,
        model=model,
        tokenizer=tokenizer,
        weight=weight,
        temperature=temperature,
        policy=policy,
        centroids=team_centroids,
        oos_cutoff=cutoff,
        quantized=quantized,
        pooling=pooling,
        top_label=top_label,
    )
    kind = "transformer" if model is not None else "tfidf"
    name = f"{kind} ({args.base_model})" if model is not None else "TF-IDF"
    validation = evaluate(name, label_order, va_y, val_probs, policy=policy)
    baseline = baseline_components(comparator, va_x, va_y, args, oos_texts=oos_texts)
    validation_baseline = evaluate(
        "TF-IDF baseline",
        label_order,
        va_y,
        combine(None, comparator_val, 0.0, baseline.temperature),
        policy=baseline.policy,
    )
    notes.append(
        f"blend weight {weight:.2f} (transformer share, {pooling} pooling), "
        f"temperature {temperature:.3f}"
    )
    return TrainedPipeline(
        components=components,
        kind=kind,
        base_model=args.base_model,
        base_dir=base_dir,
        base_fingerprint=fingerprint,
        frozen=frozen,
        float_model=float_model,
        validation=validation,
        validation_baseline=validation_baseline,
        history=history,
        train_seconds=time.perf_counter() - started,
        n_train=len(tr_x),
        n_validation=len(va_x),
        label_counts=dict(sorted(Counter(tr_y).items())),
        comparator=comparator,
        notes=notes,
    )


def linear_member(
    tfidf: TfidfBaseline,
    tfidf_val: NDArray[np.float64],
    tr_x: Sequence[str],
    tr_y: Sequence[str],
    va_x: Sequence[str],
    va_y: Sequence[str],
    args: PipelineArguments,
) -> tuple[TfidfBaseline, NDArray[np.float64], str | None]:
    """(model, its validation probabilities, note): the linear member of the blend.

    The TF-IDF n-grams alone, or with the sentence encoder's embeddings beside them
    (:mod:`classifier.sentence`) when they rank validation mail better for routing (less
    :func:`routing_risk`). On BANKING77 they did (10 per label: 71 % → 79 %; all labels:
    90 % → 92 %); on the Dutch demo archive, with its misfiled folders, they did not (0.83
    against 0.82). Without validation mail nothing can choose, and the n-grams serve alone.
    """
    if args.sentence_scale <= 0 or not va_x:
        return tfidf, tfidf_val, None
    with_sentences = TfidfBaseline(BaselineArguments(sentence_scale=args.sentence_scale)).fit(
        tr_x, tr_y
    )
    if tuple(with_sentences.classes) != tuple(tfidf.classes):
        raise ModelError("internal: label order differs between the linear models")
    probs = with_sentences.predict_proba(va_x)
    index = {label: i for i, label in enumerate(tfidf.classes)}
    targets = np.array([index[y] for y in va_y])
    risk = {
        name: routing_risk(p.max(axis=1), p.argmax(axis=1) == targets)
        for name, p in (("n-grams", tfidf_val), ("sentences", probs))
    }
    accuracy = {
        name: float(np.mean(p.argmax(axis=1) == targets))
        for name, p in (("n-grams", tfidf_val), ("sentences", probs))
    }
    keep = risk["sentences"] < risk["n-grams"]
    note = (
        "linear member on validation: TF-IDF alone accuracy "
        f"{accuracy['n-grams']:.4f} (routing risk {risk['n-grams']:.4f}), with sentence "
        f"embeddings {accuracy['sentences']:.4f} ({risk['sentences']:.4f}) → "
        + ("with sentence embeddings" if keep else "TF-IDF alone")
    )
    if keep:
        return with_sentences, probs, note
    return tfidf, tfidf_val, note


def _thresholds(
    val_probs: NDArray[np.float64],
    labels: Sequence[str],
    correct: NDArray[np.bool_],
    args: PipelineArguments,
    *,
    oos_probs: NDArray[np.float64] | None,
    val_flagged: NDArray[np.bool_] | None = None,
    oos_flagged: NDArray[np.bool_] | None = None,
) -> ThresholdPolicy:
    """The thresholds the validation mail certifies (classifier.certify): out-of-scope
    examples are mail that is wrong whenever it is routed; mail the out-of-scope detector
    flags (``*_flagged``) is never routed, so it enters with confidence 0."""
    conf = val_probs.max(axis=1) if len(val_probs) else np.zeros(0)
    if val_flagged is not None:
        conf = np.where(val_flagged, 0.0, conf)
    pred = [labels[i] for i in val_probs.argmax(axis=1)] if len(val_probs) else []
    ok = np.asarray(correct, dtype=bool)
    unknown = np.zeros(len(conf), dtype=bool)
    if oos_probs is not None and len(oos_probs):
        oos_conf = oos_probs.max(axis=1)
        if oos_flagged is not None:
            oos_conf = np.where(oos_flagged, 0.0, oos_conf)
        conf = np.concatenate([conf, oos_conf])
        pred += [labels[i] for i in oos_probs.argmax(axis=1)]
        ok = np.concatenate([ok, np.zeros(len(oos_probs), dtype=bool)])
        unknown = np.concatenate([unknown, np.ones(len(oos_probs), dtype=bool)])
    cert = certify(
        conf,
        ok,
        unknown,
        args.target_precision,
        args.delta,
        max_unknown_share=args.max_unknown_share,
    )
    teams = (
        team_corrections(conf, pred, ok, cert.threshold, args.target_precision, args.delta)
        if cert.certified
        else {}
    )
    return ThresholdPolicy(args.target_precision, args.delta, cert.threshold, teams)


def choose_oos_cutoff(
    val_probs: NDArray[np.float64],
    correct: NDArray[np.bool_],
    val_similarity: NDArray[np.floating],
    oos_probs: NDArray[np.float64],
    oos_similarity: NDArray[np.floating],
    labels: Sequence[str],
    args: PipelineArguments,
) -> tuple[ThresholdPolicy, float, str]:
    """(policy, cutoff, note): the grid cutoff that auto-routes the most in-scope mail
    while the threshold bound holds over in-scope and out-of-scope items together.

    Items below the cutoff go to a person whatever their confidence, so they leave the
    threshold selection; out-of-scope items above it count as errors if auto-routed.
    """
    val_sim = np.asarray(val_similarity, dtype=np.float64)
    oos_sim = np.asarray(oos_similarity, dtype=np.float64)
    pred = [labels[i] for i in val_probs.argmax(axis=1)]
    conf = val_probs.max(axis=1)
    best: tuple[float, float, ThresholdPolicy, float] | None = None
    for quantile in OOS_QUANTILE_GRID:
        cutoff = oos_cutoff(val_sim, quantile) if quantile > 0 else -1.0
        keep_val = val_sim >= cutoff
        keep_oos = oos_sim >= cutoff
        policy = _thresholds(
            val_probs,
            labels,
            correct,
            args,
            oos_probs=oos_probs,
            val_flagged=~keep_val,
            oos_flagged=~keep_oos,
        )
        auto = keep_val & np.array(
            [policy.auto_routes(p, float(c)) for p, c in zip(pred, conf, strict=True)],
            dtype=bool,
        )
        coverage = float(auto.mean()) if len(auto) else 0.0
        if best is None or coverage > best[0]:
            best = (coverage, quantile, policy, cutoff)
    assert best is not None
    coverage, quantile, policy, cutoff = best
    caught = float((oos_sim < cutoff).mean()) if len(oos_sim) else 0.0
    note = (
        f"out-of-scope cutoff {cutoff:.4f} (in-scope quantile {quantile}) chosen with "
        f"{len(oos_sim)} out-of-scope examples: {caught:.0%} of them below it, in-scope "
        f"validation coverage {coverage:.3f}"
    )
    return policy, cutoff, note


def baseline_components(
    tfidf: TfidfBaseline,
    va_x: Sequence[str],
    va_y: Sequence[str],
    args: PipelineArguments,
    *,
    oos_texts: Sequence[str] = (),
) -> Components:
    """The TF-IDF model alone, calibrated and thresholded the same way: the comparator.
    It has no out-of-scope detector, so out-of-scope examples only raise its thresholds."""
    labels = tuple(tfidf.classes)
    probs = tfidf.predict_proba(va_x) if va_x else np.zeros((0, len(labels)))
    temperature = fit_blend(labels, va_y, None, probs, allow_blend=False).temperature
    calibrated = combine(None, probs, 0.0, temperature)
    pred = [labels[i] for i in calibrated.argmax(axis=1)]
    correct = np.array([p == t for p, t in zip(pred, va_y, strict=True)], dtype=bool)
    oos_probs = (
        combine(None, tfidf.predict_proba(oos_texts), 0.0, temperature) if oos_texts else None
    )
    policy = _thresholds(calibrated, labels, correct, args, oos_probs=oos_probs)
    return Components(
        version="tfidf-baseline",
        labels=labels,
        tfidf=tfidf,
        model=None,
        tokenizer=None,
        weight=0.0,
        temperature=temperature,
        policy=policy,
        centroids=None,
        oos_cutoff=None,
    )


def evaluate_router(
    router: Router,
    name: str,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    oos_label: str | None = None,
) -> tuple[EvaluationResult, float, int]:
    """Evaluate on a labelled set: (result, encoder seconds, tokens processed)."""
    scores = router.scores(texts)
    result = evaluate(
        name,
        router.labels,
        labels,
        scores.probabilities,
        policy=router.c.policy,
        oos_label=oos_label,
        oos_flags=scores.out_of_scope if router.c.centroids is not None else None,
    )
    return result, scores.encoder_seconds, scores.tokens
