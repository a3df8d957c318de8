"""The predict side: load a model version once, score mail in batches, decide.

Serving (worker, web) imports this module; it never imports :mod:`classifier.training`.
Training builds a :class:`Router` from fresh components to evaluate, so validation, test
and live mail all go through the same code.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from transformers import PreTrainedTokenizerBase

from classifier.baseline import TfidfBaseline
from classifier.cases import CaseOdds
from classifier.modeling import EncoderClassifier, base_fingerprint, encode, load_finetuned
from classifier.scoring import (
    POOLINGS,
    Pooling,
    Prediction,
    centroid_similarity,
    combine,
    decide,
)
from classifier.thresholds import ThresholdPolicy
from classifier.version_files import (
    CASE_HEAD_FILE,
    CENTROIDS_FILE,
    MANIFEST_FILE,
    TFIDF_FILE,
    THREAD_HEAD_FILE,
)
from labeling.errors import ModelError


def quantize_int8(model: EncoderClassifier) -> EncoderClassifier:
    """Dynamic int8 quantisation of the Linear layers (CPU inference only)."""
    with warnings.catch_warnings():
        # torch 2.13 announces the quantised tensor API's eventual removal; the pin on torch
        # keeps it working, and the pipeline falls back to fp32 whenever int8 is not better.
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated")
        quantized = torch.ao.quantization.quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8
        )
    return quantized


@dataclass
class Components:
    """Everything a Router needs; what a model version folder holds, in memory."""

    version: str
    labels: tuple[str, ...]
    tfidf: TfidfBaseline
    model: EncoderClassifier | None
    tokenizer: PreTrainedTokenizerBase | None
    weight: float  # transformer share of the blend; 0 when TF-IDF alone
    temperature: float
    policy: ThresholdPolicy
    centroids: NDArray[np.float32] | None
    oos_cutoff: float | None
    quantized: bool = False
    pooling: Pooling = "product"  # how the two members' probabilities are blended
    top_label: tuple[float, float] | None = None  # the mean's top-label calibration (a, b)
    # How strongly a customer's case weighs (classifier.cases); None: not at all (versions
    # saved before, or too little validation mail with a case to fit it).
    case_odds: CaseOdds | None = None
    # How strongly a reply's thread weighs, the same way (the thread's team; the head tells
    # whether a reply reads like more of its thread's business). None: the version follows
    # threads by its follow floor (classifier.certify), as versions saved before did.
    thread_odds: CaseOdds | None = None


@dataclass(frozen=True)
class Scores:
    probabilities: NDArray[np.float64]
    out_of_scope: NDArray[np.bool_]
    similarity: NDArray[np.float32] | None
    tokens: int
    encoder_seconds: float


class Router:
    """Scores and decides. Thread-compatible for reads; load it once per process."""

    def __init__(self, components: Components, *, remember: bool = False) -> None:
        """``remember``: keep the encoder's outputs per text, so a text scored again (the
        verified sample for the certificate and then for the gate) is not encoded twice.
        For one training run, where the model no longer changes; never for serving (it
        would keep every mail's text in memory)."""
        self.c = components
        self._memo: dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]] | None = (
            {} if remember else None
        )
        if components.model is not None:
            components.model.eval()

    @property
    def version(self) -> str:
        return self.c.version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.c.labels

    def transformer_outputs(
        self, texts: Sequence[str], batch_size: int = 64
    ) -> tuple[NDArray[np.float32] | None, NDArray[np.float32] | None, int, float]:
        """(logits, embeddings, tokens, seconds) of the encoder, or Nones without one."""
        if self.c.model is None or self.c.tokenizer is None:
            return None, None, 0, 0.0
        started = time.perf_counter()
        if self._memo is None:
            out = encode(self.c.model, self.c.tokenizer, texts, batch_size=batch_size)
            return out.logits, out.embeddings, out.tokens, time.perf_counter() - started
        memo = self._memo
        new = [text for text in dict.fromkeys(texts) if text not in memo]
        out = encode(self.c.model, self.c.tokenizer, new, batch_size=batch_size)
        for text, logits, embedding in zip(new, out.logits, out.embeddings, strict=True):
            memo[text] = (logits, embedding)
        hidden = self.c.model.classifier.in_features
        logits = np.array([memo[t][0] for t in texts], dtype=np.float32).reshape(
            len(texts), len(self.labels)
        )
        embeddings = np.array([memo[t][1] for t in texts], dtype=np.float32).reshape(
            len(texts), hidden
        )
        return logits, embeddings, out.tokens, time.perf_counter() - started

    def scores(self, texts: Sequence[str], batch_size: int = 64) -> Scores:
        texts = list(texts)
        logits, embeddings, tokens, seconds = self.transformer_outputs(texts, batch_size)
        tfidf = self.c.tfidf.predict_proba(texts) if texts else np.zeros((0, len(self.labels)))
        probs = combine(
            logits, tfidf, self.c.weight, self.c.temperature, self.c.pooling, self.c.top_label
        )
        similarity = None
        oos = np.zeros(len(texts), dtype=bool)
        if (
            embeddings is not None
            and self.c.centroids is not None
            and self.c.oos_cutoff is not None
        ):
            similarity = centroid_similarity(embeddings, self.c.centroids)
            oos = similarity < self.c.oos_cutoff
        return Scores(probs, oos, similarity, tokens, seconds)

    def predict(
        self,
        texts: Sequence[str],
        *,
        known_teams: Collection[str] | None = None,
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        """A decision per text; see :func:`classifier.scoring.decide`. ``case_teams``: per
        text, the team of the customer's recent case (None: no case); ``thread_teams``: the
        team of a reply's thread (None: no thread with a team). Each is weighed as the
        version was certified to (:func:`classifier.scoring.with_case`); a text has one or
        the other (routing asks the case only where no thread decides)."""
        s = self.scores(texts)
        texts = list(texts)
        probabilities, cases = self._weigh(s.probabilities, texts, case_teams, self.c.case_odds)
        probabilities, threads = self._weigh(probabilities, texts, thread_teams, self.c.thread_odds)
        return [
            decide(
                row,
                self.labels,
                self.c.policy,
                model_version=self.version,
                out_of_scope=bool(flag),
                known_teams=known_teams,
                case_team=case,
                thread_team=thread,
            )
            for row, flag, case, thread in zip(
                probabilities, s.out_of_scope, cases, threads, strict=True
            )
        ]

    def _weigh(
        self,
        probabilities: NDArray[np.float64],
        texts: list[str],
        teams: Sequence[str | None] | None,
        odds: CaseOdds | None,
    ) -> tuple[NDArray[np.float64], list[str | None]]:
        """``probabilities`` with each row's earlier team weighed by ``odds``, and the team
        each row weighs (None where it has none, or the version does not weigh them)."""
        if teams is None or odds is None:
            return probabilities, [None] * len(probabilities)
        index = {label: i for i, label in enumerate(self.labels)}
        columns = [index.get(t, -1) if t is not None else -1 for t in teams]
        weighed = [t if c >= 0 else None for t, c in zip(teams, columns, strict=True)]
        return odds.weigh(probabilities, texts, columns), weighed

    # Loading ----------------------------------------------------------------------

    @classmethod
    def load_baseline(cls, version_dir: Path) -> Router:
        """The version's TF-IDF member alone, with its own calibration: the comparator."""
        try:
            manifest = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
            baseline = manifest["baseline"]
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"{version_dir} holds no baseline calibration: {exc}") from exc
        tfidf = TfidfBaseline.load(version_dir / TFIDF_FILE)
        return cls(
            Components(
                version=f"{manifest['version']}-tfidf",
                labels=tuple(tfidf.classes),
                tfidf=tfidf,
                model=None,
                tokenizer=None,
                weight=0.0,
                temperature=float(baseline["temperature"]),
                policy=ThresholdPolicy.from_json(baseline["policy"]),
                centroids=None,
                oos_cutoff=None,
            )
        )

    @classmethod
    def load(cls, version_dir: Path, cache_dir: Path) -> Router:
        """Load a saved version; its base encoder is resolved (and rebuilt once) offline."""
        from classifier.encoders import resolve_base_model

        try:
            manifest = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{version_dir} is not a model version: {exc}") from exc
        labels = tuple(manifest["labels"])
        tfidf = TfidfBaseline.load(version_dir / TFIDF_FILE)
        if tuple(tfidf.classes) != labels:
            raise ModelError(f"{version_dir}: the TF-IDF model's teams differ from the manifest")
        model = tokenizer = None
        centroids = None
        if manifest["kind"] == "transformer":
            base_dir = resolve_base_model(manifest["base_model"], cache_dir)
            expected = manifest.get("base_checksum")
            if expected and base_fingerprint(base_dir) != expected:
                raise ModelError(
                    f"{version_dir} was trained on another build of {manifest['base_model']} "
                    f"than the one at {base_dir}; retrain it"
                )
            model, tokenizer = load_finetuned(base_dir, version_dir)
            if manifest.get("quantized"):
                model = quantize_int8(model)
            if (version_dir / CENTROIDS_FILE).exists():
                centroids = np.load(version_dir / CENTROIDS_FILE)
        return cls(
            Components(
                version=manifest["version"],
                labels=labels,
                tfidf=tfidf,
                model=model,
                tokenizer=tokenizer,
                weight=float(manifest["weight"]),
                temperature=float(manifest["temperature"]),
                policy=ThresholdPolicy.from_json(manifest["policy"]),
                centroids=centroids,
                oos_cutoff=manifest.get("oos_cutoff"),
                quantized=bool(manifest.get("quantized")),
                pooling=_pooling(manifest.get("pooling", "product"), version_dir),
                top_label=_top_label(manifest.get("top_label_calibration"), version_dir),
                case_odds=_odds(manifest, "case_odds", version_dir, CASE_HEAD_FILE),
                thread_odds=_odds(manifest, "thread_odds", version_dir, THREAD_HEAD_FILE),
            )
        )


def _pooling(value: object, version_dir: Path) -> Pooling:
    """The manifest's pooling; versions saved before it existed blended by product."""
    for pooling in POOLINGS:
        if value == pooling:
            return pooling
    raise ModelError(f"{version_dir}: unknown pooling {value!r} in the manifest")


def _top_label(value: object, version_dir: Path) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
        and value[0] > 0
    ):
        return float(value[0]), float(value[1])
    raise ModelError(f"{version_dir}: bad top_label_calibration {value!r} in the manifest")


def _odds(manifest: dict[str, Any], key: str, version_dir: Path, head_file: str) -> CaseOdds | None:
    """The manifest's case or thread odds ``[a, b]`` (and the head when ``b`` is not 0);
    absent or null: not weighed."""
    value = manifest.get(key)
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(0.0 <= v <= 100.0 for v in value)
    ):
        raise ModelError(f"{version_dir}: bad {key} {value!r} in the manifest")
    a, b = float(value[0]), float(value[1])
    head = None
    if b != 0.0:
        if not (version_dir / head_file).exists():
            raise ModelError(f"{version_dir}: {key} need {head_file}, which is missing")
        head = TfidfBaseline.load(version_dir / head_file)
    return CaseOdds(a, b, head)
