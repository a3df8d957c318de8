"""Retraining on a schedule: is it due, and running it without importing training code.

The worker serves; it never imports the training side (``classifier.training`` pulls in
datasets and the trainer). When enough person labels have arrived since the last training
(``MAILROOM_RETRAIN_MIN_NEW_LABELS``), the beat task runs ``mailroom retrain`` as a child
process under a database lease, so one retrain runs at a time across all workers. The new
version is promoted only through the classifier's holdout gate; the registry keeps a
refused version with the reason. Workers pick a promoted version up with the next mail.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from classifier.registry import Registry
from labeling.annotation.export import person_labels_since
from labeling.settings import Settings
from labeling.store.db import session_scope

log = logging.getLogger(__name__)

RETRAIN_LEASE = "retrain"


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


def run_retrain(settings: Settings) -> int:
    """``mailroom retrain --if-due`` in a child process; its exit status (124: timed out).
    The child reads the same settings from the environment as this process."""
    command = [sys.executable, "-m", "mailroom", "retrain", "--if-due"]
    log.info("retraining: %s", " ".join(command))
    try:
        completed = subprocess.run(
            command, check=False, timeout=settings.retrain_timeout, capture_output=True, text=True
        )
    except subprocess.TimeoutExpired:
        log.error("retrain stopped after %.0f s", settings.retrain_timeout)
        return 124
    for line in (completed.stdout + completed.stderr).strip().splitlines()[-20:]:
        log.info("retrain: %s", line)
    return completed.returncode
