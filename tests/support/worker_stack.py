"""The worker end to end on real servers (pytest plugin, see tests/conftest.py).

Fixtures:

``trained_models`` (session)
    A models folder with one active TF-IDF version trained on the three teams of
    :data:`mailroom.testbed.worker_stack.VOCAB`.
``make_stack`` (function)
    ``make_stack(dovecot=…, mailbox_port=…, broker_url=…, **settings)``: a
    :class:`~mailroom.testbed.worker_stack.Stack` on a fresh PostgreSQL database with the
    teams, a copy of the models, a recording SMTP server and the workers' environment;
    Redis database 11 is flushed for it. Its workers are stopped after the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from labeling.settings import load_settings
from labeling.store.db import make_engine, make_session_factory, upgrade
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.smtp_server import running_smtp
from mailroom.testbed.worker_stack import Stack, seed_teams, train_tiny_model, worker_env

REDIS_URL = "redis://127.0.0.1:6379/11"  # a database of its own, flushed per test


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with one active TF-IDF version trained on the three teams."""
    return train_tiny_model(tmp_path_factory.mktemp("models"))


@pytest.fixture
def make_stack(
    tmp_path: Path, postgres_url: str, trained_models: Path
) -> Iterator[Callable[..., Stack]]:
    """``make_stack(dovecot=…, broker_url=…, **settings)``: a fresh PostgreSQL database
    with teams, a models folder, an SMTP server and the workers' environment."""
    made: list[Stack] = []
    smtp_cm = running_smtp()
    smtp = smtp_cm.__enter__()

    def make(
        dovecot: DovecotServer | None = None,
        *,
        mailbox_port: int | None = None,
        broker_url: str = REDIS_URL,
        **overrides: Any,
    ) -> Stack:
        instance = tmp_path / "instance"
        shutil.copytree(trained_models, instance / "models")
        user = dovecot.add_user() if dovecot is not None else ""
        values: dict[str, Any] = {
            "instance_path": str(instance),
            "database_url": postgres_url,
            "broker_url": broker_url,
            "outgoing": "smtp",
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_from": "mailroom@polder.example",
            "sweep_interval": 2,
            "claim_timeout": 6,
            "lease_ttl": 4,
            "idle_timeout": 10,
            "poll_interval": 1,
            "retry_backoff_max": 2,
            "broker_visibility_timeout": 10,
            "worker_concurrency": 4,
        }
        if dovecot is not None:
            values["mailboxes"] = dovecot.url(user, "INBOX", port=mailbox_port)
        values.update(overrides)
        env = worker_env(values)
        settings = load_settings(env)
        upgrade(settings)
        engine = make_engine(settings)
        sessions = make_session_factory(engine)
        seed_teams(sessions)
        if broker_url == REDIS_URL:
            redis.Redis.from_url(REDIS_URL).flushdb()
        stack = Stack(tmp_path, settings, sessions, smtp, env, dovecot, user)
        made.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            stack.stop_all()
            stack.sessions.kw["bind"].dispose()
        smtp_cm.__exit__(None, None, None)
