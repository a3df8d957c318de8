"""`celery -A worker …` and `celery -A worker.app …` find the Mailroom app."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from celery import Celery
from celery.app.utils import find_app


@pytest.mark.parametrize("name", ["worker", "worker.app"])
def test_celery_finds_the_app(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_INSTANCE_PATH", str(tmp_path))
    import worker

    # A fresh import reads this test's settings: forget any app an earlier import built.
    for module in ("app", "celery"):
        monkeypatch.delitem(sys.modules, f"worker.{module}", raising=False)
        monkeypatch.delattr(worker, module, raising=False)
    app = find_app(name)
    assert isinstance(app, Celery)
    assert str(tmp_path) in app.conf.broker_url
