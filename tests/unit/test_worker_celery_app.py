"""The Celery app from the settings: reliability settings, and queueing on the embedded
broker (kombu's SQLAlchemy transport on SQLite) in-process, with warnings as errors."""

from __future__ import annotations

from pathlib import Path

from labeling.settings import load_settings
from worker.celery_app import enqueue_forward, enqueue_route, make_celery, prepare_broker


def test_the_app_is_built_for_reliability(tmp_path: Path) -> None:
    settings = load_settings({}, instance_path=tmp_path, broker_url="redis://127.0.0.1:6379/9")
    conf = make_celery(settings).conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1 and conf.task_ignore_result is True
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.broker_transport_options == {"visibility_timeout": 900.0}
    assert conf.beat_schedule["mailroom-sweep"]["task"] == "mailroom.sweep"
    assert conf.beat_schedule["mailroom-retrain"]["task"] == "mailroom.retrain_if_due"


def test_queueing_on_the_embedded_broker(tmp_path: Path) -> None:
    settings = load_settings({}, instance_path=tmp_path)
    app = make_celery(settings)
    assert app.conf.broker_url.startswith("sqla+sqlite:///")
    assert app.conf.broker_transport_options == {}  # create_engine() would refuse others
    prepare_broker(app)
    prepare_broker(app)  # a second worker starting finds the queue
    enqueue_forward(app, 7)
    enqueue_route(app)(8)
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("celery")
        got = []
        for _ in range(2):
            message = queue.get(timeout=5)
            got.append((message.headers["task"], message.payload[0]))
            message.ack()
        queue.close()
    assert got == [("mailroom.forward_message", [7]), ("mailroom.route_message", [8])]
