"""The Celery app, built from the settings (no app at import time).

::

    app = make_celery(settings)            # tasks from worker.tasks, the beat schedule
    app = make_celery(settings, watch=True)  # …and, in a worker, the mailbox watchers

Reliability settings: a task is acknowledged only after it ran (``task_acks_late``) and
given back when its worker process dies (``task_reject_on_worker_lost``); each worker takes
one message at a time (``worker_prefetch_multiplier=1``); JSON only; no result backend.
The beat schedule runs :func:`worker.tasks.sweep` every ``sweep_interval`` seconds and
:func:`worker.tasks.retrain_if_due` every ``retrain_interval`` seconds.

The embedded default broker is kombu's SQLAlchemy transport on a SQLite file in the
instance folder (``sqla+sqlite:///…/broker.sqlite3``): no server needed.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery, signals
from kombu.exceptions import OperationalError

from labeling.errors import MailroomError
from labeling.settings import Settings
from labeling.store.db import check_schema
from worker.runtime import Runtime

log = logging.getLogger(__name__)


def make_celery(settings: Settings, *, watch: bool = False) -> Celery:
    """A Celery app for ``settings``; with ``watch``, a worker started from it also watches
    the configured mailboxes (one watcher per mailbox across all workers, by lease)."""
    app = Celery("mailroom", set_as_current=False)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app.conf.update(
        broker_url=settings.celery_broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        # Threads: tasks wait on SMTP/IMAP/database, and one model copy serves them all.
        worker_pool="threads",
        worker_concurrency=settings.worker_concurrency,
        imports=("worker.tasks",),
        beat_schedule={
            "mailroom-sweep": {"task": "mailroom.sweep", "schedule": settings.sweep_interval},
            "mailroom-retrain": {
                "task": "mailroom.retrain_if_due",
                "schedule": settings.retrain_interval,
            },
        },
        beat_schedule_filename=str(settings.instance_path / "celerybeat-schedule"),
        timezone="UTC",
    )
    runtime = Runtime(settings)
    app.mailroom_runtime = runtime
    if watch:
        _install_watchers(app, runtime)
    return app


def _transport_options(settings: Settings) -> dict[str, Any]:
    # Redis hands a task taken by a dead worker to another after visibility_timeout; the
    # SQLAlchemy transport passes its options to create_engine, which knows no such thing.
    if settings.celery_broker_url.startswith(("redis://", "rediss://")):
        return {"visibility_timeout": settings.broker_visibility_timeout}
    return {}


def prepare_broker(app: Celery, attempts: int = 5) -> None:
    """Declare the task queue once before worker and beat start.

    kombu's SQLAlchemy transport creates a queue's row on first use; a worker and its
    embedded beat starting together both insert it, and the loser dies on the unique
    constraint. Declaring it here first (retrying that same race with another process)
    leaves both to find the row.
    """
    if not app.conf.broker_url.startswith("sqla+"):
        return
    from kombu import Queue
    from sqlalchemy.exc import IntegrityError

    for attempt in range(attempts):
        try:
            with _embedded_broker_quiet(app), app.connection_for_write() as connection:
                Queue(app.conf.task_default_queue, channel=connection.default_channel).declare()
            return
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


@contextmanager
def _embedded_broker_quiet(app: Celery) -> Iterator[None]:
    """kombu's SQLAlchemy transport maps a relationship with lazy='noload', which
    SQLAlchemy 2.1 deprecates (it still works); the warning comes once per process, on
    first use. Silenced narrowly here, so callers that turn warnings into errors (the test
    suite, a web app under test) can use the embedded broker."""
    if not app.conf.broker_url.startswith("sqla+"):
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The ``noload`` loader strategy is deprecated")
        yield


def send(app: Celery, task: str, message_id: int) -> None:
    """Queue ``task`` for ``message_id``. Raises kombu's OperationalError when the broker
    cannot be reached (after Celery's own short publish retries)."""
    with _embedded_broker_quiet(app):
        app.send_task(task, args=[message_id])


def enqueue_forward(app: Celery, message_id: int) -> None:
    """Queue the forward of a mail a person decided (the review UI calls this after it
    resolved the review item). Raises kombu's OperationalError when the broker is down:
    the UI should say so; the periodic sweep also queues resolved items it finds."""
    send(app, "mailroom.forward_message", message_id)


def enqueue_route(app: Celery) -> Callable[[int], None]:
    """A function that queues ``mailroom.route_message`` for a message id, logging (not
    raising) when the broker is unreachable: the mail is recorded, and the sweep queues
    it once the broker is back."""

    def enqueue(message_id: int) -> None:
        try:
            send(app, "mailroom.route_message", message_id)
        except OperationalError as exc:
            log.warning("could not queue message %d (the sweep will): %s", message_id, exc)

    return enqueue


def _install_watchers(app: Celery, runtime: Runtime) -> None:
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def on_ready(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is not app:
            return
        from worker.watchers import (
            ImapWatcher,
            MaildirWatcher,
            configured_mailboxes,
            register_mailboxes,
            warm_up_parser,
        )

        settings = runtime.settings
        try:
            check_schema(runtime.engine)
            services = runtime.services()
            # Load the model now, so the first mail is not slowed down by it.
            services.predictor.warm_up()
            warm_up_parser()
            mailboxes = register_mailboxes(runtime.sessions, configured_mailboxes(settings))
        except MailroomError as exc:
            # Celery logs and swallows errors of signal handlers; a worker that cannot
            # watch its mailboxes must not look healthy: a warm shutdown with a failing exit
            # status (the flag Celery's own SIGTERM handler sets, with EX_FAILURE).
            log.critical("mailroom worker cannot start: %s", exc)
            from celery.platforms import EX_FAILURE
            from celery.worker import state

            state.should_stop = EX_FAILURE
            return
        enqueue = enqueue_route(app)
        for mailbox_id, config in mailboxes.items():
            watcher: ImapWatcher | MaildirWatcher
            if config.kind == "imap":
                watcher = ImapWatcher(settings, runtime.sessions, mailbox_id, config, enqueue)
            else:
                watcher = MaildirWatcher(settings, runtime.sessions, mailbox_id, config, enqueue)
            thread = threading.Thread(
                target=watcher.run, args=(stop,), name=f"watch-{mailbox_id}", daemon=True
            )
            thread.start()
            threads.append(thread)
        log.info("mailroom worker ready: watching %d mailbox(es)", len(threads))

    def on_shutdown(**_: Any) -> None:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        runtime.dispose()

    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_shutdown.connect(on_shutdown, weak=False)
