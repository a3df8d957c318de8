"""Celery tasks. Each takes a message id, loads its rows, and lets :mod:`worker.driver`
move the mail on; the state checks there make a redelivered task harmless.

Retries: a transient IMAP, SMTP or database error is retried with exponential backoff and
jitter up to ``task_max_retries`` times; a permanent error, or the last retry, quarantines
the mail with the reason (a person then sees it in review). Nothing is dropped.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid

from celery import Task, shared_task
from kombu.exceptions import OperationalError

from classifier.retraining import learn_unknown_share, retrain_check
from labeling.errors import MailServerError, StoreError
from labeling.store.privacy import expire_all
from worker import leases
from worker.driver import HANDED_OFF, advance, quarantine, stale_messages
from worker.retrain import RETRAIN_LEASE, run_retrain
from worker.runtime import Runtime

log = logging.getLogger(__name__)


def runtime(task: Task) -> Runtime:
    """The process-wide :class:`Runtime` of the task's Celery app (see make_celery)."""
    found: Runtime | None = getattr(task.app, "mailroom_runtime", None)
    if found is None:
        raise RuntimeError("this Celery app was not built by worker.celery.make_celery")
    return found


def retry_delay(retries: int, cap: float) -> float:
    """Exponential backoff with full jitter: up to 1, 2, 4 … seconds, at most ``cap``."""
    return min(cap, 2.0**retries) * (0.5 + random.random() / 2)


def _advance_or_retry(task: Task, message_id: int, *, handoff: bool = False) -> str:
    services = runtime(task).services()
    settings = services.settings
    try:
        outcome = advance(services, message_id, handoff=handoff)
        if outcome.note == HANDED_OFF:
            try:
                forward_message.delay(message_id)
            except OperationalError as exc:
                # Recorded as 'forwarding': the sweep queues it again once the broker is back.
                log.warning(
                    "message %d: could not queue its forward (the sweep will): %s", message_id, exc
                )
        return outcome.state or "unknown"
    except (MailServerError, StoreError) as exc:
        transient = getattr(exc, "transient", True)
        retries = task.request.retries
        if transient and retries < settings.task_max_retries:
            delay = retry_delay(retries, settings.retry_backoff_max)
            log.warning("message %d: %s; retry %d in %.1f s", message_id, exc, retries + 1, delay)
            raise task.retry(exc=exc, countdown=delay) from exc
        why = "permanent error" if not transient else f"still failing after {retries} retries"
        log.error("message %d: %s (%s); quarantining it", message_id, exc, why)
        quarantine(services, message_id, f"{exc} ({why})")
        return "quarantined"


@shared_task(bind=True, name="mailroom.route_message", max_retries=None)
def route_message(self: Task, message_id: int) -> str:
    """Route one recorded live mail: to review, filed, or on to the forward queue, which
    sends it and marks it done. Safe to run twice."""
    return _advance_or_retry(self, message_id, handoff=True)


@shared_task(bind=True, name="mailroom.forward_message", max_retries=None)
def forward_message(self: Task, message_id: int) -> str:
    """Send a routed mail and mark it done in its mailbox; also a mail a person decided in
    review (the review UI resolves the review item, then queues this). Safe to run twice."""
    return _advance_or_retry(self, message_id)


@shared_task(bind=True, name="mailroom.sweep")
def sweep(self: Task) -> int:
    """Queue again every live mail that no task seems to be moving (beat runs this)."""
    services = runtime(self).services()
    ids = stale_messages(services)
    for message_id in ids:
        route_message.delay(message_id)
    if ids:
        log.info("sweep queued %d stuck mail(s) again", len(ids))
    return len(ids)


@shared_task(bind=True, name="mailroom.retrain_if_due")
def retrain_if_due(self: Task) -> str:
    """Retrain when enough person labels arrived since the last training (beat runs this
    every ``retrain_interval``); one retrain at a time across workers, by lease. First, the
    active version is re-thresholded if people see more mail for no team than its
    certificate holds for (:func:`learn_unknown_share`)."""
    services = runtime(self).services()
    settings = services.settings
    learned = learn_unknown_share(settings, services.sessions)
    if learned is not None:
        log.info(
            "people closed more live mail as 'no team' than the certificate held for: "
            "re-thresholded for up to %.1f %% of unknown mail (%s)",
            100 * learned.max_unknown_share,
            "certified" if learned.certified else "nothing certified",
        )
    check = retrain_check(settings, services.sessions)
    if not check.due:
        log.info("retrain: %s", check.describe())
        return "not due"
    # Unique per run: two runs in one process (task threads) must not share the lease.
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not leases.acquire(services.sessions, RETRAIN_LEASE, holder, settings.retrain_timeout + 60):
        return "another worker is retraining"
    try:
        log.info("retrain: %s", check.describe())
        status = run_retrain(settings)
    finally:
        leases.release(services.sessions, RETRAIN_LEASE, holder)
    return "retrained" if status == 0 else f"retrain failed ({status})"


@shared_task(bind=True, name="mailroom.expire_raw")
def expire_raw(self: Task) -> int:
    """Drop the raw bytes of routed live mail older than ``retention_days`` (beat runs this
    hourly); the logic and what is kept are in :mod:`labeling.store.privacy`."""
    services = runtime(self).services()
    settings = services.settings
    if not settings.retention_days:
        return 0
    count = expire_all(
        services.sessions, days=settings.retention_days, pseudonymiser=settings.pseudonymiser()
    )
    if count:
        log.info("retention: expired the raw mail of %d live mail(s)", count)
    return count
