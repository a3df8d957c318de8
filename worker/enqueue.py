"""Queueing work for the worker by task name: what the web app and the mailbox watchers use.

Only Celery's client side is built here — a broker connection and ``send_task`` by name —
so a process that queues a forward (the web app) never imports the tasks, the worker's
runtime or a model. :func:`client` builds one for the settings; :func:`forward` raises when
the broker is down (the review page says so, and the sweep forwards the mail later);
:func:`route_quietly` logs instead (the mail is recorded; the sweep queues it).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from labeling.files import make_private_dir, private_sqlite_file
from labeling.settings import Settings

log = logging.getLogger(__name__)

ROUTE_TASK = "mailroom.route_message"
FORWARD_TASK = "mailroom.forward_message"

# Three queues, so each kind of work can run on hosts of its own (docs/deploy.md):
# watching and housekeeping (the beat's sweep, retention, retrain), routing (the model:
# CPU and memory) and forwarding (SMTP and IMAP: waiting on servers).
WATCH_QUEUE = "mailroom.watch"
ROUTE_QUEUE = "mailroom.route"
FORWARD_QUEUE = "mailroom.forward"
QUEUES = (WATCH_QUEUE, ROUTE_QUEUE, FORWARD_QUEUE)
TASK_ROUTES = {
    ROUTE_TASK: {"queue": ROUTE_QUEUE},
    FORWARD_TASK: {"queue": FORWARD_QUEUE},
    "mailroom.sweep": {"queue": WATCH_QUEUE},
    "mailroom.expire_raw": {"queue": WATCH_QUEUE},
    "mailroom.retrain_if_due": {"queue": WATCH_QUEUE},
}
# How often a worker on the embedded broker looks for work when it finds none, or when all
# its threads are busy (one message per thread: worker_prefetch_multiplier=1). kombu's
# default, one second, capped a four-thread worker at about four mails a second whatever
# the machine could do: the demo's 300 mails took two minutes with the threads idle 90 % of
# the time. Idle, each look is one small SQLite transaction per queue.
EMBEDDED_POLLING_SECONDS = 0.2


def broker_options(settings: Settings) -> dict[str, Any]:
    """The broker settings every Mailroom Celery app shares (client and worker alike)."""
    # Redis hands a task taken by a dead worker to another after visibility_timeout; the
    # SQLAlchemy transport passes its options to create_engine, which knows no such thing.
    transport: dict[str, Any] = {}
    if settings.celery_broker_url.startswith(("redis://", "rediss://")):
        transport = {"visibility_timeout": settings.broker_visibility_timeout}
    from kombu import Queue

    return {
        # Client and worker agree on where each task goes; a worker consumes all three
        # queues unless told otherwise (`mailroom worker --queues route,forward`).
        "task_queues": tuple(Queue(name) for name in QUEUES),
        "task_default_queue": ROUTE_QUEUE,
        "task_routes": TASK_ROUTES,
        "broker_url": settings.celery_broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
    }


def client(settings: Settings) -> Celery:
    """A Celery app that can only queue tasks by name (no tasks are imported)."""
    make_private_dir(settings.instance_path)
    if settings.celery_broker_url.startswith("sqla+sqlite:///"):
        # The embedded broker holds queued tasks (ids, addresses of mailboxes): owner only.
        private_sqlite_file(Path(settings.celery_broker_url.removeprefix("sqla+sqlite:///")))
    app = Celery("mailroom", set_as_current=False)
    app.conf.update(broker_options(settings))
    if settings.celery_broker_url.startswith("sqla+"):
        _poll_embedded_broker_often()
    return app


def _poll_embedded_broker_often() -> None:
    """Set the SQLAlchemy transport's polling interval (:data:`EMBEDDED_POLLING_SECONDS`).
    Other virtual transports take it as the transport option ``polling_interval``; this one
    hands every transport option to ``sqlalchemy.create_engine``, which refuses it, so the
    transport's own class attribute (the documented default the option would override) is
    the only place. It concerns only processes that use the embedded broker."""
    from kombu.transport.sqlalchemy import Transport

    Transport.polling_interval = EMBEDDED_POLLING_SECONDS


@contextmanager
def embedded_broker_quiet(app: Celery) -> Iterator[None]:
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
    with embedded_broker_quiet(app):
        app.send_task(task, args=[message_id])


def queue_names(short: str) -> list[str]:
    """``watch,route,forward`` (any of them, comma separated) as queue names; ValueError
    for an unknown one."""
    names = []
    for part in short.split(","):
        part = part.strip().removeprefix("mailroom.")
        if not part:
            continue
        name = f"mailroom.{part}"
        if name not in QUEUES:
            raise ValueError(f"{part!r} is not a queue; choose from watch, route, forward")
        names.append(name)
    return names


def forward(app: Celery, message_id: int) -> None:
    """Queue the forward of a mail a person decided. Raises kombu's OperationalError when
    the broker is down: the page should say so; the periodic sweep forwards it later."""
    send(app, FORWARD_TASK, message_id)


def route_quietly(app: Celery) -> Callable[[int], None]:
    """A function that queues the routing of a message id, logging (not raising) when the
    broker is unreachable: the mail is recorded, and the sweep queues it once the broker is
    back."""

    def enqueue(message_id: int) -> None:
        try:
            send(app, ROUTE_TASK, message_id)
        except OperationalError as exc:
            log.warning("could not queue message %d (the sweep will): %s", message_id, exc)

    return enqueue
