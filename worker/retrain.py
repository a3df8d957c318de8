"""Retraining on a schedule, in a child process, so the worker never imports training code.

When enough person labels have arrived since the last training
(:func:`classifier.retraining.retrain_check`, ``MAILROOM_RETRAIN_MIN_NEW_LABELS``), the beat
task runs ``mailroom retrain --if-due`` as a child process under a database lease, so one
retrain runs at a time across all workers. The new version is promoted only through the
classifier's holdout gate; the registry keeps a refused version with the reason. Workers
pick a promoted version up with the next mail.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from labeling.settings import Settings

log = logging.getLogger(__name__)

RETRAIN_LEASE = "retrain"


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
