"""The TF-IDF linear model: the fallback while labels are few, and the comparator in every report.

Word 1–2-grams plus character 2–5-grams within word boundaries (robust to typos and Dutch
compounds), sublinear term frequencies, and a multinomial logistic regression, whose
probabilities feed the same calibration and threshold code as the transformer.

Saved without pickle (a pickle runs code when loaded, so a writable model folder would be
a way in): one ``.npz`` of plain arrays — each vectoriser's terms and IDF weights, the
regression's coefficients — plus its settings as JSON, loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
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
    # 'balanced' weighs a rare class up (the urgency and churn heads: a few % of mail).
    class_weight: str | None = None
    # Sentence embeddings of a second model family beside the n-grams (classifier.sentence),
    # multiplied by this (0: none). The n-gram rows have unit length in each of the two
    # vectorisers; 2 gives the embeddings' 512 numbers the weight that ranked BANKING77's
    # 10-per-label validation carve best (1: 0.77, 2: 0.79, 3: 0.79).
    sentence_scale: float = 0.0


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

    @property
    def reads_sentences(self) -> bool:
        """Whether sentence embeddings are among its features (classifier.sentence)."""
        if self._pipeline is None:
            return False
        features: FeatureUnion = self._pipeline.named_steps["features"]
        return any(isinstance(part, SentenceFeatures) for _, part in features.transformer_list)

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
        if a.sentence_scale > 0:
            features.transformer_list.append(("sentence", SentenceFeatures(a.sentence_scale)))
        classifier = LogisticRegression(
            C=a.c, max_iter=a.max_iter, random_state=a.seed, class_weight=a.class_weight
        )
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
        """Write the fitted model to ``path`` (``.npz``, owner-only: it holds n-grams of
        the mail it learnt from)."""
        from labeling.files import write_private

        if self._pipeline is None:
            raise ModelError("the TF-IDF model is not fitted")
        features: FeatureUnion = self._pipeline.named_steps["features"]
        classifier: LogisticRegression = self._pipeline.named_steps["classifier"]
        arrays: dict[str, NDArray[Any]] = {}
        params: dict[str, dict[str, Any]] = {}
        sentence: dict[str, Any] | None = None
        for name, vectorizer in features.transformer_list:
            if isinstance(vectorizer, SentenceFeatures):
                sentence = vectorizer.describe()
                continue
            vocabulary: dict[str, int] = vectorizer.vocabulary_
            terms = np.empty(len(vocabulary), dtype=object)
            for term, index in vocabulary.items():
                terms[index] = term
            arrays[f"{name}_terms"] = terms.astype(str)
            arrays[f"{name}_idf"] = np.asarray(vectorizer.idf_, dtype=np.float64)
            params[name] = {key: _plain(vectorizer.get_params()[key]) for key in _VECTOR_PARAMS}
        arrays["coef"] = np.asarray(classifier.coef_, dtype=np.float64)
        arrays["intercept"] = np.asarray(classifier.intercept_, dtype=np.float64)
        arrays["classes"] = np.asarray([str(c) for c in classifier.classes_])
        meta: dict[str, Any] = {"format": FORMAT, "vectorizers": params}
        if sentence is not None:
            meta["sentence"] = sentence
        arrays["meta"] = np.asarray(json.dumps(meta))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # names only
        write_private(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> TfidfBaseline:
        """A model :meth:`save` wrote; :class:`ModelError` for anything else (a pickle of
        an older Mailroom included: retrain)."""
        if not path.exists() and path.with_suffix(".pkl").exists():
            raise ModelError(
                f"the TF-IDF model at {path.with_suffix('.pkl')} was saved with pickle by an "
                "older Mailroom, which is no longer loaded; train a new version "
                "(`mailroom train`)"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"unknown format {meta.get('format')!r}")
                parts = []
                for name, params in meta["vectorizers"].items():
                    vectorizer = TfidfVectorizer(
                        **{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
                    )
                    terms = data[f"{name}_terms"]
                    vectorizer.vocabulary_ = {str(t): i for i, t in enumerate(terms)}
                    vectorizer.idf_ = data[f"{name}_idf"]
                    parts.append((name, vectorizer))
                if meta.get("sentence") is not None:
                    parts.append(("sentence", SentenceFeatures.restore(meta["sentence"])))
                classifier = LogisticRegression()
                classifier.coef_ = data["coef"]
                classifier.intercept_ = data["intercept"]
                classifier.classes_ = data["classes"]
                classifier.n_features_in_ = int(data["coef"].shape[1])
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot load the TF-IDF model at {path}: {exc}") from exc
        model = cls()
        model._pipeline = Pipeline([("features", FeatureUnion(parts)), ("classifier", classifier)])
        return model


class SentenceFeatures(BaseEstimator, TransformerMixin):
    """The sentence encoder's embeddings as features (classifier.sentence), times ``scale``:
    nothing is fitted, so a saved model keeps only the scale and which encoder it was."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, texts: Sequence[str], labels: Any = None) -> SentenceFeatures:
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        from classifier.sentence import embed

        return sparse.csr_matrix(embed(list(texts)) * np.float32(self.scale))

    def describe(self) -> dict[str, Any]:
        from classifier.sentence import MODEL, package_version

        return {"model": MODEL, "version": package_version(), "scale": float(self.scale)}

    @classmethod
    def restore(cls, saved: dict[str, Any]) -> SentenceFeatures:
        """Features the model was fitted on; :class:`ModelError` if this install would
        embed differently (another encoder, or another release of its package)."""
        from classifier.sentence import MODEL, PACKAGE, package_version

        if saved.get("model") != MODEL or saved.get("version") != package_version():
            raise ModelError(
                f"the model was fitted on sentence embeddings of {saved.get('model')} "
                f"{saved.get('version')}; this install has {MODEL} {package_version()} "
                f"({PACKAGE}): train a new version"
            )
        return cls(float(saved["scale"]))


FORMAT = "mailroom-tfidf-1"
# What a vectoriser needs to turn text into the same features again.
_VECTOR_PARAMS = (
    "analyzer",
    "ngram_range",
    "sublinear_tf",
    "lowercase",
    "norm",
    "use_idf",
    "smooth_idf",
    "token_pattern",
    "strip_accents",
    "min_df",
)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
