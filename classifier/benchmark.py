"""``mailroom benchmark``: the full pipeline on a public data set, with the TF-IDF baseline and
the machine's matmul rate measured in the same run, written as JSON."""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from classifier.arguments import PipelineArguments
from classifier.evaluation import EvaluationResult
from classifier.recipe import (
    baseline_components,
    evaluate_router,
    split_validation,
    train_pipeline,
)
from classifier.router import Router
from labeling.errors import ImportSourceError


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]


def read_csv(path: Path) -> LabelledTexts:
    """A CSV with a header holding ``text`` and ``label`` columns."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
                raise ImportSourceError(f"{path}: needs a header with columns text,label")
            rows = [(r["text"], r["label"]) for r in reader if r["text"] and r["label"]]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportSourceError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise ImportSourceError(f"{path} holds no rows")
    return LabelledTexts([r[0] for r in rows], [r[1] for r in rows])


def sample_per_class(data: LabelledTexts, per_class: int, seed: int) -> LabelledTexts:
    """At most ``per_class`` examples of each label, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(i)
    chosen: list[int] = []
    for label in sorted(by_label):
        members = by_label[label]
        chosen += rng.choice(members, size=min(per_class, len(members)), replace=False).tolist()
    chosen.sort()
    return LabelledTexts([data.texts[i] for i in chosen], [data.labels[i] for i in chosen])


def matmul_gflops(size: int = 1024, repeats: int = 10) -> float:
    """The machine's fp32 matrix-multiply rate now, the yardstick for inference speed."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    torch.matmul(a, b)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    seconds = time.perf_counter() - started
    return 2 * size**3 * repeats / seconds / 1e9


def encoder_flops_per_token(router: Router) -> float | None:
    """About 2 FLOPs per weight per token in the encoder's matrix multiplies."""
    model = router.c.model
    if model is None:
        return None
    weights = 0
    for module in model.encoder.modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, torch.nn.Linear) and weight is not None:
            weights += int(weight.numel())
        elif type(module).__name__ == "Linear" and hasattr(module, "in_features"):
            # A dynamically quantised Linear keeps its sizes as plain ints.
            weights += int(getattr(module, "in_features")) * int(getattr(module, "out_features"))  # noqa: B009
    return 2.0 * weights


def run_benchmark(
    train: LabelledTexts,
    test: LabelledTexts,
    args: PipelineArguments,
    *,
    cache_dir: Path,
    oos_label: str | None = None,
    per_class: int | None = None,
    progress: bool = True,
) -> dict[str, object]:
    """Train from scratch on ``train`` (validation carved from it), evaluate on ``test``."""
    gflops_before = matmul_gflops()
    oos_texts: list[str] = []
    if oos_label is not None:
        # Out-of-scope training rows are never a class: they only calibrate the detector.
        keep = [i for i, y in enumerate(train.labels) if y != oos_label]
        oos_texts = [t for t, y in zip(train.texts, train.labels, strict=True) if y == oos_label]
        train = LabelledTexts([train.texts[i] for i in keep], [train.labels[i] for i in keep])
    if per_class is not None:
        train = sample_per_class(train, per_class, args.seed)
    tr_x, tr_y, va_x, va_y = split_validation(
        train.texts, train.labels, args.validation_share, args.seed
    )
    known = set(tr_y)
    unseen = sorted({y for y in test.labels if y not in known and y != oos_label})
    if unseen:
        raise ImportSourceError(
            f"the test set has labels absent from training: {unseen[:5]} "
            "(pass --oos-label for out-of-scope rows)"
        )
    trained = train_pipeline(
        tr_x,
        tr_y,
        args,
        cache_dir=cache_dir,
        val_texts=va_x,
        val_labels=va_y,
        oos_texts=oos_texts,
        progress=progress,
    )
    router = trained.router
    result, encoder_seconds, tokens = evaluate_router(
        router, trained.validation.name, test.texts, test.labels, oos_label=oos_label
    )
    baseline_router = Router(
        baseline_components(trained.comparator, va_x, va_y, args, oos_texts=oos_texts)
    )
    started = time.perf_counter()
    baseline, _, _ = evaluate_router(
        baseline_router, "TF-IDF baseline", test.texts, test.labels, oos_label=oos_label
    )
    baseline_seconds = time.perf_counter() - started
    gflops = (gflops_before + matmul_gflops()) / 2
    tokens_per_second = tokens / encoder_seconds if encoder_seconds else None
    flops_per_token = encoder_flops_per_token(router)
    achieved = (
        tokens_per_second * flops_per_token / 1e9
        if tokens_per_second is not None and flops_per_token is not None
        else None
    )
    summary = result.summary()
    best_epoch = (
        max(trained.history, key=lambda r: r.val_macro_f1).epoch if trained.history else None
    )
    return {
        "model": args.base_model
        if trained.kind == "transformer"
        else ("tfidf + sentences" if trained.components.tfidf.reads_sentences else "tfidf"),
        "accuracy": summary["accuracy"],
        "macro_f1": summary["macro_f1"],
        "ece": summary["ece"],
        "target_precision": args.target_precision,
        "threshold": summary.get("threshold"),
        "team_thresholds_raised": len(router.c.policy.team_thresholds),
        "precision_at_threshold": summary.get("auto_precision"),
        "coverage_at_threshold": summary.get("coverage"),
        "oos_recall": summary.get("oos_recall"),
        "max_unknown_share": args.max_unknown_share,
        "precision_by_unknown_share": _by_unknown_share(result),
        "train_seconds": round(trained.train_seconds, 1),
        "epochs_run": len(trained.history),
        "train_top_layers": args.training.train_top_layers,
        "best_epoch": best_epoch,
        "validation_macro_f1": trained.validation.summary()["macro_f1"],
        "inference_tokens_per_second": round(tokens_per_second, 1) if tokens_per_second else None,
        "inference_gflops_achieved": round(achieved, 2) if achieved else None,
        "matmul_gflops": round(gflops, 1),
        "inference_share_of_matmul_peak": round(achieved / gflops, 3) if achieved else None,
        "int8": trained.components.quantized,
        "blend_weight": trained.components.weight,
        "blend_pooling": trained.components.pooling,
        "temperature": round(trained.components.temperature, 4),
        "n_train": trained.n_train,
        "n_validation": trained.n_validation,
        "n_oos_calibration": len(oos_texts),
        "n_test": len(test.texts),
        "per_class": per_class,
        "notes": trained.notes,
        "history": [asdict(r) for r in trained.history],
        "baseline": {
            **{
                k: baseline.summary().get(k)
                for k in ("accuracy", "macro_f1", "ece", "threshold", "oos_recall")
            },
            "precision_at_threshold": baseline.summary().get("auto_precision"),
            "coverage_at_threshold": baseline.summary().get("coverage"),
            "predict_seconds": round(baseline_seconds, 2),
            "precision_by_unknown_share": _by_unknown_share(baseline),
        },
        "machine": {
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "cpu_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
    }


UNKNOWN_SHARES = (0.0, 0.05, 0.1, 0.18, 0.25, 0.5)


def _by_unknown_share(result: EvaluationResult) -> dict[str, float] | None:
    """Realised precision if mail for no team were each of these shares of all mail."""
    if result.precision_at_unknown_share(0.0) is None:
        return None
    out: dict[str, float] = {}
    for share in UNKNOWN_SHARES:
        value = result.precision_at_unknown_share(share)
        if value is not None:
            out[str(share)] = round(value, 4)
    return out


def write_result(result: dict[str, object], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def with_training(args: PipelineArguments, **changes: object) -> PipelineArguments:
    """A copy of ``args`` with some training arguments changed (CLI convenience)."""
    return replace(args, training=replace(args.training, **changes))  # type: ignore[arg-type]
