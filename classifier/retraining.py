"""When a retrain is due: enough new person labels since the newest model version; and,
between trainings, whether the share of mail for no team people see asks for new thresholds.

Light on purpose (the registry's manifests and a count in the store, no torch): the
worker's beat task asks it before starting a retrain child, and ``mailroom retrain
--if-due`` asks it again in that child.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from classifier.registry import Registry
from labeling.annotation.export import person_labels_since
from labeling.settings import Settings
from labeling.store.db import session_scope

if TYPE_CHECKING:
    from classifier.certify import Certificate


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


def learn_unknown_share(settings: Settings, sessions: sessionmaker[Session]) -> Certificate | None:
    """Between trainings: re-threshold the active version when people closed significantly
    more live mail as "no team" than its certificate holds for
    (:func:`classifier.certify.unknown_share_to_certify`), at the same target, with an
    audit row. The beat asks this with every retrain check; None when nothing changed."""
    from labeling.live.stats import unknown_share
    from labeling.store import audit

    registry = Registry(settings.models_path)
    info = registry.active()
    calibration = registry.calibration(info.version) if info is not None else None
    if info is None or calibration is None:
        return None
    certificate = info.manifest.get("certificate", {})
    policy = info.manifest.get("policy", {})
    with session_scope(sessions) as session:
        live = unknown_share(session)
        used = calibration.unknown_share_used(
            settings.max_unknown_share,
            live.no_team,
            live.settled,
            float(certificate.get("delta", 0.1)),
        )
        if not used.learned or used.share <= float(certificate.get("max_unknown_share", 0.0)):
            return None
        target = float(policy.get("target_precision", settings.target_precision))
        new = registry.set_target(info.version, target, max_unknown_share=used.share)
        audit.record(
            session,
            "worker",
            "unknown-share-learned",
            version=info.version,
            no_team=used.no_team,
            settled=used.settled,
            share=used.share,
            coverage=new.coverage,
            certified=new.certified,
        )
    return new
