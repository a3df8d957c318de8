"""The same flow on the embedded default: SQLite database, kombu's SQLAlchemy broker on
SQLite, a Maildir inbox in and per-team Maildir folders out — no server at all — started
with ``mailroom worker`` and stopped with SIGTERM."""

from __future__ import annotations

import email
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from labeling.settings import load_settings
from labeling.store.db import make_engine, make_session_factory, upgrade
from labeling.store.tables import Message, ReviewItem
from mailroom.testbed.worker_stack import (
    ROOT,
    VOCAB,
    seed_teams,
    team_mail,
    unsure_mail,
    worker_env,
)
from tests.support.processes import Spawn

pytestmark = pytest.mark.slow


def test_the_embedded_default_routes_a_maildir_inbox_into_team_maildirs(
    tmp_path: Path, trained_models: Path, spawn: Spawn
) -> None:
    instance = tmp_path / "instance"
    shutil.copytree(trained_models, instance / "models")
    env = worker_env(
        {
            "instance_path": instance,
            "sweep_interval": 2,
            "poll_interval": 0.5,
            "claim_timeout": 6,
            "lease_ttl": 4,
        }
    )
    settings = load_settings(env)
    assert settings.celery_broker_url.startswith("sqla+sqlite:///")
    assert (settings.outgoing, settings.mailboxes) == ("maildir", [])
    upgrade(settings)
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    seed_teams(sessions)
    inbox = settings.maildir_inbox
    for sub in ("tmp", "new", "cur"):
        (inbox / sub).mkdir(parents=True)
    expected: dict[str, str] = {}
    for n in range(2):
        for team in VOCAB:
            message_id, raw = team_mail(team, n, tag="local")
            (inbox / "new" / f"{team}-{n}.eml").write_bytes(raw)
            expected[message_id] = team
    _, raw = unsure_mail(7)
    (inbox / "new" / "unsure.eml").write_bytes(raw)

    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = spawn(
            [sys.executable, "-m", "mailroom", "worker", "-n", "embedded@%h"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    done = instance / "mail" / "inbox" / ".Mailroom.Done" / "cur"
    while time.monotonic() < deadline:
        if done.is_dir() and len(list(done.iterdir())) == len(expected):
            break
        assert worker.poll() is None, log.read_text()
        time.sleep(0.5)
    else:
        raise AssertionError(f"not all mail routed:\n{log.read_text()[-5000:]}")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, log.read_text()[-3000:]

    copies: Counter[tuple[str, str]] = Counter()
    for team in VOCAB:
        for path in (settings.maildir_outbox / team / "new").iterdir():
            forward = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            assert forward["X-Mailroom-Team"] == team
            assert forward["X-Mailroom-Model-Version"] == "v0001"
            copies[(str(forward["X-Mailroom-Original-Message-ID"]), team)] += 1
    forwarded = sum(1 for mid, team in expected.items() if copies[(mid, team)] == 1)
    lost = sum(1 for mid, team in expected.items() if copies[(mid, team)] == 0)
    duplicated = sum(copies.values()) - forwarded
    print(f"sent {len(expected)}, forwarded {forwarded}, lost {lost}, duplicated {duplicated}")
    assert (forwarded, lost, duplicated) == (len(expected), 0, 0)
    assert list((inbox / "new").iterdir()) == [] and list((inbox / "cur").iterdir()) == []
    assert [p.name for p in (inbox / ".Mailroom.Review" / "cur").iterdir()] == ["unsure.eml"]
    with sessions() as session:
        states = dict(
            session.execute(
                select(Message.route_state, func.count()).group_by(Message.route_state)
            ).all()
        )
        assert states == {"done": len(expected), "review": 1}
        assert session.scalar(select(func.count()).select_from(ReviewItem)) == 1
    engine.dispose()
    assert "Warm shutdown" in log.read_text()


def test_the_embedded_beat_keeps_sweeping(tmp_path: Path, spawn: Spawn) -> None:
    # `mailroom worker` declares the broker's queue before Celery forks its embedded beat;
    # the beat used to inherit that SQLite engine, and every sweep after the first failed
    # with "channel disconnected" (issue 12): no sweep, no scheduled retrain.
    instance = tmp_path / "instance"
    env = worker_env({"instance_path": instance, "sweep_interval": 1, "retrain_interval": 2})
    upgrade(load_settings(env))
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = spawn(
            [sys.executable, "-m", "mailroom", "worker", "-n", "beat@%h"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    swept = 0
    while time.monotonic() < deadline and worker.poll() is None:
        text = log.read_text(errors="replace")
        swept = sum(
            1 for line in text.splitlines() if "mailroom.sweep[" in line and "succeeded" in line
        )
        if swept >= 6 or "Couldn't apply scheduled task" in text:
            break
        time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert "Couldn't apply scheduled task" not in text, text[-4000:]
    assert swept >= 6, text[-4000:]
    assert "mailroom.retrain_if_due" in text
