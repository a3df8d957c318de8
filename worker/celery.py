"""The Celery app: the one module for it, and the one ``celery -A worker`` finds.

::

    app = make_celery(settings)              # tasks from worker.tasks, the beat schedule
    app = make_celery(settings, watch=True)  # …and, in a worker, the mailbox watchers

Reliability settings: a task is acknowledged only after it ran (``task_acks_late``) and
given back when its worker process dies (``task_reject_on_worker_lost``); each worker takes
one message at a time (``worker_prefetch_multiplier=1``); JSON only; no result backend.
Three queues (:data:`worker.enqueue.QUEUES`): ``mailroom.watch`` (the beat's tasks),
``mailroom.route`` (routing) and ``mailroom.forward`` (sending and marking done); a worker
consumes all three unless started with ``-Q`` / ``mailroom worker --queues``.
The beat schedule runs :func:`worker.tasks.sweep` every ``sweep_interval`` seconds,
:func:`worker.tasks.retrain_if_due` every ``retrain_interval`` seconds and
:func:`worker.tasks.expire_raw` (``MAILROOM_RETENTION_DAYS``) hourly. The embedded default
broker is kombu's SQLAlchemy transport on a SQLite file in the instance folder.

No app exists at import time. ``celery -A worker …`` (Celery looks in ``worker.celery``)
asks this module for ``app``; that first request builds it from the ``MAILROOM_*``
settings, with the watchers when ``MAILROOM_WORKER_WATCH`` says so.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Celery, signals

from labeling.errors import MailroomError
from labeling.settings import Settings, load_settings
from labeling.store.db import check_schema
from worker.enqueue import QUEUES, client, embedded_broker_quiet, route_quietly
from worker.runtime import Runtime

log = logging.getLogger(__name__)

# How often the beat expires raw mail past MAILROOM_RETENTION_DAYS (a cheap query when none).
RETENTION_CHECK_SECONDS = 3600.0

_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    """``app`` and ``celery``: the app built from the settings on first use (for Celery's
    own command line)."""
    global _app
    if name not in ("app", "celery"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        settings = load_settings()
        _app = make_celery(settings, watch=settings.worker_watch)
    return _app


def make_celery(settings: Settings, *, watch: bool = False) -> Celery:
    """A Celery app for ``settings``; with ``watch``, a worker started from it also watches
    the configured mailboxes (one watcher per mailbox across all workers, by lease)."""
    app = client(settings)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
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
            "mailroom-retention": {
                "task": "mailroom.expire_raw",
                "schedule": RETENTION_CHECK_SECONDS,
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


def prepare_broker(app: Celery, attempts: int = 5) -> None:
    """Declare the task queues once before worker and beat start.

    kombu's SQLAlchemy transport creates a queue's row on first use; a worker and its
    embedded beat starting together both insert it, and the loser dies on the unique
    constraint. Declaring it here first (retrying that same race with another process)
    leaves both to find the row.

    The transport keeps its SQLAlchemy engine in a class-level cache. Left there, the
    embedded beat — a process forked from this one — inherits the engine's open SQLite
    connections: its first publish works, and every later one finds its channel closed
    ("Couldn't apply scheduled task mailroom-sweep: channel disconnected"), so the sweep
    and the scheduled retrain never ran again. The engine is disposed of and forgotten
    here, so each process opens its own.
    """
    if not app.conf.broker_url.startswith("sqla+"):
        return
    from kombu import Queue
    from sqlalchemy.exc import IntegrityError

    for attempt in range(attempts):
        try:
            with embedded_broker_quiet(app), app.connection_for_write() as connection:
                for name in QUEUES:
                    Queue(name, channel=connection.default_channel).declare()
            return
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
        finally:
            _forget_broker_engines()


@signals.worker_init.connect
def _prepare_broker_at_worker_init(sender: object = None, **_: object) -> None:
    """``celery -A worker worker -B`` prepares the embedded broker as ``mailroom worker``
    does, before its beat forks (otherwise that beat's sweeps die after the first)."""
    app = getattr(sender, "app", None)
    if isinstance(app, Celery):
        prepare_broker(app)


def _forget_broker_engines() -> None:
    """Dispose of the SQLAlchemy transport's cached engines (see :func:`prepare_broker`)."""
    from kombu.transport.sqlalchemy import Channel

    engines: dict[Any, Any] = Channel._engines
    for engine, _session in list(engines.values()):
        engine.dispose()
    engines.clear()


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
        enqueue = route_quietly(app)
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
