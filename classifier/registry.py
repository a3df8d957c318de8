"""The model registry: versioned folders on disk, one of them active.

Layout under ``settings.models_path``::

    v0001/  manifest.json  (labels, kind, base model + fingerprint, blend weight,
                            temperature, thresholds, OOS cutoff, metrics, data hash)
            delta.safetensors, head.json   what fine-tuning changed (transformer kind)
            tfidf.npz                      the TF-IDF member / fallback (arrays, no pickle)
            centroids.npy                  team centroids for the out-of-scope score
            calibration.npz                out-of-sample scores the thresholds are certified
                                           on (re-thresholding needs no training)
            trained_on.npy                 ids of the mail it learnt from
            MODEL_CARD.md                  for people
    active.json   {"version": "v0003", "history": ["v0001", "v0003"]}

A version is written to a temporary folder and renamed into place, so a crash never leaves
a half-written version that looks complete. Promotion goes through :func:`promotion_gate`:
a candidate replaces the active version only when it is not worse on the frozen holdout.

Reading the registry (which version is active, its manifest) needs neither torch nor
numpy: the web app's dashboard and the worker's schedule read it; only saving and loading
a model bring in the heavy libraries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.version_files import (
    ACTIVE_FILE,
    CALIBRATION_FILE,
    CASE_HEAD_FILE,
    CENTROIDS_FILE,
    FLAG_HEAD_FILES,
    MANIFEST_FILE,
    TFIDF_FILE,
    THREAD_HEAD_FILE,
    TRAINED_ON_FILE,
)
from labeling.errors import ModelError

if TYPE_CHECKING:
    from classifier.baseline import TfidfBaseline
    from classifier.certify import CalibrationSet, Certificate
    from classifier.modeling import EncoderClassifier
    from classifier.router import Components

VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
# A candidate may trail the active version by this much macro-F1 on the holdout and still
# count as "not worse": holdout figures of a few hundred mails move by noise alone.
GATE_TOLERANCE = 0.005


@dataclass(frozen=True)
class VersionInfo:
    version: str
    path: Path
    manifest: dict[str, Any]

    @property
    def created_at(self) -> str:
        return str(self.manifest.get("created_at", ""))

    @property
    def holdout(self) -> dict[str, Any]:
        return dict(self.manifest.get("metrics", {}).get("holdout", {}))

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "candidate"))


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


def promotion_gate(
    candidate: Mapping[str, float], active: Mapping[str, float] | None
) -> GateDecision:
    """Promote when there is no active version, or the candidate's holdout macro-F1 and
    accuracy are not worse than the active version's on the same holdout."""
    if active is None:
        return GateDecision(True, "the first version: nothing to compare it with")
    worse = [
        f"{metric} {candidate[metric]:.4f} < {active[metric]:.4f}"
        for metric in ("macro_f1", "accuracy")
        if candidate[metric] < active[metric] - GATE_TOLERANCE
    ]
    if worse:
        return GateDecision(
            False, "worse than the active version on the holdout: " + ", ".join(worse)
        )
    return GateDecision(
        True,
        f"holdout macro-F1 {candidate['macro_f1']:.4f} vs active {active['macro_f1']:.4f}",
    )


@dataclass
class Registry:
    root: Path

    # Reading ----------------------------------------------------------------------

    def versions(self) -> list[VersionInfo]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and VERSION_PATTERN.match(path.name):
                manifest = path / MANIFEST_FILE
                if manifest.exists():
                    data = json.loads(manifest.read_text(encoding="utf-8"))
                    found.append(VersionInfo(path.name, path, data))
        return found

    def get(self, version: str) -> VersionInfo:
        for info in self.versions():
            if info.version == version:
                return info
        known = ", ".join(v.version for v in self.versions()) or "none"
        raise ModelError(f"no model version {version!r} (known: {known})")

    def _active_state(self) -> dict[str, Any]:
        path = self.root / ACTIVE_FILE
        if not path.exists():
            return {"version": None, "history": []}
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise ModelError(f"{path} is corrupt: {exc}; run `mailroom models promote`") from exc

    def active_version(self) -> str | None:
        version = self._active_state().get("version")
        return str(version) if version else None

    def active(self) -> VersionInfo | None:
        version = self.active_version()
        return self.get(version) if version else None

    def next_version(self) -> str:
        numbers = [int(VERSION_PATTERN.match(v.version).group(1)) for v in self.versions()]  # type: ignore[union-attr]
        return f"v{max(numbers, default=0) + 1:04d}"

    # Writing ----------------------------------------------------------------------

    def save(
        self,
        components: Components,
        *,
        kind: str,
        base_model: str,
        base_fingerprint: str | None,
        frozen: set[str],
        float_model: EncoderClassifier | None,
        metrics: Mapping[str, Any],
        facts: Mapping[str, Any],
        model_card: str,
        calibration: CalibrationSet | None = None,
        trained_on: Sequence[int] = (),
        flag_heads: Mapping[str, TfidfBaseline] | None = None,
    ) -> VersionInfo:
        """Write a new version folder atomically and return it (not yet active).

        ``calibration``: the out-of-sample scores its thresholds were certified on (kept,
        so another target can be certified without training); ``trained_on``: the ids of
        the mail it learnt from (a gate never compares versions on mail one of them saw);
        ``flag_heads``: the learned urgency/churn heads (:mod:`classifier.flags`; their
        thresholds and why a flag has none go in ``facts['flags']``).
        """
        import numpy as np

        from classifier.modeling import save_delta
        from labeling.files import make_private_dir, restrict_tree

        version = self.next_version()
        # Models hold what they learnt from mail (n-grams, embeddings): owner only.
        make_private_dir(self.root)
        tmp = self.root / f".{version}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        make_private_dir(tmp)
        components.tfidf.save(tmp / TFIDF_FILE)
        for flag, head in (flag_heads or {}).items():
            head.save(tmp / FLAG_HEAD_FILES[flag])
        for odds, head_file in (
            (components.case_odds, CASE_HEAD_FILE),
            (components.thread_odds, THREAD_HEAD_FILE),
        ):
            if odds is not None and odds.head is not None:
                odds.head.save(tmp / head_file)
        if components.model is not None:
            # A quantised model cannot give back float tensors: the delta is always saved
            # from the float model, and quantised again on load when the manifest says so.
            if float_model is None:
                raise ModelError("internal: a transformer version needs its float model")
            save_delta(float_model, frozen, tmp)
        if components.centroids is not None:
            np.save(tmp / CENTROIDS_FILE, components.centroids)
        if calibration is not None:
            calibration.save(tmp / CALIBRATION_FILE)
        np.save(tmp / TRAINED_ON_FILE, np.array(sorted(trained_on), dtype=np.int64))
        manifest = {
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "base_model": base_model,
            "base_checksum": base_fingerprint,
            "labels": list(components.labels),
            "weight": components.weight,
            "pooling": components.pooling,
            "top_label_calibration": (
                list(components.top_label) if components.top_label is not None else None
            ),
            "case_odds": (
                components.case_odds.to_json() if components.case_odds is not None else None
            ),
            "thread_odds": (
                components.thread_odds.to_json() if components.thread_odds is not None else None
            ),
            "temperature": components.temperature,
            "policy": components.policy.to_json(),
            "oos_cutoff": components.oos_cutoff,
            "quantized": components.quantized,
            "metrics": dict(metrics),
            "status": "candidate",
            **facts,
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (tmp / "MODEL_CARD.md").write_text(model_card, encoding="utf-8")
        restrict_tree(tmp)  # files 0600, folders 0700, whatever wrote them
        os.replace(tmp, self.root / version)
        return self.get(version)

    def trained_on(self, version: str) -> set[int]:
        """Ids of the mail ``version`` learnt from (empty for versions that did not record
        it)."""
        import numpy as np

        path = self.get(version).path / TRAINED_ON_FILE
        if not path.exists():
            return set()
        return {int(x) for x in np.load(path, allow_pickle=False)}

    def calibration(self, version: str) -> CalibrationSet | None:
        """The calibration set ``version`` keeps, or None."""
        from classifier.certify import CalibrationSet

        path = self.get(version).path / CALIBRATION_FILE
        return CalibrationSet.load(path) if path.exists() else None

    def set_target(
        self, version: str, target: float, *, max_unknown_share: float | None = None
    ) -> Certificate:
        """Certify ``version``'s thresholds for another target precision from its kept
        calibration set, at once and without training; the new policy replaces the old in
        the manifest (which workers watch). Raises :class:`ModelError` when the version
        kept no calibration set."""
        from classifier.certify import thresholds_for

        info = self.get(version)
        calibration = self.calibration(version)
        if calibration is None:
            raise ModelError(f"{version} kept no calibration set: retrain to re-threshold it")
        if not 0.5 < target < 1.0:
            raise ModelError(f"a target precision lies between 0.5 and 1, not {target}")
        manifest = dict(info.manifest)
        share = (
            float(manifest.get("certificate", {}).get("max_unknown_share", 0.0))
            if max_unknown_share is None
            else max_unknown_share
        )
        delta = float(manifest.get("policy", {}).get("delta", 0.1))
        policy, certificate = thresholds_for(calibration, target, delta, max_unknown_share=share)
        history = list(manifest.get("target_history", []))
        history.append(
            {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "from": manifest.get("policy", {}).get("target_precision"),
                "to": target,
            }
        )
        manifest.update(
            policy=policy.to_json(),
            certificate=certificate.to_json(),
            target_history=history,
        )
        self._write_json(info.path / MANIFEST_FILE, manifest)
        return certificate

    def set_status(self, version: str, status: str, reason: str) -> None:
        info = self.get(version)
        manifest = dict(info.manifest)
        manifest["status"] = status
        manifest["status_reason"] = reason
        self._write_json(info.path / MANIFEST_FILE, manifest)

    def promote(self, version: str, reason: str) -> bool:
        """Make ``version`` active (the gate is the caller's job; see promotion_gate).

        False, and nothing changes, when it is active already: its reason (why it was
        promoted) is kept rather than rewritten."""
        info = self.get(version)
        state = self._active_state()
        if state.get("version") == version and info.status == "active":
            return False
        history = [v for v in state.get("history", []) if v != version] + [version]
        previous = state.get("version")
        if previous and previous != version:
            self.set_status(previous, "retired", f"replaced by {version}")
        self._write_json(self.root / ACTIVE_FILE, {"version": version, "history": history})
        self.set_status(version, "active", reason)
        return True

    def rollback(self) -> str:
        """Re-activate the version that was active before the current one."""
        state = self._active_state()
        history = list(state.get("history", []))
        if len(history) < 2:
            raise ModelError("nothing to roll back to: no earlier active version")
        current = history.pop()
        previous = history[-1]
        self._write_json(self.root / ACTIVE_FILE, {"version": previous, "history": history})
        self.set_status(current, "rolled-back", f"rolled back to {previous}")
        self.set_status(previous, "active", f"restored by rollback from {current}")
        return previous

    @staticmethod
    def _write_json(path: Path, data: Mapping[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
