"""`celery -A worker …` and `celery -A worker.celery …` find the Mailroom app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from celery import Celery
from celery.app.utils import find_app


@pytest.mark.parametrize("name", ["worker", "worker.celery"])
def test_celery_finds_the_app(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_INSTANCE_PATH", str(tmp_path))
    import worker

    # A fresh import reads this test's settings: forget any app an earlier import built.
    monkeypatch.delitem(sys.modules, "worker.celery", raising=False)
    monkeypatch.delattr(worker, "celery", raising=False)
    app = find_app(name)
    assert isinstance(app, Celery)
    assert str(tmp_path) in app.conf.broker_url


def test_a_worker_that_cannot_start_exits_with_a_failure(tmp_path: Path) -> None:
    """`celery -A worker worker` on a database without the schema: it says why and exits
    non-zero, so a supervisor sees the failure (no silent exit 0)."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    env.update(MAILROOM_INSTANCE_PATH=str(tmp_path), PYTHONPATH=str(root))
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert "mailroom worker cannot start" in output and "mailroom db upgrade" in output
    assert completed.returncode == 1, output
