"""The Celery app from the settings: reliability settings, and queueing on the embedded
broker (kombu's SQLAlchemy transport on SQLite) in-process, with warnings as errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.settings import load_settings
from worker.celery import make_celery, prepare_broker
from worker.enqueue import EMBEDDED_POLLING_SECONDS, forward, queue_names, route_quietly


def test_the_app_is_built_for_reliability(tmp_path: Path) -> None:
    settings = load_settings({}, instance_path=tmp_path, broker_url="redis://127.0.0.1:6379/9")
    conf = make_celery(settings).conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1 and conf.task_ignore_result is True
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options == {"visibility_timeout": 900.0}
    assert conf.beat_schedule["mailroom-sweep"]["task"] == "mailroom.sweep"
    assert conf.beat_schedule["mailroom-retrain"]["task"] == "mailroom.retrain_if_due"
    assert conf.beat_schedule["mailroom-retention"]["task"] == "mailroom.expire_raw"


def test_queueing_on_the_embedded_broker(tmp_path: Path) -> None:
    settings = load_settings({}, instance_path=tmp_path)
    app = make_celery(settings)
    assert app.conf.broker_url.startswith("sqla+sqlite:///")
    assert app.conf.broker_transport_options == {}  # create_engine() would refuse others
    prepare_broker(app)
    with app.connection_for_read() as connection:
        # A worker whose threads are all busy looks again soon, not after kombu's second.
        assert connection.transport.polling_interval == EMBEDDED_POLLING_SECONDS < 1.0
    prepare_broker(app)  # a second worker starting finds the queue
    forward(app, 7)
    route_quietly(app)(8)
    got = []
    with app.connection_for_read() as connection:
        # Each task on its own queue, so routing and forwarding can run on other hosts.
        for name in ("mailroom.forward", "mailroom.route"):
            queue = connection.SimpleQueue(name)
            message = queue.get(timeout=5)
            got.append((name, message.headers["task"], message.payload[0]))
            message.ack()
            queue.close()
    assert got == [
        ("mailroom.forward", "mailroom.forward_message", [7]),
        ("mailroom.route", "mailroom.route_message", [8]),
    ]


def test_each_kind_of_work_has_its_queue(tmp_path: Path) -> None:
    conf = make_celery(load_settings({}, instance_path=tmp_path)).conf
    assert [q.name for q in conf.task_queues] == [
        "mailroom.watch",
        "mailroom.route",
        "mailroom.forward",
    ]
    routes = {task: route["queue"] for task, route in conf.task_routes.items()}
    assert routes == {
        "mailroom.route_message": "mailroom.route",
        "mailroom.forward_message": "mailroom.forward",
        "mailroom.sweep": "mailroom.watch",
        "mailroom.expire_raw": "mailroom.watch",
        "mailroom.retrain_if_due": "mailroom.watch",
    }
    assert queue_names("route, forward") == ["mailroom.route", "mailroom.forward"]
    with pytest.raises(ValueError, match="not a queue"):
        queue_names("routing")


def test_the_retrain_task_runs_when_due_and_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from email.message import EmailMessage

    from labeling.mail.values import RawMail
    from labeling.store.db import make_engine, make_session_factory, upgrade
    from labeling.store.ingest import ingest
    from labeling.store.tables import Annotation, Team, User
    from worker import leases, tasks
    from worker.retrain import RETRAIN_LEASE

    settings = load_settings({}, instance_path=tmp_path, retrain_min_new_labels=3)
    upgrade(settings)
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    with sessions() as session:
        user, team = (
            User(username="lisa", password_hash="x", role="labeler"),
            Team(slug="schade", name="Schade"),
        )
        session.add_all([user, team])
        session.flush()
        for n in range(3):
            msg = EmailMessage()
            msg["Subject"], msg["Message-ID"] = f"mail {n}", f"<retrain-{n}@example.nl>"
            msg.set_content("tekst")
            result = ingest(session, RawMail(msg.as_bytes(), "", str(n)))
            session.add(
                Annotation(
                    message_id=result.message_id, team_id=team.id, user_id=user.id, source="human"
                )
            )
        session.commit()
    runs: list[int] = []
    monkeypatch.setattr(tasks, "run_retrain", lambda s: runs.append(1) or 0)
    task = make_celery(settings).tasks["mailroom.retrain_if_due"]

    assert task.apply().get() == "retrained" and runs == [1]
    assert leases.acquire(sessions, RETRAIN_LEASE, "another-host:1", 60)
    assert task.apply().get() == "another worker is retraining" and runs == [1]

    fussy = load_settings({}, instance_path=tmp_path, retrain_min_new_labels=4)
    assert make_celery(fussy).tasks["mailroom.retrain_if_due"].apply().get() == "not due"
    engine.dispose()


def test_celerys_own_worker_command_prepares_the_embedded_broker_too(tmp_path: Path) -> None:
    from celery import signals
    from kombu.transport.sqlalchemy import Channel
    from sqlalchemy import create_engine, inspect, text

    settings = load_settings({}, instance_path=tmp_path)
    app = make_celery(settings)
    broker = create_engine(app.conf.broker_url.removeprefix("sqla+"))
    assert "kombu_queue" not in inspect(broker).get_table_names()
    # What `celery -A worker worker` sends before it starts its beat.
    worker = type("WorkController", (), {"app": app})()
    signals.worker_init.send(sender=worker)
    assert not Channel._engines  # the beat forked after this opens its own connections
    with broker.connect() as db:
        names = set(db.execute(text("SELECT name FROM kombu_queue")).scalars())
    broker.dispose()
    assert {"mailroom.watch", "mailroom.route", "mailroom.forward"} <= names
