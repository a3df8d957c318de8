"""The active model, loaded once per worker process and swapped when another is promoted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.registry import Registry
from classifier.scoring import Prediction
from classifier.thresholds import ThresholdPolicy
from labeling.errors import ModelError

if TYPE_CHECKING:
    from classifier.flags import FlagHeads
    from classifier.router import Router
    from labeling.rules.flags import LearnedFlag

log = logging.getLogger(__name__)


class ModelCache:
    """Predicts with the registry's active version.

    The registry is asked for the active version on every call (one small file read), so a
    promotion or rollback takes effect with the next mail, without restarting workers.
    Thread-safe: loading happens under a lock, predicting is read-only.
    """

    def __init__(self, models_path: Path, cache_path: Path) -> None:
        self._registry = Registry(models_path)
        self._cache_path = cache_path
        self._lock = threading.Lock()
        self._router: Router | None = None
        self._flag_heads: FlagHeads | None = None

    def active(self) -> bool:
        """True when a version is active (else every mail goes to review)."""
        return self._registry.active_version() is not None

    def router(self) -> Router | None:
        """The active version's router, loaded on first use; None without one."""
        info = self._registry.active()
        if info is None:
            return None
        with self._lock:
            if self._router is None or self._router.version != info.version:
                # Imported here: torch and transformers take seconds to import, and a worker
                # without a model (all mail to review) never needs them.
                from classifier.router import Router

                log.info("loading model %s from %s", info.version, info.path)
                self._router = Router.load(info.path, self._cache_path)
            elif self._router.c.policy.to_json() != info.manifest.get("policy"):
                # An admin chose another target: the thresholds change, the model does not.
                self._router.c.policy = ThresholdPolicy.from_json(info.manifest["policy"])
                log.info(
                    "model %s: thresholds for target precision %s",
                    info.version,
                    self._router.c.policy.target_precision,
                )
            return self._router

    def flag_heads(self) -> FlagHeads | None:
        """The active version's urgency and churn heads (possibly none), loaded once per
        version; None without an active version."""
        info = self._registry.active()
        if info is None:
            return None
        with self._lock:
            if self._flag_heads is None or self._flag_heads.version != info.version:
                from classifier.flags import FlagHeads  # scikit-learn: only once a model loads

                self._flag_heads = FlagHeads.load(info.path)
            return self._flag_heads

    def flags(self, texts: Sequence[str]) -> list[dict[str, LearnedFlag]]:
        """Per text, the learned flags of the active version (empty where it has no head:
        the cue list stands in for those)."""
        heads = self.flag_heads()
        if heads is None:
            return [{} for _ in texts]
        return heads.judge(texts)

    def warm_up(self) -> None:
        """Load the active version now, so the first mail is not slowed down by it."""
        self.router()

    def predict(
        self,
        texts: Sequence[str],
        known_teams: Collection[str],
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        """A prediction per text with the active version; ModelError without one."""
        router = self.router()
        if router is None:
            raise ModelError("no active model version; train one with `mailroom train`")
        return router.predict(
            texts, known_teams=known_teams, case_teams=case_teams, thread_teams=thread_teams
        )
