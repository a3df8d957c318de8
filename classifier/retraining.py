"""When a retrain is due: enough new person labels since the newest model version.

Light on purpose (the registry's manifests and a count in the store, no torch): the
worker's beat task asks it before starting a retrain child, and ``mailroom retrain
--if-due`` asks it again in that child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from classifier.registry import Registry
from labeling.annotation.export import person_labels_since
from labeling.settings import Settings
from labeling.store.db import session_scope


@dataclass(frozen=True, slots=True)
class RetrainCheck:
    due: bool
    new_labels: int
    needed: int
    last_version: str | None

    def describe(self) -> str:
        since = f"since {self.last_version}" if self.last_version else "(no version yet)"
        verdict = "due" if self.due else "not due"
        return f"{self.new_labels} new person labels {since}; {self.needed} needed: {verdict}"


def retrain_check(
    settings: Settings, sessions: sessionmaker[Session], *, min_new: int | None = None
) -> RetrainCheck:
    """Whether enough person labels arrived since the newest version (kept or refused)."""
    needed = min_new if min_new is not None else settings.retrain_min_new_labels
    versions = Registry(settings.models_path).versions()
    newest = max(versions, key=lambda v: v.version) if versions else None  # v0001, v0002 …
    stamp = str(newest.manifest.get("labels_read_at") or newest.created_at) if newest else ""
    since = datetime.fromisoformat(stamp) if stamp else None
    with session_scope(sessions) as session:
        count = person_labels_since(session, since)
    return RetrainCheck(count >= needed, count, needed, newest.version if newest else None)
