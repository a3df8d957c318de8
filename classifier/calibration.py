"""Temperature scaling (Guo et al., 2017): one scalar that makes confidences honest.

Pure functions over numpy arrays. A model's logits are divided by a temperature T fitted on
validation data to minimise the negative log-likelihood; T > 1 softens an over-confident
model. Accuracy is unchanged (the arg-max does not move); only the confidences are.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# Temperatures outside this range mean the validation data is degenerate (all correct with
# huge margins, or noise); clamping keeps the thresholds that follow meaningful.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def softmax(logits: NDArray[np.floating], temperature: float = 1.0) -> NDArray[np.float64]:
    """Row-wise softmax of ``logits / temperature``, numerically stable."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def negative_log_likelihood(
    logits: NDArray[np.floating], labels: NDArray[np.integer], temperature: float = 1.0
) -> float:
    """Mean NLL of the true class under ``softmax(logits / temperature)``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    picked = z[np.arange(len(labels)), labels]
    return float(np.mean(log_norm - picked))


def fit_temperature(logits: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """The temperature minimising validation NLL (searched on a log scale)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 1.0
    from scipy.optimize import minimize_scalar  # fitting only: serving needs just softmax

    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)),
        method="bounded",
    )
    return float(np.exp(result.x))


def expected_calibration_error(
    confidences: NDArray[np.floating], correct: NDArray[np.bool_], bins: int = 15
) -> float:
    """ECE: the bin-weighted gap between confidence and accuracy (equal-width bins)."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if len(confidences) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            gap = abs(confidences[in_bin].mean() - correct[in_bin].mean())
            ece += gap * in_bin.mean()
    return float(ece)


def reliability_curve(
    confidences: NDArray[np.floating], correct: NDArray[np.bool_], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean confidence, accuracy, count) per non-empty equal-width bin, for the report."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    points = []
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            mean_conf = float(confidences[in_bin].mean())
            points.append((mean_conf, float(correct[in_bin].mean()), int(in_bin.sum())))
    return points
