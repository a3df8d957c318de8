"""The urgency and churn heads, predict side: per flag, a small TF-IDF + logistic-regression
model (:class:`classifier.baseline.TfidfBaseline` over "yes"/"no") learnt from the flags
people gave with their labels, and the threshold certified for it at training
(:mod:`classifier.flag_training`). A model version keeps a head only for a flag that had
enough labels and a certifiable threshold; for the others its manifest says why, and the
cue list (:mod:`labeling.rules.cues`) stands in.

The manifest's ``flags`` entry, per flag: ``source`` ('model' or 'cue list'), ``reason``,
``positives``/``negatives`` (labelled mails), ``min_positives``, ``target_precision``,
``threshold`` (None without a head), ``certificate`` and cross-fitted ``precision`` and
``recall`` at the threshold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from classifier.baseline import TfidfBaseline
from classifier.version_files import FLAG_HEAD_FILES, MANIFEST_FILE
from labeling.errors import ModelError
from labeling.rules.flags import FLAG_NAMES, MODEL_SOURCE, LearnedFlag

YES, NO = "yes", "no"


def positive_scores(head: TfidfBaseline, texts: Sequence[str]) -> NDArray[np.float64]:
    """The head's probability that each text carries the flag."""
    if not texts:
        return np.zeros(0)
    classes = head.classes
    if YES not in classes:
        raise ModelError(f"a flag head must know the classes {YES!r}/{NO!r}, not {classes}")
    return head.predict_proba(texts)[:, classes.index(YES)]


@dataclass(frozen=True)
class FlagHead:
    flag: str
    model: TfidfBaseline
    threshold: float


@dataclass(frozen=True)
class FlagHeads:
    """A model version's learned flag heads (possibly none)."""

    version: str
    heads: Mapping[str, FlagHead]

    def judge(self, texts: Sequence[str]) -> list[dict[str, LearnedFlag]]:
        """Per text, each learned flag's score against its threshold."""
        out: list[dict[str, LearnedFlag]] = [{} for _ in texts]
        for flag, head in self.heads.items():
            for i, score in enumerate(positive_scores(head.model, texts)):
                out[i][flag] = LearnedFlag(float(score), head.threshold, self.version)
        return out

    @classmethod
    def load(cls, version_dir: Path) -> FlagHeads:
        """The heads a saved version keeps (none for a version trained before them)."""
        try:
            manifest = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{version_dir} is not a model version: {exc}") from exc
        heads: dict[str, FlagHead] = {}
        for flag, entry in (manifest.get("flags") or {}).items():
            if flag not in FLAG_NAMES or entry.get("source") != MODEL_SOURCE:
                continue
            path = version_dir / FLAG_HEAD_FILES[flag]
            if entry.get("threshold") is None:
                raise ModelError(f"{version_dir}: the {flag} head has no threshold")
            heads[flag] = FlagHead(flag, TfidfBaseline.load(path), float(entry["threshold"]))
        return cls(str(manifest.get("version", version_dir.name)), heads)


def flag_sources(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Which source serves each flag for a version's manifest: 'model' or 'cue list'."""
    entries = manifest.get("flags") or {}
    return {
        flag: MODEL_SOURCE
        if (entries.get(flag) or {}).get("source") == MODEL_SOURCE
        else "cue list"
        for flag in FLAG_NAMES
    }
