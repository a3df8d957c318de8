"""A mail's urgency and churn flags, from the learned heads where a model version has them
and from the cue list (:mod:`labeling.rules.cues`) for the rest, saying which (issue 14
item 3). Pure values: the worker and the API build them, routing records them, rules match
on them, :mod:`labeling.live.explain` words them.

What a routing decision records under ``details`` for a flag that is set:

- learned: ``{"source": "model", "score": 0.91, "threshold": 0.62, "model_version": "v0003"}``
- cue list: ``{"source": "cue list", "cues": ["spoed"]}``

(Decisions recorded before the heads existed hold a list of cues and ``flags_source``.)
A flag that is not set is not recorded, so ``bool(details.get("urgent"))`` says whether it
was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labeling.rules.cues import SOURCE as CUE_SOURCE
from labeling.rules.cues import CueFlags

FLAG_NAMES = ("urgent", "churn")
MODEL_SOURCE = "model"


@dataclass(frozen=True, slots=True)
class LearnedFlag:
    """A learned head's judgement of one flag for one mail."""

    score: float
    threshold: float  # certified for the head's precision target on cross-fitted scores
    model_version: str

    @property
    def on(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True, slots=True)
class MailFlags:
    """Both flags of one mail: a flag the model has a head for is the head's, else the
    cue list's."""

    cues: CueFlags = field(default_factory=CueFlags)
    learned: Mapping[str, LearnedFlag] = field(default_factory=dict)

    def source(self, flag: str) -> str:
        return MODEL_SOURCE if flag in self.learned else CUE_SOURCE

    def on(self, flag: str) -> bool:
        if flag in self.learned:
            return self.learned[flag].on
        return bool(getattr(self.cues, flag))

    @property
    def names(self) -> tuple[str, ...]:
        """The flags that are set, as rule conditions name them ('urgent', 'churn')."""
        return tuple(flag for flag in FLAG_NAMES if self.on(flag))

    @property
    def urgent(self) -> bool:
        return self.on("urgent")

    def details(self) -> dict[str, Any]:
        """What a routing decision records (see the module doc); empty when none is set."""
        out: dict[str, Any] = {}
        for flag in self.names:
            learned = self.learned.get(flag)
            if learned is not None:
                out[flag] = {
                    "source": MODEL_SOURCE,
                    "score": round(learned.score, 4),
                    "threshold": round(learned.threshold, 4),
                    "model_version": learned.model_version,
                }
            else:
                out[flag] = {"source": CUE_SOURCE, "cues": list(getattr(self.cues, flag))}
        return out


def flag_words(flag: str, recorded: Any, legacy_source: str = CUE_SOURCE) -> str:
    """One flag as a person reads it: "urgent: 0.91 (model)", "urgent (cue list:
    'spoed')"; ``recorded`` is what :meth:`MailFlags.details` wrote (or an older list of
    cues)."""
    name = "wants to leave" if flag == "churn" else flag
    if isinstance(recorded, Mapping):
        if recorded.get("source") == MODEL_SOURCE and recorded.get("score") is not None:
            return f"{name}: {float(recorded['score']):.2f} ({MODEL_SOURCE})"
        cues = recorded.get("cues") or ()
    else:
        cues = recorded if isinstance(recorded, list | tuple) else ()
    listed = ", ".join(f"'{cue}'" for cue in cues)
    return f"{name} ({legacy_source}: {listed})" if listed else f"{name} ({legacy_source})"


def recorded_source(recorded: Any) -> str | None:
    """Which source set a recorded flag ('model', 'cue list'), None when it is not set."""
    if not recorded:
        return None
    if isinstance(recorded, Mapping):
        return str(recorded.get("source") or CUE_SOURCE)
    return CUE_SOURCE
