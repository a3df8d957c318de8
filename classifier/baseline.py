"""The TF-IDF linear model: the fallback while labels are few, and the comparator in every report.

Word 1–2-grams plus character 2–5-grams within word boundaries (robust to typos and Dutch
compounds), sublinear term frequencies, and a multinomial logistic regression, whose
probabilities feed the same calibration and threshold code as the transformer.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from labeling.errors import ModelError


@dataclass(frozen=True)
class BaselineArguments:
    """Knobs of the TF-IDF model; the defaults were chosen on validation splits only."""

    c: float = 10.0  # weak regularisation: many rare but telling n-grams
    max_iter: int = 3000
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 1
    seed: int = 0


class TfidfBaseline:
    """A fitted TF-IDF + logistic-regression classifier over plain texts."""

    def __init__(self, args: BaselineArguments | None = None) -> None:
        self.args = args or BaselineArguments()
        self._pipeline: Pipeline | None = None

    @property
    def classes(self) -> list[str]:
        if self._pipeline is None:
            raise ModelError("the TF-IDF model is not fitted")
        return [str(c) for c in self._pipeline.classes_]

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfBaseline:
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        if len(set(labels)) < 2:
            raise ModelError("the TF-IDF model needs labels of at least two teams")
        a = self.args
        features = FeatureUnion(
            [
                (
                    "word",
                    TfidfVectorizer(ngram_range=a.word_ngrams, sublinear_tf=True, min_df=a.min_df),
                ),
                (
                    "char",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=a.char_ngrams,
                        sublinear_tf=True,
                        min_df=a.min_df,
                    ),
                ),
            ]
        )
        classifier = LogisticRegression(C=a.c, max_iter=a.max_iter, random_state=a.seed)
        self._pipeline = Pipeline([("features", features), ("classifier", classifier)])
        self._pipeline.fit(list(texts), list(labels))
        return self

    def decision_logits(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Unnormalised scores (log-probabilities), the input temperature scaling expects."""
        if self._pipeline is None:
            raise ModelError("the TF-IDF model is not fitted")
        probs = self._pipeline.predict_proba(list(texts))
        return np.log(np.clip(probs, 1e-12, 1.0))

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        if self._pipeline is None:
            raise ModelError("the TF-IDF model is not fitted")
        return np.asarray(self._pipeline.predict_proba(list(texts)), dtype=np.float64)

    def predict(self, texts: Sequence[str]) -> list[str]:
        probs = self.predict_proba(texts)
        classes = self.classes
        return [classes[i] for i in probs.argmax(axis=1)]

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self._pipeline, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: Path) -> TfidfBaseline:
        # Only files this program wrote into its own model registry are loaded here.
        try:
            pipeline = pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            raise ModelError(f"cannot load the TF-IDF model at {path}: {exc}") from exc
        model = cls()
        model._pipeline = pipeline
        return model
