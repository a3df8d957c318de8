"""Files only their owner reads: the database (and its WAL), the embedded broker, the
secret key and exports are 0600, the instance folder 0700, whatever the umask.
(Model versions: tests/unit/test_registry_scoring.py.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from labeling.annotation.export import Example, write_examples
from labeling.settings import load_settings
from labeling.store.db import make_engine, upgrade
from web.security import secret_key
from worker import enqueue


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_database_broker_key_and_exports_are_owner_only(tmp_path: Path, open_umask: None) -> None:
    instance = tmp_path / "instance"
    settings = load_settings({}, instance_path=instance)
    upgrade(settings)
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO teams (slug, name, description, "
                    "forward_address, imap_folder, created_at) VALUES "
                    "('x', 'X', '', '', '', CURRENT_TIMESTAMP)"
                )
            )
        database = instance / "mailroom.sqlite3"
        wal = instance / "mailroom.sqlite3-wal"
        assert wal.exists()  # written through the WAL
        assert _mode(database) == 0o600 and _mode(wal) == 0o600
    finally:
        engine.dispose()
    assert _mode(instance) == 0o700

    secret_key(settings)
    assert _mode(instance / "secret_key") == 0o600

    app = enqueue.client(settings)
    broker = instance / "broker.sqlite3"
    assert _mode(broker) == 0o600
    app.close()

    out = tmp_path / "export.jsonl"
    write_examples([Example(1, "Vraag over mijn polis", "schade", ("human",), "nl")], out)
    assert _mode(out) == 0o600


def test_an_existing_database_is_tightened(tmp_path: Path, open_umask: None) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "mailroom.sqlite3"
    database.touch(mode=0o644)
    database.chmod(0o644)
    make_engine(load_settings({}, instance_path=instance)).dispose()
    assert _mode(database) == 0o600
